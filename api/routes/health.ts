import { z } from 'zod';
import { endpoint, publicAccess } from '../endpoint';
import type { Endpoint } from '../endpoint';
import type { Logger } from '../../runtime/logger';

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

export const healthSchema = z
  .object({
    status: z.enum(['ok', 'degraded']),
    checks: z.object({ database: checkSchema, session_store: checkSchema, temporal: checkSchema }),
  })
  .meta({ id: 'Health' });

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

export function healthEndpoints(probes: readonly HealthProbe[], logger: Logger): Endpoint[] {
  return [
    endpoint({
      operationId: 'getHealth',
      method: 'get',
      path: '/health',
      summary: 'Health of the database, the session store and Temporal',
      tags: ['Telemetry'],
      access: publicAccess,
      responses: {
        200: { description: 'Every dependency answers', schema: healthSchema },
        503: { description: 'At least one dependency is failing', schema: healthSchema },
      },
      async handle() {
        const results = await Promise.all(
          probes.map(async (probe) => [probe.name, await runProbe(probe, logger)] as const),
        );
        const checks = Object.fromEntries(results) as z.infer<typeof healthSchema>['checks'];
        const healthy = results.every(([, result]) => result.status === 'ok');
        return { status: healthy ? 200 : 503, body: { status: healthy ? 'ok' : 'degraded', checks } };
      },
    }),
  ];
}
