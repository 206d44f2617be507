import { and, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import type { Database } from '../client';
import { tenants } from '../schema';
import type { LookupCache } from '../lookup-cache';

export type TenantRow = typeof tenants.$inferSelect;

/** A change the start-up synchronisation made, for the tenant's audit trail. */
export interface DirectoryLinkChange {
  readonly tenantId: string;
  readonly entraTenantId: string;
  readonly change: 'linked' | 'unlinked';
}

// Any constant works: every EUCORA process synchronising the same database takes the same lock.
const DIRECTORY_SYNC_LOCK_KEY = 7_261_530_915;

/**
 * The tenants and the Entra ID directory that signs in to each. Not tenant-scoped on purpose: sign-in
 * reads it to learn the tenant from a token's `tid`.
 */
export class TenantDirectory {
  /** `byDirectory`: found tenants by Entra tenant id; a bearer-token request reads it every time. */
  constructor(
    private readonly db: Database,
    private readonly byDirectory?: LookupCache<TenantRow>,
  ) {}

  async findByEntraTenantId(entraTenantId: string): Promise<TenantRow | undefined> {
    const key = entraTenantId.toLowerCase();
    const cached = this.byDirectory?.get(key);
    if (cached !== undefined) return cached;
    const [row] = await this.db.select().from(tenants).where(eq(tenants.entraTenantId, key));
    if (row !== undefined) this.byDirectory?.set(key, row);
    return row;
  }

  async list(): Promise<TenantRow[]> {
    return this.db.select().from(tenants).orderBy(tenants.id);
  }

  /**
   * Makes the directory links exactly `links` (configuration is the source), creating tenants as needed
   * and unlinking directories that configuration no longer names; `ensure` tenants get a row without a
   * link. Several processes may start at once: one synchronises at a time. Returns what changed.
   */
  async synchronise(
    links: readonly { readonly tenantId: string; readonly entraTenantId: string }[],
    ensure: readonly string[],
    at: Date,
  ): Promise<DirectoryLinkChange[]> {
    // Links change here only: forget them before and after, so no read during the change stays cached.
    this.byDirectory?.clear();
    try {
      return await this.synchroniseLinks(links, ensure, at);
    } finally {
      this.byDirectory?.clear();
    }
  }

  private async synchroniseLinks(
    links: readonly { readonly tenantId: string; readonly entraTenantId: string }[],
    ensure: readonly string[],
    at: Date,
  ): Promise<DirectoryLinkChange[]> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${DIRECTORY_SYNC_LOCK_KEY})`);
      const wanted = new Map(links.map((link) => [link.tenantId, link.entraTenantId.toLowerCase()]));
      const linked = await tx.select().from(tenants).where(isNotNull(tenants.entraTenantId));
      const changes: DirectoryLinkChange[] = [];
      const stale = linked.filter((row) => wanted.get(row.id) !== row.entraTenantId);
      if (stale.length > 0) {
        await tx
          .update(tenants)
          .set({ entraTenantId: null, updatedAt: at })
          .where(
            and(
              inArray(
                tenants.id,
                stale.map((row) => row.id),
              ),
            ),
          );
        for (const row of stale) {
          changes.push({ tenantId: row.id, entraTenantId: row.entraTenantId ?? '', change: 'unlinked' });
        }
      }
      const current = new Map(linked.map((row) => [row.id, row.entraTenantId]));
      for (const [tenantId, entraTenantId] of wanted) {
        if (current.get(tenantId) === entraTenantId) continue;
        await tx
          .insert(tenants)
          .values({ id: tenantId, entraTenantId, updatedAt: at })
          .onConflictDoUpdate({ target: tenants.id, set: { entraTenantId, updatedAt: at } });
        changes.push({ tenantId, entraTenantId, change: 'linked' });
      }
      for (const tenantId of ensure) {
        await tx.insert(tenants).values({ id: tenantId }).onConflictDoNothing();
      }
      return changes;
    });
  }
}
