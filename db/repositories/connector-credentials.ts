import { and, asc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { DatabaseExecutor } from '../client';
import { CREDENTIAL_CHANGES_CHANNEL } from '../credential-cache';
import type { CredentialCache } from '../credential-cache';
import type { TenantId } from '../tenant-id';
import { connectorCredentials } from '../schema';
import type { CredentialScope } from '../schema';

export type ConnectorCredentialRow = typeof connectorCredentials.$inferSelect;

/** `last_used_at` is kept to the minute: a connector polling every few seconds writes once a minute. */
const LAST_USED_RESOLUTION_MS = 60_000;

export class ConnectorCredentialRepository {
  /** Credentials revoked through this repository's transaction: forgotten by the cache after it ends. */
  readonly revoked: string[] = [];

  constructor(
    private readonly db: DatabaseExecutor,
    private readonly tenantId: TenantId,
    private readonly cache?: CredentialCache,
    private readonly inTransaction = false,
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
    if (row !== undefined) {
      // Every API process that keeps verified keys in memory hears it when this commits.
      await this.db.execute(sql`select pg_notify(${CREDENTIAL_CHANGES_CHANNEL}, ${row.id})`);
      if (this.inTransaction) this.revoked.push(row.id);
      else this.cache?.forget(row.id);
    }
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
    this.cache?.noteUse(id, at);
  }
}
