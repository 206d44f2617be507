import { and, desc, eq, not, exists } from 'drizzle-orm';
import type { DatabaseExecutor } from '../client';
import type { TenantId } from '../tenant-id';
import { riskModels } from '../schema';
import type { RiskModelDefinition } from '../../policy/risk-model';
import type { LookupCache } from '../lookup-cache';

export type RiskModelRow = typeof riskModels.$inferSelect;

export class RiskModelRepository {
  /** Set once this repository activated a model: its transaction's commit must invalidate the cache again. */
  activated = false;

  /**
   * `activeModels`: the process's cache of each tenant's active model, shared by every repository outside
   * a transaction; inside one (`inTransaction`) reads go to the database and an activation invalidates it.
   */
  constructor(
    private readonly db: DatabaseExecutor,
    private readonly tenantId: TenantId,
    private readonly activeModels?: LookupCache<RiskModelRow>,
    private readonly inTransaction = false,
  ) {}

  async list(): Promise<RiskModelRow[]> {
    return this.db
      .select()
      .from(riskModels)
      .where(eq(riskModels.tenantId, this.tenantId))
      .orderBy(desc(riskModels.createdAt), desc(riskModels.version));
  }

  async get(version: string): Promise<RiskModelRow | undefined> {
    const [row] = await this.db
      .select()
      .from(riskModels)
      .where(and(eq(riskModels.tenantId, this.tenantId), eq(riskModels.version, version)));
    return row;
  }

  async active(): Promise<RiskModelRow | undefined> {
    const cached = this.inTransaction ? undefined : this.activeModels?.get(this.tenantId);
    if (cached !== undefined) return cached;
    const [row] = await this.db
      .select()
      .from(riskModels)
      .where(and(eq(riskModels.tenantId, this.tenantId), eq(riskModels.active, true)));
    if (row !== undefined && !this.inTransaction) this.activeModels?.set(this.tenantId, row);
    return row;
  }

  /** Forgets the cached active model (after an activation commits; TenantStore.transaction calls it). */
  forgetActive(): void {
    this.activeModels?.invalidate(this.tenantId);
  }

  /** Inserts a new version; undefined when that version already exists (versions are immutable). */
  async create(definition: RiskModelDefinition, createdBy: string): Promise<RiskModelRow | undefined> {
    const [row] = await this.db
      .insert(riskModels)
      .values({ tenantId: this.tenantId, version: definition.version, definition, createdBy })
      .onConflictDoNothing({ target: [riskModels.tenantId, riskModels.version] })
      .returning();
    return row;
  }

  /**
   * Locks every model of the tenant until the transaction ends, so concurrent activations take turns
   * instead of colliding on the one-active index; returns the active model as of the lock.
   */
  async lockForActivation(): Promise<RiskModelRow | undefined> {
    const rows = await this.db
      .select()
      .from(riskModels)
      .where(eq(riskModels.tenantId, this.tenantId))
      .for('update');
    return rows.find((row) => row.active);
  }

  /** Makes `version` the only active model. Run inside a transaction: the partial unique index allows one. */
  async activate(version: string, at: Date): Promise<RiskModelRow | undefined> {
    this.activated = true;
    this.forgetActive();
    await this.db
      .update(riskModels)
      .set({ active: false })
      .where(and(eq(riskModels.tenantId, this.tenantId), eq(riskModels.active, true)));
    const [row] = await this.db
      .update(riskModels)
      .set({ active: true, activatedAt: at })
      .where(and(eq(riskModels.tenantId, this.tenantId), eq(riskModels.version, version)))
      .returning();
    return row;
  }

  /**
   * The active model; a tenant that has none gets `fallback` installed and activated first. Safe to race:
   * the partial unique index admits one active row and the conditional update activates only when none is.
   */
  async activeOrInstall(fallback: RiskModelDefinition, at: Date): Promise<RiskModelRow> {
    const current = await this.active();
    if (current !== undefined) return current;
    await this.create(fallback, 'system:bootstrap');
    const others = this.db
      .select({ id: riskModels.id })
      .from(riskModels)
      .where(and(eq(riskModels.tenantId, this.tenantId), eq(riskModels.active, true)));
    this.forgetActive();
    try {
      await this.db
        .update(riskModels)
        .set({ active: true, activatedAt: at })
        .where(
          and(
            eq(riskModels.tenantId, this.tenantId),
            eq(riskModels.version, fallback.version),
            not(exists(others)),
          ),
        );
    } catch {
      // Another process activated a model at the same moment: read whichever won.
    }
    const installed = await this.active();
    if (installed === undefined) throw new Error('no active risk model after installing the default');
    return installed;
  }
}
