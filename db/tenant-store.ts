import { and, asc, count, eq, gt, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import { SiemOutboxRepository } from './repositories/siem-outbox';
import type { SQL } from 'drizzle-orm';
import type { Database, DatabaseExecutor } from './client';
import {
  connectorCredentials,
  deploymentEvents,
  deploymentIntents,
  idempotencyKeys,
  ringDeployments,
} from './schema';
import type { RingDeploymentKind, RingDeploymentOutcome } from './schema';
import type { TenantId } from './tenant-id';
import type { ListenFunction } from './client';
import { CabApprovalRepository } from './repositories/cab-approvals';
import { ConnectorCredentialRepository } from './repositories/connector-credentials';
import { DeploymentEventRepository } from './repositories/deployment-events';
import { DeploymentIntentRepository } from './repositories/deployment-intents';
import { EvidencePackRepository } from './repositories/evidence-packs';
import { IdempotencyKeyRepository } from './repositories/idempotency-keys';
import { RingDeploymentRepository } from './repositories/ring-deployments';
import { RiskAssessmentRepository } from './repositories/risk-assessments';
import { RiskModelRepository } from './repositories/risk-models';
import { TenantDirectory } from './repositories/tenants';
import { UserRepository } from './repositories/users';
import type { RiskModelRow } from './repositories/risk-models';
import { DEFAULT_LOOKUP_CACHE_TTL_MS, LookupCache } from './lookup-cache';
import { CREDENTIAL_CHANGES_CHANNEL, CredentialCache } from './credential-cache';
import { PENDING_WORK_CHANNEL, PendingWorkSignals } from './pending-work-signals';
import type { DeploymentIntentRow } from './repositories/deployment-intents';
import { INTENT_STATUSES, isTerminal } from '../policy/intent-status';
import type { IntentStatus } from '../policy/intent-status';
import type { Ring } from '../policy/rings';

/** Spelled out rather than `not in` terminal, so the status index serves the reconciler's sweep. */
const UNFINISHED_STATUSES = INTENT_STATUSES.filter((status) => !isTerminal(status));

/** Row counts for the metrics scrape: numbers by category, never row data. */
export interface RolloutCounts {
  readonly intentsByStatus: readonly { readonly status: IntentStatus; readonly count: number }[];
  readonly ringDeployments: readonly {
    readonly ring: Ring;
    readonly kind: RingDeploymentKind;
    /** Null while the connector has not settled the ring. */
    readonly outcome: RingDeploymentOutcome | null;
    readonly count: number;
  }[];
}

/**
 * Every repository of one tenant. There is no way to reach a domain table through this layer without
 * naming a tenant: each query the repositories build carries `tenant_id = $tenant`.
 */
export class TenantStore {
  readonly intents: DeploymentIntentRepository;
  readonly evidencePacks: EvidencePackRepository;
  readonly riskModels: RiskModelRepository;
  readonly riskAssessments: RiskAssessmentRepository;
  readonly cabApprovals: CabApprovalRepository;
  readonly ringDeployments: RingDeploymentRepository;
  readonly events: DeploymentEventRepository;
  readonly users: UserRepository;
  readonly connectorCredentials: ConnectorCredentialRepository;
  readonly idempotencyKeys: IdempotencyKeyRepository;

  constructor(
    private readonly executor: DatabaseExecutor,
    readonly tenantId: TenantId,
    private readonly siemOutbox = false,
    private readonly activeModels?: LookupCache<RiskModelRow>,
    inTransaction = false,
    private readonly credentials?: CredentialCache,
  ) {
    this.intents = new DeploymentIntentRepository(executor, tenantId);
    this.evidencePacks = new EvidencePackRepository(executor, tenantId);
    this.riskModels = new RiskModelRepository(executor, tenantId, activeModels, inTransaction);
    this.riskAssessments = new RiskAssessmentRepository(executor, tenantId);
    this.cabApprovals = new CabApprovalRepository(executor, tenantId);
    this.ringDeployments = new RingDeploymentRepository(executor, tenantId);
    this.events = new DeploymentEventRepository(executor, tenantId, siemOutbox);
    this.users = new UserRepository(executor, tenantId);
    this.connectorCredentials = new ConnectorCredentialRepository(
      executor,
      tenantId,
      credentials,
      inTransaction,
    );
    this.idempotencyKeys = new IdempotencyKeyRepository(executor, tenantId);
  }

  /** Runs `work` in one transaction; every repository it receives writes through that transaction. */
  async transaction<T>(work: (store: TenantStore) => Promise<T>): Promise<T> {
    let inner: TenantStore | undefined;
    try {
      return await this.executor.transaction((tx) => {
        inner = new TenantStore(
          tx,
          this.tenantId,
          this.siemOutbox,
          this.activeModels,
          true,
          this.credentials,
        );
        return work(inner);
      });
    } finally {
      // Again after the commit (or rollback): a read between the activation and the commit may have
      // cached the model that was active until then.
      if (inner?.riskModels.activated === true) this.riskModels.forgetActive();
      // After the commit, before the caller answers: the revoked key is read from the database again.
      for (const id of inner?.connectorCredentials.revoked ?? []) this.credentials?.forget(id);
    }
  }
}

export class DataStore {
  /** Tenants and their Entra ID directories: read before the tenant is known. */
  readonly tenants: TenantDirectory;
  /** The SIEM outbox across tenants: the worker's forwarder, the health check and the metrics read it. */
  readonly siemOutbox: SiemOutboxRepository;
  /** Long-polling connectors waiting for work; woken by announcements once `watchPendingWork` hears them. */
  readonly pendingWork: PendingWorkSignals;

  /** Each tenant's active risk model, read by every risk assessment and risk request. */
  private readonly activeModels: LookupCache<RiskModelRow>;
  /** Verified API keys; serves nothing until `watchCredentialChanges` hears revocations. */
  private readonly credentials: CredentialCache;

  /**
   * `options.siemOutbox`: a SIEM is configured; privileged audit events are queued for it as they are appended.
   * `options.lookupCacheTtlMs`: how long active risk models and directory links stay cached (0: not at all).
   */
  constructor(
    private readonly db: Database,
    private readonly options: {
      readonly siemOutbox?: boolean;
      readonly lookupCacheTtlMs?: number;
      /** How long a verified API key is kept at most (DEFAULT_CREDENTIAL_CACHE_TTL_MS when unset). */
      readonly credentialCacheTtlMs?: number;
      /** Long polls held at most (DEFAULT_MAX_PENDING_WORK_WAITERS when unset). */
      readonly maxPendingWorkWaiters?: number;
      /** How often a long poll reads the database while announcements do not arrive. */
      readonly pendingWorkRecheckMs?: number;
      readonly now?: () => number;
    } = {},
  ) {
    const ttlMs = options.lookupCacheTtlMs ?? DEFAULT_LOOKUP_CACHE_TTL_MS;
    this.activeModels = new LookupCache(ttlMs, options.now);
    this.credentials = new CredentialCache(options.credentialCacheTtlMs, options.now);
    this.tenants = new TenantDirectory(db, new LookupCache(ttlMs, options.now));
    this.siemOutbox = new SiemOutboxRepository(db);
    this.pendingWork = new PendingWorkSignals(options.maxPendingWorkWaiters, options.pendingWorkRecheckMs);
  }

  forTenant(tenantId: TenantId): TenantStore {
    return new TenantStore(
      this.db,
      tenantId,
      this.options.siemOutbox ?? false,
      this.activeModels,
      false,
      this.credentials,
    );
  }

  /**
   * Keeps verified API keys in memory for as long as revocations reach this process: `listen` (the
   * database handle's) subscribes to CREDENTIAL_CHANGES_CHANNEL and says when it is (and stops being)
   * subscribed. Only the API calls this; without it every key is looked up in the database.
   */
  async watchCredentialChanges(listen: ListenFunction): Promise<{ close(): Promise<void> }> {
    return listen(CREDENTIAL_CHANGES_CHANNEL, {
      notified: (credentialId) => {
        this.credentials.forget(credentialId);
      },
      subscribed: (listening) => {
        this.credentials.setListening(listening);
      },
    });
  }

  /**
   * Wakes long-polling connectors when new work of theirs is committed, in any process: `listen` (the
   * database handle's, the connection the credential cache listens on) subscribes to
   * PENDING_WORK_CHANNEL. Closing it answers every waiting poll at once and holds no new one.
   */
  async watchPendingWork(listen: ListenFunction): Promise<{ close(): Promise<void> }> {
    const subscription = await listen(PENDING_WORK_CHANNEL, {
      notified: (payload) => {
        this.pendingWork.announce(payload);
      },
      subscribed: (listening) => {
        this.pendingWork.setListening(listening);
      },
    });
    return {
      close: async () => {
        this.pendingWork.close();
        await subscription.close();
      },
    };
  }

  /**
   * Aggregates across two tables for the Prometheus scrape, computed when it asks: intents by status and
   * ring deployments by ring, kind and outcome. Counts only, grouped in the database; every query names
   * the tenant, so one tenant's scrape never counts another's rows.
   */
  async rolloutCounts(tenantId: TenantId): Promise<RolloutCounts> {
    const [intentsByStatus, rings] = await Promise.all([
      this.db
        .select({ status: deploymentIntents.status, count: count() })
        .from(deploymentIntents)
        .where(eq(deploymentIntents.tenantId, tenantId))
        .groupBy(deploymentIntents.status),
      this.db
        .select({
          ring: ringDeployments.ring,
          kind: ringDeployments.kind,
          outcome: ringDeployments.outcome,
          count: count(),
        })
        .from(ringDeployments)
        .where(eq(ringDeployments.tenantId, tenantId))
        .groupBy(ringDeployments.ring, ringDeployments.kind, ringDeployments.outcome),
    ]);
    return { intentsByStatus, ringDeployments: rings };
  }

  /** A tenant's audit events of these types, counted by type and actor: counters derived from the trail. */
  async eventCounts(
    tenantId: TenantId,
    eventTypes: readonly string[],
  ): Promise<{ eventType: string; actor: string; count: number }[]> {
    return this.db
      .select({ eventType: deploymentEvents.eventType, actor: deploymentEvents.actor, count: count() })
      .from(deploymentEvents)
      .where(
        and(eq(deploymentEvents.tenantId, tenantId), inArray(deploymentEvents.eventType, [...eventTypes])),
      )
      .groupBy(deploymentEvents.eventType, deploymentEvents.actor);
  }

  /**
   * For the reconciler, across tenants: SUBMITTED intents recorded before `cutoff` (a workflow should
   * have been started for each long ago), `limit` at a time in id order after `after`.
   */
  async staleSubmissions(cutoff: Date, limit: number, after?: string): Promise<DeploymentIntentRow[]> {
    return this.intentPage(
      [eq(deploymentIntents.status, 'SUBMITTED'), lt(deploymentIntents.createdAt, cutoff)],
      limit,
      after,
    );
  }

  /** For the reconciler, across tenants: unfinished intents whose row has not changed since `cutoff`. */
  async unsettledIntents(cutoff: Date, limit: number, after?: string): Promise<DeploymentIntentRow[]> {
    return this.intentPage(
      [inArray(deploymentIntents.status, UNFINISHED_STATUSES), lt(deploymentIntents.updatedAt, cutoff)],
      limit,
      after,
    );
  }

  /** For the reconciler, across tenants: the intents of these workflows. */
  async intentsOfWorkflows(workflowIds: readonly string[]): Promise<DeploymentIntentRow[]> {
    if (workflowIds.length === 0) return [];
    return this.db
      .select()
      .from(deploymentIntents)
      .where(inArray(deploymentIntents.workflowId, [...workflowIds]));
  }

  /** For the reconciler, across tenants: how many open (pending or in progress) ring rows each intent has. */
  async openRingCounts(intentIds: readonly string[]): Promise<Map<string, number>> {
    if (intentIds.length === 0) return new Map();
    const rows = await this.db
      .select({ intentId: ringDeployments.intentId, open: count() })
      .from(ringDeployments)
      .where(
        and(
          inArray(ringDeployments.intentId, [...intentIds]),
          inArray(ringDeployments.status, ['PENDING', 'IN_PROGRESS']),
        ),
      )
      .groupBy(ringDeployments.intentId);
    return new Map(rows.map((row) => [row.intentId, row.open]));
  }

  private async intentPage(conditions: SQL[], limit: number, after?: string): Promise<DeploymentIntentRow[]> {
    return this.db
      .select()
      .from(deploymentIntents)
      .where(and(...conditions, ...(after === undefined ? [] : [gt(deploymentIntents.id, after)])))
      .orderBy(asc(deploymentIntents.id))
      .limit(limit);
  }

  /** Forgets up to `limit` Idempotency-Keys of any tenant whose time to live ran out; returns how many. */
  async purgeExpiredIdempotencyKeys(limit: number): Promise<number> {
    const expired = this.db
      .select({ tenantId: idempotencyKeys.tenantId, key: idempotencyKeys.key })
      .from(idempotencyKeys)
      .where(lte(idempotencyKeys.expiresAt, sql`now()`))
      .limit(limit);
    const purged = await this.db
      .delete(idempotencyKeys)
      .where(sql`(${idempotencyKeys.tenantId}, ${idempotencyKeys.key}) in ${expired}`)
      .returning({ key: idempotencyKeys.key });
    return purged.length;
  }

  /**
   * The one lookup that precedes knowing the tenant: a connector presents an API key, and its hash
   * names the credential and so the tenant. Revoked keys, and keys past their expiry, are not found.
   */
  async findConnectorCredential(keyHash: string, at: Date = new Date()) {
    return this.credentials.find(keyHash, at, () => this.readConnectorCredential(keyHash, at));
  }

  private async readConnectorCredential(keyHash: string, at: Date) {
    const [row] = await this.db
      .select()
      .from(connectorCredentials)
      .where(
        and(
          eq(connectorCredentials.keyHash, keyHash),
          isNull(connectorCredentials.revokedAt),
          or(isNull(connectorCredentials.expiresAt), gt(connectorCredentials.expiresAt, at)),
        ),
      );
    return row;
  }
}
