import { and, asc, eq, isNull } from 'drizzle-orm';
import type { DatabaseExecutor } from '../client';
import type { TenantId } from '../tenant-id';
import { connectorCredentials } from '../schema';

export type ConnectorCredentialRow = typeof connectorCredentials.$inferSelect;

export class ConnectorCredentialRepository {
  constructor(
    private readonly db: DatabaseExecutor,
    private readonly tenantId: TenantId,
  ) {}

  async create(credential: { connectorType: string; name: string; keyHash: string; createdBy: string }) {
    const [row] = await this.db
      .insert(connectorCredentials)
      .values({ ...credential, tenantId: this.tenantId })
      .onConflictDoNothing()
      .returning();
    return row;
  }

  async list(): Promise<ConnectorCredentialRow[]> {
    return this.db
      .select()
      .from(connectorCredentials)
      .where(eq(connectorCredentials.tenantId, this.tenantId))
      .orderBy(asc(connectorCredentials.createdAt));
  }

  async revoke(id: string, at: Date): Promise<ConnectorCredentialRow | undefined> {
    const [row] = await this.db
      .update(connectorCredentials)
      .set({ revokedAt: at })
      .where(
        and(
          eq(connectorCredentials.tenantId, this.tenantId),
          eq(connectorCredentials.id, id),
          isNull(connectorCredentials.revokedAt),
        ),
      )
      .returning();
    return row;
  }
}
