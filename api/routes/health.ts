import { z } from 'zod';
import { endpoint, publicAccess } from '../endpoint';
import type { Endpoint } from '../endpoint';
import type { Logger } from '../../runtime/logger';
import type { SiemBacklog } from '../../db/repositories/siem-outbox';

export interface HealthProbe {
  readonly name: 'database' | 'session_store' | 'temporal';
  readonly kind: string;
  check(): Promise<void>;
}

const checkSchema = z.object({
  status: z.enum(['ok', 'failing']),
  kind: z.string(),
  latency_ms: z.number(),
});

const siemCheckSchema = z
  .object({
    status: z.enum(['ok', 'degraded', 'unknown']),
    backlog: z.number().int().nullable(),
    oldest_unsent_age_seconds: z.number().nullable(),
    last_send_failed: z.boolean().nullable(),
  })
  .meta({
    description:
      'Forwarding of privileged audit events to the SIEM (only when one is configured): degraded when the ' +
      'oldest unsent record is older than SIEM_DEGRADED_AFTER or the last send of one failed. A SIEM outage ' +
      'never makes the API unhealthy (the status stays 200).',
  });

export const healthSchema = z
  .object({
    status: z.enum(['ok', 'degraded']),
    checks: z.object({
      database: checkSchema,
      session_store: checkSchema,
      temporal: checkSchema,
      siem: siemCheckSchema.optional(),
    }),
  })
  .meta({ id: 'Health' });

/** The SIEM outbox as `/health` reports it; undefined when no SIEM is configured. */
export interface SiemHealth {
  readonly degradedAfterMs: number;
  backlog(): Promise<SiemBacklog>;
}

async function siemCheck(siem: SiemHealth, logger: Logger): Promise<z.infer<typeof siemCheckSchema>> {
  try {
    const backlog = await siem.backlog();
    const ageMs =
      backlog.oldestCreatedAt === null ? null : Math.max(Date.now() - backlog.oldestCreatedAt.getTime(), 0);
    const degraded = backlog.lastSendFailed || (ageMs !== null && ageMs > siem.degradedAfterMs);
    return {
      status: degraded ? 'degraded' : 'ok',
      backlog: backlog.records,
      oldest_unsent_age_seconds: ageMs === null ? null : Math.round(ageMs / 100) / 10,
      last_send_failed: backlog.lastSendFailed,
    };
  } catch (error) {
    // The database check says why; the SIEM's state is simply not known now.
    logger.warn({ err: error, dependency: 'siem' }, 'SIEM backlog not readable');
    return { status: 'unknown', backlog: null, oldest_unsent_age_seconds: null, last_send_failed: null };
  }
}

const PROBE_TIMEOUT_MS = 3_000;

/** Failures are logged, not returned: the endpoint is public and error texts can name internal hosts. */
async function runProbe(probe: HealthProbe, logger: Logger) {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe.check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`no answer in ${String(PROBE_TIMEOUT_MS)} ms`));
        }, PROBE_TIMEOUT_MS);
      }),
    ]);
    return { status: 'ok' as const, kind: probe.kind, latency_ms: Math.round(performance.now() - started) };
  } catch (error) {
    logger.warn({ err: error, dependency: probe.name }, 'health check failing');
    return {
      status: 'failing' as const,
      kind: probe.kind,
      latency_ms: Math.round(performance.now() - started),
    };
  } finally {
    clearTimeout(timer);
  }
}

export function healthEndpoints(
  probes: readonly HealthProbe[],
  logger: Logger,
  siem?: SiemHealth,
): Endpoint[] {
  return [
    endpoint({
      operationId: 'getHealth',
      method: 'get',
      path: '/health',
      summary: 'Health of the database, the session store and Temporal, and the SIEM backlog',
      tags: ['Telemetry'],
      access: publicAccess,
      responses: {
        200: {
          description: 'Every dependency answers (status degraded: the SIEM backlog is behind)',
          schema: healthSchema,
        },
        503: { description: 'At least one dependency is failing', schema: healthSchema },
      },
      async handle() {
        const [results, siemResult] = await Promise.all([
          Promise.all(probes.map(async (probe) => [probe.name, await runProbe(probe, logger)] as const)),
          siem === undefined ? undefined : siemCheck(siem, logger),
        ]);
        const checks = {
          ...(Object.fromEntries(results) as Pick<
            z.infer<typeof healthSchema>['checks'],
            HealthProbe['name']
          >),
          ...(siemResult === undefined ? {} : { siem: siemResult }),
        };
        const healthy = results.every(([, result]) => result.status === 'ok');
        const siemBehind = siemResult !== undefined && siemResult.status !== 'ok';
        return {
          status: healthy ? 200 : 503,
          body: { status: healthy && !siemBehind ? 'ok' : 'degraded', checks },
        };
      },
    }),
  ];
}
