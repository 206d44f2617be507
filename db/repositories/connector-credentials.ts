import { and, asc, eq, isNull, lt, or } from 'drizzle-orm';
import type { DatabaseExecutor } from '../client';
import type { TenantId } from '../tenant-id';
import { connectorCredentials } from '../schema';
import type { CredentialScope } from '../schema';

export type ConnectorCredentialRow = typeof connectorCredentials.$inferSelect;

/** `last_used_at` is kept to the minute: a connector polling every few seconds writes once a minute. */
const LAST_USED_RESOLUTION_MS = 60_000;

export class ConnectorCredentialRepository {
  constructor(
    private readonly db: DatabaseExecutor,
    private readonly tenantId: TenantId,
  ) {}

  async create(credential: {
    scope: CredentialScope;
    connectorType: string | null;
    name: string;
    keyHash: string;
    createdBy: string;
    expiresAt: Date | null;
  }) {
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

  /**
   * Notes that an active credential was used, at most once per resolution interval. The caller has just
   * read the row, so a recent stamp costs no statement at all on the request path.
   */
  async recordUse(credential: Pick<ConnectorCredentialRow, 'id' | 'lastUsedAt'>, at: Date): Promise<void> {
    const last = credential.lastUsedAt;
    if (last !== null && at.getTime() - last.getTime() < LAST_USED_RESOLUTION_MS) return;
    const id = credential.id;
    await this.db
      .update(connectorCredentials)
      .set({ lastUsedAt: at })
      .where(
        and(
          eq(connectorCredentials.tenantId, this.tenantId),
          eq(connectorCredentials.id, id),
          isNull(connectorCredentials.revokedAt),
          or(
            isNull(connectorCredentials.lastUsedAt),
            lt(connectorCredentials.lastUsedAt, new Date(at.getTime() - LAST_USED_RESOLUTION_MS)),
          ),
        ),
      );
  }
}
