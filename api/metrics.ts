import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Request, RequestHandler } from 'express';
import type { RingDeploymentKind, RingDeploymentOutcome } from '../db/schema';
import { INTENT_STATUSES } from '../policy/intent-status';
import { RINGS } from '../policy/rings';
import type { RolloutCounts } from '../db/tenant-store';
import type { SiemBacklog } from '../db/repositories/siem-outbox';
import {
  ORPHAN_RECOVERED,
  READ_MODEL_REPAIRED,
  RECONCILER_ACTOR,
  RING_WORK_RELEASED,
} from '../workflows/reconciliation';

/** What one tenant's scrape reads from the database, at the moment Prometheus asks. */
export interface TenantRolloutSnapshot {
  readonly counts: RolloutCounts;
  readonly cabQueueDepth: number;
  /** The tenant's repair events (ORPHAN_RECOVERED, READ_MODEL_REPAIRED, RING_WORK_RELEASED) by type and actor. */
  readonly repairs: readonly { readonly eventType: string; readonly actor: string; readonly count: number }[];
  /** The tenant's unsent SIEM records; undefined when no SIEM is configured (the SIEM gauges are left out). */
  readonly siemBacklog?: SiemBacklog | undefined;
}

/** The audit events that are repairs, as the counter names them, and who may have made each. */
export const REPAIR_EVENT_TYPES = [ORPHAN_RECOVERED, READ_MODEL_REPAIRED, RING_WORK_RELEASED] as const;
const REPAIR_SERIES = [
  { eventType: ORPHAN_RECOVERED, repair: 'orphan_recovered', by: 'reconciler' },
  { eventType: ORPHAN_RECOVERED, repair: 'orphan_recovered', by: 'retried_submission' },
  { eventType: READ_MODEL_REPAIRED, repair: 'read_model_repaired', by: 'reconciler' },
  { eventType: RING_WORK_RELEASED, repair: 'ring_work_released', by: 'reconciler' },
] as const;

const RING_KINDS: readonly RingDeploymentKind[] = ['DEPLOY', 'ROLLBACK'];
/** `PENDING` stands for a ring the connector has not settled yet (no outcome recorded). */
const RING_OUTCOMES: readonly (RingDeploymentOutcome | 'PENDING')[] = ['SUCCEEDED', 'FAILED', 'PENDING'];

/**
 * Prometheus metrics of this API process; `/api/v1/metrics` exposes them.
 *
 * The latency histogram is process-wide: its labels (method, route template, status) carry no tenant
 * data. The rollout gauges are per tenant, read for the caller's tenant at scrape time: users belong to
 * one tenant, and intent volumes, queue depths and even tenant names are another tenant's business.
 * They carry a constant `tenant` label so that one Prometheus scraping with a credential per tenant
 * keeps the series apart.
 */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly requestDuration = new Histogram({
    name: 'eucora_http_request_duration_seconds',
    help: 'HTTP request latency by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  /** `text/plain; version=0.0.4; charset=utf-8`, the Prometheus text exposition format. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Times every request; labels use the route template (`/api/v1/deployment-intents/:id`), never raw paths. */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const end = this.requestDuration.startTimer();
      let route = 'unmatched';
      onRouteMatched(req, (template) => {
        route = template;
      });
      res.once('finish', () => {
        end({ method: req.method, route, status: String(res.statusCode) });
      });
      next();
    };
  }

  /**
   * The text exposition of one tenant's scrape: the process registry plus gauges whose `collect()` reads
   * the tenant's counts (once per scrape, shared by the three gauges).
   */
  async exposition(tenant: string, read: () => Promise<TenantRolloutSnapshot>): Promise<string> {
    let snapshot: Promise<TenantRolloutSnapshot> | undefined;
    const current = () => (snapshot ??= read());
    const scrape = new Registry();

    new Gauge({
      name: 'eucora_intents',
      help: 'Deployment intents by status',
      labelNames: ['tenant', 'status'] as const,
      registers: [scrape],
      async collect() {
        const { counts } = await current();
        for (const status of INTENT_STATUSES) {
          const row = counts.intentsByStatus.find((entry) => entry.status === status);
          this.set({ tenant, status }, row?.count ?? 0);
        }
      },
    });
    new Gauge({
      name: 'eucora_cab_queue_depth',
      help: 'Deployment intents waiting for a CAB decision',
      labelNames: ['tenant'] as const,
      registers: [scrape],
      async collect() {
        this.set({ tenant }, (await current()).cabQueueDepth);
      },
    });
    new Gauge({
      name: 'eucora_ring_deployments',
      help: 'Ring deployments and rollbacks (one per ring and connector) by ring, kind and outcome',
      labelNames: ['tenant', 'ring', 'kind', 'outcome'] as const,
      registers: [scrape],
      async collect() {
        const { counts } = await current();
        for (const ring of RINGS) {
          for (const kind of RING_KINDS) {
            for (const outcome of RING_OUTCOMES) {
              const total = counts.ringDeployments
                .filter((e) => e.ring === ring && e.kind === kind && (e.outcome ?? 'PENDING') === outcome)
                .reduce((sum, e) => sum + e.count, 0);
              this.set({ tenant, ring, kind, outcome }, total);
            }
          }
        }
      },
    });

    // Counted from the append-only audit trail, not in the worker's memory: the repairs happen in the
    // worker, the scrape reaches the API; the trail is shared, durable and only grows, so the count is a
    // true counter that survives restarts and agrees across API replicas.
    new Counter({
      name: 'eucora_reconciler_repairs_total',
      help:
        'Repairs of intents, from the audit trail: orphan_recovered (a workflow started late for an intent ' +
        'recorded without one, by the reconciler or a retried submission), read_model_repaired (a row set ' +
        'to its workflow’s state by the reconciler)',
      labelNames: ['tenant', 'repair', 'by'] as const,
      registers: [scrape],
      async collect() {
        const { repairs } = await current();
        this.reset();
        for (const series of REPAIR_SERIES) {
          const total = repairs
            .filter(
              (entry) =>
                entry.eventType === series.eventType &&
                (entry.actor === RECONCILER_ACTOR) === (series.by === 'reconciler'),
            )
            .reduce((sum, entry) => sum + entry.count, 0);
          this.inc({ tenant, repair: series.repair, by: series.by }, total);
        }
      },
    });

    const siemRegistry = new Registry();
    if ((await current()).siemBacklog !== undefined) {
      const backlog = async (): Promise<SiemBacklog> => {
        const value = (await current()).siemBacklog;
        if (value === undefined) throw new Error('the SIEM backlog vanished from the snapshot');
        return value;
      };
      new Gauge({
        name: 'eucora_siem_backlog_records',
        help: 'Audit records (privileged events, chain anchors) queued for the SIEM and not yet accepted by it',
        labelNames: ['tenant'] as const,
        registers: [siemRegistry],
        async collect() {
          this.set({ tenant }, (await backlog()).records);
        },
      });
      new Gauge({
        name: 'eucora_siem_oldest_unsent_age_seconds',
        help: 'Age of the oldest audit record not yet accepted by the SIEM (0 when none waits)',
        labelNames: ['tenant'] as const,
        registers: [siemRegistry],
        async collect() {
          const oldest = (await backlog()).oldestCreatedAt;
          this.set({ tenant }, oldest === null ? 0 : Math.max(Date.now() - oldest.getTime(), 0) / 1000);
        },
      });
      new Gauge({
        name: 'eucora_siem_last_send_failed',
        help: '1 when the last send of a waiting record to the SIEM failed, else 0',
        labelNames: ['tenant'] as const,
        registers: [siemRegistry],
        async collect() {
          this.set({ tenant }, (await backlog()).lastSendFailed ? 1 : 0);
        },
      });
    }

    return Registry.merge([this.registry, scrape, siemRegistry]).metrics();
  }
}

/**
 * Calls `record` with the matched route's full template. Express sets `req.route` when a route matches,
 * while `req.baseUrl` still names its mount point; by the time an error response finishes, the router
 * has already restored `baseUrl`, so reading both on `finish` would drop the `/api/v1` prefix.
 */
function onRouteMatched(req: Request, record: (template: string) => void): void {
  let matched: unknown;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => matched,
    set: (route: unknown) => {
      matched = route;
      const path = (route as { path?: unknown } | undefined)?.path;
      if (typeof path === 'string') record(`${req.baseUrl}${path}`);
    },
  });
}
