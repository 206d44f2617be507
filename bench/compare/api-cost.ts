import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { reusableWorkflowBundle } from '../../runtime/deployment-worker';
import { createLogger } from '../../runtime/logger';
import { lowRiskEvidence } from '../../test/fixtures/evidence';
import { freePort } from '../../test/helpers/free-port';
import { startEphemeralTemporal } from '../../test/helpers/ephemeral-temporal';
import { ApiClient } from '../http-suite';
import { recreateDatabase } from './compare';
import { cpuMs, spawnNode } from './processes';

/**
 * `npx tsx bench/compare/api-cost.ts [rounds]`: the API process's own CPU per request, by kind, on the
 * compare benchmark's setup (API and worker as processes of their own, PostgreSQL at
 * BENCH_DATABASE_URL, dropped and created afresh). Twenty intents wait at LAB for an intune connector
 * (none runs), so a connector poll lists twenty items. Rounds alternate the kinds; each measures the
 * API's CPU (/proc) over a sequential batch and divides by the requests. Then an idle connector (sccm,
 * nothing open for it) for IDLE_SECONDS each way: polling every 20 ms without `wait`, and long polling
 * (`wait`, held until its wait ends): the API's CPU per idle second. Prints JSON; numbers only.
 */

const IDLE_SECONDS = 10;
const IDLE_POLL_MS = 20;

const TENANT = '00000000-0000-0000-0000-0000000000be';
const progress = (line: string) => process.stderr.write(`[api-cost] ${line}\n`);
const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : (sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN);
};

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? '5');
  const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/bench_api_cost';
  const logger = createLogger({ level: 'warn' });
  const stops: (() => Promise<void>)[] = [];
  try {
    await recreateDatabase(databaseUrl);
    const { server } = await startEphemeralTemporal('the API cost benchmark', logger);
    stops.push(() => server.stop());
    const bundle = (await reusableWorkflowBundle(mkdtempSync(path.join(os.tmpdir(), 'api-cost-')), logger))
      .codePath;
    const port = await freePort();
    const environment: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_TASK_QUEUE: 'eucora-api-cost',
      DATABASE_URL: databaseUrl,
      DEFAULT_TENANT_ID: TENANT,
      HOST: '127.0.0.1',
      PORT: String(port),
      DEV_LOGIN: 'true',
      SESSION_SECRET: 'api-cost-benchmark-session-secret-0123456789',
      RATE_LIMIT_WRITES: '1000000/1m',
      RATE_LIMIT_REFUSALS: '1000000/1m',
    };
    const worker = spawnNode('worker', 'worker.ts', { ...environment, TEMPORAL_WORKFLOW_BUNDLE: bundle }, [
      '--import',
      'tsx',
    ]);
    stops.push(() => worker.stop());
    await worker.ready(/running \(worker\)/, 120_000);
    const apiFlags = (process.env.BENCH_API_NODE_OPTIONS ?? '').split(/\s+/).filter((flag) => flag !== '');
    const api = spawnNode('api', 'api/server.ts', environment, [...apiFlags, '--import', 'tsx'], progress);
    stops.unshift(() => api.stop());
    await api.ready(/running \(api\)/, 120_000);
    const apiUrl = `http://127.0.0.1:${String(port)}/api/v1`;

    const packager = new ApiClient(apiUrl, 60_000);
    await packager.signIn('cost.packager@example.com', ['submitter', 'auditor']);
    const admin = new ApiClient(apiUrl, 60_000);
    await admin.signIn('cost.admin@example.com', ['admin']);
    const credential = await admin.send('POST', '/connector-credentials', {
      connector_type: 'intune',
      name: 'cost-intune',
    });
    const apiKey = (credential.body as { api_key?: string }).api_key ?? '';
    const idleCredential = await admin.send('POST', '/connector-credentials', {
      connector_type: 'sccm',
      name: 'cost-sccm',
    });
    const idleKey = (idleCredential.body as { api_key?: string }).api_key ?? '';

    let serial = 0;
    const create = async (connector: 'intune' | 'jamf') => {
      serial++;
      const answer = await packager.send('POST', '/deployment-intents', {
        app_name: 'Cost',
        version: `1.0.${String(serial)}`,
        target_ring: 'GLOBAL',
        connectors: connector === 'jamf' ? { macos: 'jamf' } : { windows: 'intune' },
        evidence_pack: lowRiskEvidence({
          artifact_hash: createHash('sha256')
            .update(`cost-${String(serial)}-${String(Date.now())}`)
            .digest('hex'),
        }),
      });
      if (answer.status !== 201) throw new Error(`create answered ${String(answer.status)}`);
      return (answer.body as { id: string }).id;
    };
    progress('20 intents waiting at LAB for intune');
    const ids = await Promise.all(Array.from({ length: 20 }, () => create('intune')));
    const get = async (pathAndQuery: string, key = apiKey) => {
      const response = await fetch(`${apiUrl}${pathAndQuery}`, {
        headers: { Authorization: `Bearer ${key}`, Accept: 'application/json' },
      });
      const text = await response.text();
      if (!response.ok) return { status: response.status, items: -1 };
      const body = JSON.parse(text) as unknown;
      return {
        status: response.status,
        items: Array.isArray(body)
          ? body.length
          : Object.values(body as Record<string, unknown[]>).reduce((sum, list) => sum + list.length, 0),
      };
    };
    for (let waited = 0; (await get('/connectors/pending-deployments')).items < 20; waited++) {
      if (waited > 600) throw new Error('the intents did not reach LAB');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const combined = (await get('/connectors/pending-work')).status === 200;

    const kinds: Record<string, { requests: number; run: () => Promise<void> }> = {
      poll_two_gets: {
        requests: 2,
        run: async () => {
          await Promise.all([get('/connectors/pending-deployments'), get('/connectors/pending-rollbacks')]);
        },
      },
      ...(combined
        ? {
            poll_one_get: {
              requests: 1,
              run: async () => {
                await get('/connectors/pending-work');
              },
            },
          }
        : {}),
      get_intent_session: {
        requests: 1,
        run: async () => {
          await packager.send('GET', `/deployment-intents/${ids[0] ?? ''}`);
        },
      },
      create_intent: {
        requests: 1,
        run: async () => {
          await create('jamf');
        },
      },
    };
    const batch: Record<string, number> = { create_intent: 40 };
    const samples: Record<string, number[]> = {};
    for (let round = 0; round < rounds; round++) {
      for (const [name, kind] of Object.entries(kinds)) {
        const count = batch[name] ?? 300;
        const concurrency = name === 'create_intent' ? 8 : 1;
        const before = cpuMs([api.pid]);
        let next = 0;
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (next < count) {
              next++;
              await kind.run();
            }
          }),
        );
        (samples[name] ??= []).push((cpuMs([api.pid]) - before) / count);
        progress(
          `round ${String(round + 1)} ${name}: ${((cpuMs([api.pid]) - before) / count).toFixed(2)} ms/op`,
        );
      }
    }
    // An idle connector: nothing open for sccm. Polling every 20 ms, then long polling, for as long.
    const idle: Record<string, { requests: number; api_cpu_ms_per_idle_s: number }> = {};
    for (const [name, waitSeconds] of [
      ['poll_every_20ms', 0],
      ['long_poll', IDLE_SECONDS],
    ] as const) {
      const before = cpuMs([api.pid]);
      const until = performance.now() + IDLE_SECONDS * 1_000;
      let requests = 0;
      while (performance.now() < until) {
        const remaining = Math.ceil((until - performance.now()) / 1_000);
        const answer = await get(
          `/connectors/pending-work?wait=${String(Math.min(waitSeconds, remaining))}`,
          idleKey,
        );
        if (answer.status !== 200 || answer.items !== 0)
          throw new Error(`idle poll: ${String(answer.status)}`);
        requests++;
        if (waitSeconds === 0) await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS));
      }
      idle[name] = {
        requests,
        api_cpu_ms_per_idle_s: Number(((cpuMs([api.pid]) - before) / IDLE_SECONDS).toFixed(2)),
      };
      progress(`idle ${name}: ${JSON.stringify(idle[name])}`);
    }

    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'api-cost',
          load_average: os.loadavg(),
          api_cpu_ms_per_operation: Object.fromEntries(
            Object.entries(samples).map(([name, values]) => [
              name,
              { median: Number(median(values).toFixed(2)), samples: values.map((v) => Number(v.toFixed(2))) },
            ]),
          ),
          idle_connector: idle,
          note:
            `poll kinds: sequential GETs listing 20 open items; idle_connector: ${String(IDLE_SECONDS)} s of ` +
            `an sccm connector with nothing open, polling every ${String(IDLE_POLL_MS)} ms without wait ` +
            '(as the reference connector did) against long polling (wait: held until the wait ends, as ' +
            'the reference connector now does)',
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
  }
}

void main();
