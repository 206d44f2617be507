import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { Client as PgClient } from 'pg';
import { runConnector } from '../../connector/reference-connector';
import { loadConfig } from '../../runtime/config';
import { reusableWorkflowBundle } from '../../runtime/deployment-worker';
import type { Logger } from '../../runtime/logger';
import { workflowIdForIntent } from '../../workflows/definitions';
import { lowRiskEvidence } from '../../test/fixtures/evidence';
import { freePort } from '../../test/helpers/free-port';
import { startEphemeralTemporal } from '../../test/helpers/ephemeral-temporal';
import { ApiClient } from '../http-suite';
import { summarize } from '../result';
import { REPOSITORY_ROOT, cpuMs, processTree, rssMiB, spawnNode, transpileBareWorker } from './processes';
import type { ChildNode } from './processes';

/**
 * `npm run bench -- --compare`: EUCORA against bare Temporal doing the same shape of work, on one
 * Temporal dev server in one run. EUCORA runs as it is deployed (a worker process and an API process on
 * PostgreSQL); the bare side is a worker process and this process's Temporal client. Trials alternate
 * (EUCORA, bare, EUCORA, bare, ...); each measure reports the median and range over its pairs, the
 * ratio EUCORA / bare, and the machine load when it ran.
 */

export interface CompareSize {
  readonly pairs: number;
  readonly intake: readonly { readonly concurrency: number; readonly requests: number }[];
  readonly halfPeakRequests: number;
  readonly lifecycleIntents: number;
  readonly lifecyclePairs: number;
  readonly parked: number;
  /** Requests measured per list query (after `LIST_WARM_UP_REQUESTS` that are not reported). */
  readonly listRequests: number;
}

export const COMPARE_FULL: CompareSize = {
  pairs: 3,
  intake: [
    { concurrency: 8, requests: 120 },
    { concurrency: 32, requests: 240 },
  ],
  halfPeakRequests: 150,
  lifecycleIntents: 20,
  lifecyclePairs: 2,
  parked: 10_000,
  listRequests: 2_000,
};

export const COMPARE_QUICK: CompareSize = {
  pairs: 2,
  intake: [
    { concurrency: 8, requests: 24 },
    { concurrency: 32, requests: 64 },
  ],
  halfPeakRequests: 30,
  lifecycleIntents: 5,
  lifecyclePairs: 1,
  parked: 200,
  // The list measure is cheap (a few seconds); its p99 needs far more than 50 samples in both modes.
  listRequests: 1_000,
};

const EUCORA_QUEUE = 'eucora-compare';
const BARE_QUEUE = 'bare-compare';
const TENANT = '00000000-0000-0000-0000-0000000000be';
const RINGS = ['LAB', 'CANARY', 'PILOT', 'DEPARTMENT', 'GLOBAL'] as const;
/** Zero soak everywhere, so a rollout takes only the work and the round trips. */
const ZERO_SOAK = JSON.stringify({ rings: Object.fromEntries(RINGS.map((ring) => [ring, { soakMs: 0 }])) });

const load = () => os.loadavg().map((value) => Number(value.toFixed(2)));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (value: number, decimals = 1) => Number(value.toFixed(decimals));

interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly samples: number[];
}

function spread(samples: readonly number[]): Spread {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  const median =
    sorted.length === 0
      ? 0
      : sorted.length % 2 === 1
        ? (sorted[Math.floor(middle)] ?? 0)
        : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
  return {
    median: round(median, 2),
    min: round(sorted[0] ?? 0, 2),
    max: round(sorted[sorted.length - 1] ?? 0, 2),
    samples: samples.map((value) => round(value, 2)),
  };
}

const ratio = (eucora: number, bare: number) => (bare === 0 ? null : round(eucora / bare, 3));

/** `concurrency` loops send numbered requests until `total`; latencies in ms. */
async function closedLoop(
  total: number,
  concurrency: number,
  send: () => Promise<boolean>,
): Promise<{ elapsedMs: number; latencies: number[]; errors: number }> {
  let next = 0;
  let errors = 0;
  const latencies: number[] = [];
  const started = performance.now();
  const loop = async () => {
    while (next < total) {
      next++;
      const at = performance.now();
      let ok = false;
      try {
        ok = await send();
      } catch {
        ok = false;
      }
      latencies.push(performance.now() - at);
      if (!ok) errors++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { elapsedMs: performance.now() - started, latencies, errors };
}

/** Requests arriving at a fixed rate whatever the answers do (open loop): latencies in ms. */
async function openLoop(
  total: number,
  perSecond: number,
  send: () => Promise<boolean>,
): Promise<{ latencies: number[]; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let index = 0; index < total; index++) {
    const due = started + (index * 1_000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    pending.push(
      (async () => {
        const at = performance.now();
        const ok = await send().catch(() => false);
        latencies.push(performance.now() - at);
        if (!ok) errors++;
      })(),
    );
  }
  await Promise.all(pending);
  return { latencies, errors };
}

interface Processes {
  temporal: number[];
  eucoraWorker: ChildNode;
  api: ChildNode;
  bareWorker: ChildNode;
}

export interface CompareOptions {
  readonly size: CompareSize;
  readonly mode: string;
  readonly databaseUrl: string;
  readonly logger: Logger;
  readonly progress: (line: string) => void;
  /**
   * Start both workers with `--heapsnapshot-signal=SIGUSR2` and write a heap snapshot of each at the
   * parked plateau (into the repository root, named by Node with the pid); the JSON names the files.
   */
  readonly heapSnapshots?: boolean;
  /** Run the workers and the API from JavaScript (dist/, after `npm run build`) instead of through tsx. */
  readonly built?: boolean;
}

/** The cache and heap settings both workers get: EUCORA's defaults unless the environment sets them. */
export function workerSettings(environment: NodeJS.ProcessEnv): {
  maxCachedWorkflows: number;
  heapMb: number;
} {
  const { worker } = loadConfig({
    WORKER_MAX_CACHED_WORKFLOWS: environment.WORKER_MAX_CACHED_WORKFLOWS,
    WORKER_HEAP_MB: environment.WORKER_HEAP_MB,
  });
  return { maxCachedWorkflows: worker.maxCachedWorkflows, heapMb: worker.heapMb };
}

/** Sends SIGUSR2 to a worker started with --heapsnapshot-signal and waits for its snapshot to be written. */
async function heapSnapshot(worker: ChildNode, progress: (line: string) => void): Promise<string | null> {
  const snapshots = () =>
    new Set(
      readdirSync(REPOSITORY_ROOT).filter(
        (name) => name.includes(`.${String(worker.pid)}.`) && name.endsWith('.heapsnapshot'),
      ),
    );
  const before = snapshots();
  progress(`heap snapshot of ${worker.name} (pid ${String(worker.pid)})`);
  worker.process.kill('SIGUSR2');
  const deadline = Date.now() + 300_000;
  let file: string | undefined;
  let size = -1;
  while (Date.now() < deadline) {
    await sleep(2_000);
    file ??= [...snapshots()].find((name) => !before.has(name));
    if (file === undefined) continue;
    const now = statSync(path.join(REPOSITORY_ROOT, file)).size;
    if (now > 0 && now === size) return path.join(REPOSITORY_ROOT, file);
    size = now;
  }
  return null;
}

export async function runCompare(options: CompareOptions): Promise<Record<string, unknown>> {
  const { size, progress } = options;
  const loadAtStart = load();
  const cleanups: (() => Promise<void>)[] = [];
  try {
    progress(`recreating the database ${new URL(options.databaseUrl).pathname.slice(1)}`);
    await recreateDatabase(options.databaseUrl);

    progress('starting the Temporal dev server');
    const { server } = await startEphemeralTemporal('the comparison benchmark', options.logger);
    cleanups.push(() => server.stop());
    const connection = await Connection.connect({ address: server.address });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: 'default' });

    const driver = await startDriver(client);
    cleanups.push(() => driver.close());

    // Both workers alike: run by Node through tsx, from a workflow bundle made before they start, with the
    // same sticky cache and the same heap flag (EUCORA's defaults unless WORKER_MAX_CACHED_WORKFLOWS or
    // WORKER_HEAP_MB say otherwise).
    const settings = workerSettings(process.env);
    progress(
      `bundling both workers' workflows; cache ${String(settings.maxCachedWorkflows)}, heap ${settings.heapMb === 0 ? "V8's default" : `${String(settings.heapMb)} MiB`}`,
    );
    const bundleDirectory = mkdtempSync(path.join(os.tmpdir(), 'eucora-compare-bundles-'));
    const eucoraBundle = (await reusableWorkflowBundle(bundleDirectory, options.logger)).codePath;
    const bareBundle = path.join(bundleDirectory, 'bare-workflow-bundle.js');
    writeFileSync(
      bareBundle,
      (await bundleWorkflowCode({ workflowsPath: require.resolve('./bare-workflows') })).code,
    );
    // --built: every process from JavaScript (EUCORA from `npm run build`'s dist/), as in production.
    const loader = options.built ? [] : ['--import', 'tsx'];
    const entries = options.built
      ? { eucoraWorker: 'dist/worker.js', api: 'dist/api/server.js', bareWorker: transpileBareWorker() }
      : { eucoraWorker: 'worker.ts', api: 'api/server.ts', bareWorker: 'bench/compare/bare-worker.ts' };
    if (options.built && !existsSync(path.join(REPOSITORY_ROOT, entries.eucoraWorker))) {
      throw new Error('--built runs dist/worker.js: run `npm run build` first');
    }
    const workerNodeOptions = [
      ...(settings.heapMb === 0 ? [] : [`--max-old-space-size=${String(settings.heapMb)}`]),
      ...(options.heapSnapshots ? ['--heapsnapshot-signal=SIGUSR2'] : []),
      // Further V8 flags to try on both workers alike (e.g. --optimize-for-size).
      ...(process.env.BENCH_WORKER_NODE_OPTIONS ?? '').split(/\s+/).filter((flag) => flag !== ''),
    ];
    const workerEnvironment = {
      WORKER_MAX_CACHED_WORKFLOWS: String(settings.maxCachedWorkflows),
      WORKER_HEAP_MB: String(settings.heapMb),
    };

    const apiPort = await freePort();
    const eucoraEnvironment: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_TASK_QUEUE: EUCORA_QUEUE,
      DATABASE_URL: options.databaseUrl,
      DEFAULT_TENANT_ID: TENANT,
      HOST: '127.0.0.1',
      PORT: String(apiPort),
      DEV_LOGIN: 'true',
      SESSION_SECRET: 'compare-benchmark-session-secret-0123456789',
      RATE_LIMIT_WRITES: '1000000/1m',
      RATE_LIMIT_REFUSALS: '1000000/1m',
      ROLLOUT_POLICY: ZERO_SOAK,
    };
    const bareEnvironment: NodeJS.ProcessEnv = {
      ...process.env,
      ...workerEnvironment,
      BARE_TEMPORAL_ADDRESS: server.address,
      BARE_TASK_QUEUE: BARE_QUEUE,
      BARE_DRIVER_URL: driver.url,
      BARE_WORKFLOW_BUNDLE: bareBundle,
    };
    // The API is not a worker: it gets neither the worker's bundle nor its heap flag.
    const eucoraWorkerEnvironment: NodeJS.ProcessEnv = {
      ...eucoraEnvironment,
      ...workerEnvironment,
      TEMPORAL_WORKFLOW_BUNDLE: eucoraBundle,
    };
    const startWorkers = async () => {
      // The heap flag is on the command line, so EUCORA's worker runs in place (runtime/heap-limit.ts)
      // and the pid measured is the worker's.
      const eucoraWorker = spawnNode(
        'eucora-worker',
        entries.eucoraWorker,
        eucoraWorkerEnvironment,
        [...workerNodeOptions, ...loader],
        progress,
      );
      const bareWorker = spawnNode(
        'bare-worker',
        entries.bareWorker,
        bareEnvironment,
        [...workerNodeOptions, ...loader],
        progress,
      );
      await eucoraWorker.ready(/running \(worker\)/, 120_000);
      await waitForPoller(client, BARE_QUEUE, bareWorker);
      return { eucoraWorker, bareWorker };
    };

    progress('starting the EUCORA worker, the EUCORA API and the bare worker (separate processes)');
    let workers = await startWorkers();
    // BENCH_API_NODE_OPTIONS: flags for the API process alone, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
    // to profile it during the run (the profile is written when the benchmark stops it).
    const apiNodeOptions = (process.env.BENCH_API_NODE_OPTIONS ?? '')
      .split(/\s+/)
      .filter((flag) => flag !== '');
    const api = spawnNode(
      'eucora-api',
      entries.api,
      eucoraEnvironment,
      [...apiNodeOptions, ...loader],
      progress,
    );
    cleanups.push(() => api.stop());
    cleanups.push(async () => {
      await workers.eucoraWorker.stop();
      await workers.bareWorker.stop();
    });
    await api.ready(/running \(api\)/, 120_000);
    const apiUrl = `http://127.0.0.1:${String(apiPort)}/api/v1`;
    const temporalPids = processTree(server.pid);
    const processes = (): Processes => ({ temporal: temporalPids, api, ...workers });
    /** EUCORA's CPU by process (ms so far): the dev server, the worker and the API. */
    const eucoraCpuParts = () => {
      const p = processes();
      return { temporal: cpuMs(p.temporal), worker: cpuMs([p.eucoraWorker.pid]), api: cpuMs([p.api.pid]) };
    };
    /** All of one side's processes: the sum of its parts. */
    const total = (parts: Record<string, number>) => Object.values(parts).reduce((sum, ms) => sum + ms, 0);
    /** The bare side's CPU by process (ms so far): the dev server, the bare worker and this process. */
    const bareCpuParts = () => {
      const p = processes();
      const own = process.cpuUsage();
      return {
        temporal: cpuMs(p.temporal),
        worker: cpuMs([p.bareWorker.pid]),
        client: (own.user + own.system) / 1_000,
      };
    };

    const packager = new ApiClient(apiUrl, 60_000);
    await packager.signIn('compare.packager@example.com', ['submitter', 'auditor']);
    const cab = new ApiClient(apiUrl, 60_000);
    await cab.signIn('compare.cab@example.com', ['cab_member']);
    const admin = new ApiClient(apiUrl, 60_000);
    await admin.signIn('compare.admin@example.com', ['admin']);

    let serial = 0;
    /** Intake and parked intents go to jamf (no connector runs for it), lifecycle ones to intune. */
    const intentBody = (targetRing: string, connector: 'jamf' | 'intune') => {
      serial++;
      return {
        app_name: 'Compare',
        version: `1.0.${String(serial)}`,
        target_ring: targetRing,
        connectors: connector === 'jamf' ? { macos: 'jamf' } : { windows: 'intune' },
        evidence_pack: lowRiskEvidence({
          artifact_hash: createHash('sha256')
            .update(`compare-${String(serial)}-${String(Date.now())}`)
            .digest('hex'),
        }),
      };
    };
    /** Creates answered without their risk (or refused): kept to be explained from their histories. */
    const unanswered: { status: number; workflowId?: string; body?: string }[] = [];
    const createIntent = async () => {
      const answer = await packager.send('POST', '/deployment-intents', intentBody('LAB', 'jamf'));
      const body = answer.body as { risk?: unknown; workflow_id?: string } | undefined;
      const answered = answer.status === 201 && body?.risk !== null && body?.risk !== undefined;
      if (!answered) {
        unanswered.push({
          status: answer.status,
          ...(body?.workflow_id === undefined ? {} : { workflowId: body.workflow_id }),
          ...(answer.status === 201 ? {} : { body: JSON.stringify(answer.body).slice(0, 300) }),
        });
      }
      return answered;
    };
    const bareStartAndResult = async () => {
      serial++;
      const result: unknown = await client.workflow.execute('bareAssess', {
        taskQueue: BARE_QUEUE,
        workflowId: `bare-assess-${String(serial)}-${String(Date.now())}`,
        args: [serial],
      });
      return typeof result === 'number';
    };
    const bareStart = async () => {
      serial++;
      await client.workflow.start('bareAssess', {
        taskQueue: BARE_QUEUE,
        workflowId: `bare-start-${String(serial)}-${String(Date.now())}`,
        args: [serial],
      });
      return true;
    };

    // Warm-up: code paths, connections and caches on both sides.
    progress('warming up');
    await closedLoop(16, 8, createIntent);
    await closedLoop(16, 8, bareStartAndResult);

    // ---- intake -----------------------------------------------------------------------------------
    const intake: Record<string, unknown>[] = [];
    const cpu = { eucora: 0, eucoraCount: 0, bare: 0, bareCount: 0 };
    const createParts = { temporal: 0, worker: 0, api: 0 };
    const bareParts = { temporal: 0, worker: 0, client: 0 };
    let peak = { eucora: 0, bare: 0 };
    for (const { concurrency, requests } of size.intake) {
      const trials = {
        eucora: [] as number[],
        eucoraP50: [] as number[],
        bare: [] as number[],
        bareP50: [] as number[],
        start: [] as number[],
        ratio: [] as number[],
        startRatio: [] as number[],
        load: [] as number[][],
        errors: 0,
      };
      for (let pair = 0; pair < size.pairs; pair++) {
        progress(`intake c=${String(concurrency)} pair ${String(pair + 1)}/${String(size.pairs)}`);
        trials.load.push(load());
        const partsBefore = eucoraCpuParts();
        const e = await closedLoop(requests, concurrency, createIntent);
        const partsAfter = eucoraCpuParts();
        cpu.eucora += total(partsAfter) - total(partsBefore);
        for (const part of ['temporal', 'worker', 'api'] as const) {
          createParts[part] += partsAfter[part] - partsBefore[part];
        }
        cpu.eucoraCount += requests - e.errors;
        const bareBefore = bareCpuParts();
        const b = await closedLoop(requests, concurrency, bareStartAndResult);
        const bareAfter = bareCpuParts();
        cpu.bare += total(bareAfter) - total(bareBefore);
        for (const part of ['temporal', 'worker', 'client'] as const) {
          bareParts[part] += bareAfter[part] - bareBefore[part];
        }
        cpu.bareCount += requests - b.errors;
        const s = await closedLoop(requests, concurrency, bareStart);
        await sleep(1_000); // the started workflows finish before the next trial
        const eRate = ((requests - e.errors) * 1_000) / e.elapsedMs;
        const bRate = ((requests - b.errors) * 1_000) / b.elapsedMs;
        const sRate = ((requests - s.errors) * 1_000) / s.elapsedMs;
        trials.eucora.push(eRate);
        trials.eucoraP50.push(summarize(e.latencies).p50);
        trials.bare.push(bRate);
        trials.bareP50.push(summarize(b.latencies).p50);
        trials.start.push(sRate);
        trials.ratio.push(eRate / bRate);
        trials.startRatio.push(eRate / sRate);
        trials.errors += e.errors + b.errors + s.errors;
      }
      const eucora = spread(trials.eucora);
      const bare = spread(trials.bare);
      peak = { eucora: Math.max(peak.eucora, eucora.median), bare: Math.max(peak.bare, bare.median) };
      intake.push({
        concurrency,
        requests_per_trial: requests,
        eucora_per_s: eucora,
        eucora_p50_ms: spread(trials.eucoraP50),
        bare_start_and_result_per_s: bare,
        bare_start_and_result_p50_ms: spread(trials.bareP50),
        bare_start_alone_per_s: spread(trials.start),
        ratio_vs_start_and_result: spread(trials.ratio),
        ratio_vs_start_alone: spread(trials.startRatio),
        errors: trials.errors,
        load_average: trials.load,
      });
    }
    const cpuPerCreate = {
      eucora_ms: round(cpu.eucora / Math.max(1, cpu.eucoraCount)),
      bare_ms: round(cpu.bare / Math.max(1, cpu.bareCount)),
      ratio: ratio(cpu.eucora / Math.max(1, cpu.eucoraCount), cpu.bare / Math.max(1, cpu.bareCount)),
      eucora_ms_by_process: {
        temporal_dev_server: round(createParts.temporal / Math.max(1, cpu.eucoraCount)),
        worker: round(createParts.worker / Math.max(1, cpu.eucoraCount)),
        api: round(createParts.api / Math.max(1, cpu.eucoraCount)),
      },
      bare_ms_by_process: {
        temporal_dev_server: round(bareParts.temporal / Math.max(1, cpu.bareCount)),
        worker: round(bareParts.worker / Math.max(1, cpu.bareCount)),
        client: round(bareParts.client / Math.max(1, cpu.bareCount)),
      },
      note: 'Temporal dev server + EUCORA worker + EUCORA API, against dev server + bare worker + this process (the bare client), over the intake trials; PostgreSQL is shared with other users and not counted',
    };

    // ---- create latency at half of peak ---------------------------------------------------------
    const halfPeak = {
      eucoraP50: [] as number[],
      eucoraP99: [] as number[],
      bareP50: [] as number[],
      bareP99: [] as number[],
      load: [] as number[][],
      errors: 0,
    };
    for (let pair = 0; pair < size.pairs; pair++) {
      progress(`create latency at half of peak, pair ${String(pair + 1)}/${String(size.pairs)}`);
      halfPeak.load.push(load());
      const e = await openLoop(size.halfPeakRequests, peak.eucora / 2, createIntent);
      const b = await openLoop(size.halfPeakRequests, peak.bare / 2, bareStartAndResult);
      const es = summarize(e.latencies);
      const bs = summarize(b.latencies);
      halfPeak.eucoraP50.push(es.p50);
      halfPeak.eucoraP99.push(es.p99);
      halfPeak.bareP50.push(bs.p50);
      halfPeak.bareP99.push(bs.p99);
      halfPeak.errors += e.errors + b.errors;
    }
    const halfPeakResult = {
      eucora_rate_per_s: round(peak.eucora / 2),
      bare_rate_per_s: round(peak.bare / 2),
      requests_per_trial: size.halfPeakRequests,
      eucora_p50_ms: spread(halfPeak.eucoraP50),
      eucora_p99_ms: spread(halfPeak.eucoraP99),
      bare_p50_ms: spread(halfPeak.bareP50),
      bare_p99_ms: spread(halfPeak.bareP99),
      ratio_p50: ratio(spread(halfPeak.eucoraP50).median, spread(halfPeak.bareP50).median),
      ratio_p99: ratio(spread(halfPeak.eucoraP99).median, spread(halfPeak.bareP99).median),
      errors: halfPeak.errors,
      load_average: halfPeak.load,
    };

    // ---- lifecycle: LAB → GLOBAL -----------------------------------------------------------------
    const credential = await admin.send('POST', '/connector-credentials', {
      connector_type: 'intune',
      name: 'compare-intune',
    });
    const apiKey = (credential.body as { api_key?: string } | undefined)?.api_key;
    if (credential.status !== 201 || apiKey === undefined)
      throw new Error(`connector key: ${String(credential.status)}`);
    const stopConnector = new AbortController();
    const connectorRun = runConnector({
      baseUrl: apiUrl.replace(/\/api\/v1$/, ''),
      apiKey,
      connectorType: 'intune',
      successCount: 1_000,
      failureCount: 0,
      intervalMs: 20,
      // Long polling: an idle poll is held until a ring is recorded (announced by PostgreSQL), instead of
      // an empty answer every 20 ms; the 20 ms pause applies only while every listed item is in flight.
      waitSeconds: 20,
      interimReports: 0,
      signal: stopConnector.signal,
    });
    const lifecycle = {
      eucora: [] as number[],
      eucoraCpu: [] as number[],
      eucoraCpuParts: { temporal: [] as number[], worker: [] as number[], api: [] as number[] },
      bare: [] as number[],
      bareCpu: [] as number[],
      ratio: [] as number[],
      load: [] as number[][],
    };
    const n = size.lifecycleIntents;
    for (let pair = 0; pair < size.lifecyclePairs; pair++) {
      progress(`lifecycle of ${String(n)} intents, pair ${String(pair + 1)}/${String(size.lifecyclePairs)}`);
      lifecycle.load.push(load());
      const partsBefore = eucoraCpuParts();
      let started = performance.now();
      await Promise.all(
        Array.from({ length: n }, async () => {
          const answer = await packager.send('POST', '/deployment-intents', intentBody('GLOBAL', 'intune'));
          const created = answer.body as { id: string; status: string };
          if (answer.status !== 201) throw new Error(`lifecycle create answered ${String(answer.status)}`);
          if (created.status === 'AWAITING_CAB') {
            await cab.send('POST', `/cab/${created.id}/decision`, { decision: 'APPROVED' });
          }
          // Waits on the workflow's result as the bare side does (no status polling that would cost the
          // API a read every 100 ms per intent), then reads the intent once through the API.
          await client.workflow.getHandle(workflowIdForIntent(created.id)).result();
          const read = await packager.send('GET', `/deployment-intents/${created.id}`);
          const status = (read.body as { status?: string } | undefined)?.status;
          if (status !== 'COMPLETED') throw new Error(`lifecycle intent ended ${String(status)}`);
        }),
      );
      const eRate = (n * 1_000) / (performance.now() - started);
      lifecycle.eucora.push(eRate);
      const partsAfter = eucoraCpuParts();
      lifecycle.eucoraCpu.push((total(partsAfter) - total(partsBefore)) / n);
      for (const part of ['temporal', 'worker', 'api'] as const) {
        lifecycle.eucoraCpuParts[part].push((partsAfter[part] - partsBefore[part]) / n);
      }

      const bareBefore = bareCpuParts();
      started = performance.now();
      await Promise.all(
        Array.from({ length: n }, async () => {
          serial++;
          await client.workflow.execute('bareRollout', {
            taskQueue: BARE_QUEUE,
            workflowId: `bare-rollout-${String(serial)}-${String(Date.now())}`,
            args: [serial],
          });
        }),
      );
      const bRate = (n * 1_000) / (performance.now() - started);
      lifecycle.bare.push(bRate);
      lifecycle.bareCpu.push((total(bareCpuParts()) - total(bareBefore)) / n);
      lifecycle.ratio.push(eRate / bRate);
    }
    stopConnector.abort();
    await connectorRun.catch(() => undefined);
    const lifecycleResult = {
      intents_per_trial: n,
      eucora_intents_per_s: spread(lifecycle.eucora),
      eucora_cpu_ms_per_intent: spread(lifecycle.eucoraCpu),
      bare_workflows_per_s: spread(lifecycle.bare),
      bare_cpu_ms_per_workflow: spread(lifecycle.bareCpu),
      eucora_cpu_ms_per_intent_by_process: {
        temporal_dev_server: spread(lifecycle.eucoraCpuParts.temporal),
        worker: spread(lifecycle.eucoraCpuParts.worker),
        api: spread(lifecycle.eucoraCpuParts.api),
      },
      ratio: spread(lifecycle.ratio),
      note: 'EUCORA: POST → LAB..GLOBAL with zero soak, the reference connector (intune, long polling with wait=20: a poll that finds nothing open is held until the next ring is recorded, and polls 20 ms apart only while every listed item is still being reported) reporting each ring at once over HTTP, the end awaited as the workflow result and the status read once through the API; bare: 1 activity + 5 asynchronously completed activities, each token posted over HTTP to this process, which completes it at once',
      load_average: lifecycle.load,
    };

    // ---- parked at LAB ------------------------------------------------------------------------------
    progress('restarting both workers (empty caches) for the parked measure');
    await workers.eucoraWorker.stop();
    await workers.bareWorker.stop();
    workers = await startWorkers();
    const rssAtStart = { eucora: rssMiB(workers.eucoraWorker.pid), bare: rssMiB(workers.bareWorker.pid) };
    const pg = new PgClient({ connectionString: options.databaseUrl });
    await pg.connect();
    cleanups.push(() => pg.end());
    const pendingLab = async () =>
      Number(
        (
          await pg.query<{ count: string }>(
            "select count(*) from ring_deployments where ring = 'LAB' and connector_type = 'jamf' and status in ('PENDING', 'IN_PROGRESS')",
          )
        ).rows[0]?.count ?? 0,
      );
    const rssSamples: { s: number; eucora: number | null; bare: number | null }[] = [];
    const parkedStarted = performance.now();
    const sampler = setInterval(() => {
      rssSamples.push({
        s: Math.round((performance.now() - parkedStarted) / 1_000),
        eucora: rssMiB(workers.eucoraWorker.pid),
        bare: rssMiB(workers.bareWorker.pid),
      });
    }, 10_000);
    cleanups.push(() => {
      clearInterval(sampler);
      return Promise.resolve();
    });
    const parkedBefore = await pendingLab();
    progress(`parking ${String(size.parked)} EUCORA intents at LAB (${String(parkedBefore)} already parked)`);
    const parkedLoad = [load()];
    let started = performance.now();
    const eParked = await closedLoop(size.parked, 32, createIntent);
    progress(`POSTs answered (${String(eParked.errors)} failed); waiting for the workflows to reach LAB`);
    const eucoraReached = await waitUntil(
      async () => (await pendingLab()) - parkedBefore,
      size.parked - eParked.errors,
      parkWaitMs(size.parked),
      progress,
    );
    const eucoraParkRate = (eucoraReached * 1_000) / (performance.now() - started);
    await sleep(5_000);
    const eucoraRss = rssMiB(workers.eucoraWorker.pid);

    progress(`parking ${String(size.parked)} bare workflows`);
    parkedLoad.push(load());
    driver.parked = 0;
    started = performance.now();
    const bParked = await closedLoop(size.parked, 32, async () => {
      serial++;
      await client.workflow.start('bareParked', {
        taskQueue: BARE_QUEUE,
        workflowId: `bare-parked-${String(serial)}-${String(Date.now())}`,
        args: [serial],
      });
      return true;
    });
    const bareReached = await waitUntil(
      () => Promise.resolve(driver.parked),
      size.parked - bParked.errors,
      parkWaitMs(size.parked),
      progress,
    );
    const bareParkRate = (bareReached * 1_000) / (performance.now() - started);
    await sleep(5_000);
    const bareRss = rssMiB(workers.bareWorker.pid);
    // Both at rest, at the same moment: EUCORA's was read right after its own parking, while the memory
    // of that burst (intake, activities, garbage) was still there; 30 s later both have idled.
    await sleep(AT_REST_WAIT_MS);
    const atRest = { eucora: rssMiB(workers.eucoraWorker.pid), bare: rssMiB(workers.bareWorker.pid) };
    clearInterval(sampler);
    const plateauLoad = load();
    const snapshots = options.heapSnapshots
      ? {
          eucora: await heapSnapshot(workers.eucoraWorker, progress),
          bare: await heapSnapshot(workers.bareWorker, progress),
        }
      : undefined;
    const parkedResult = {
      intents: size.parked,
      eucora_reached_lab: eucoraReached,
      bare_reached_park: bareReached,
      worker_settings: {
        runner: options.built
          ? 'node, both workers: dist/worker.js (npm run build) and the bare worker transpiled'
          : 'node --import tsx, both workers',
        workflow_bundle: 'bundled by the benchmark before the workers start, both workers',
        max_cached_workflows: settings.maxCachedWorkflows,
        heap_mb: settings.heapMb === 0 ? "V8's default" : settings.heapMb,
        node_options: workerNodeOptions,
        // glibc's malloc arenas (inherited from this process's environment by both workers).
        malloc_arena_max: process.env.MALLOC_ARENA_MAX ?? 'glibc default',
      },
      eucora_worker_rss_mib: eucoraRss,
      bare_worker_rss_mib: bareRss,
      worker_rss_at_start_mib: rssAtStart,
      rss_ratio: eucoraRss === null || bareRss === null ? null : ratio(eucoraRss, bareRss),
      worker_rss_at_rest_mib: atRest,
      rss_at_rest_ratio:
        atRest.eucora === null || atRest.bare === null ? null : ratio(atRest.eucora, atRest.bare),
      eucora_parked_per_s: round(eucoraParkRate),
      bare_parked_per_s: round(bareParkRate),
      parking_rate_ratio: ratio(eucoraParkRate, bareParkRate),
      errors: eParked.errors + bParked.errors,
      load_average: [...parkedLoad, plateauLoad],
      rss_samples_every_10s: rssSamples,
      ...(snapshots === undefined ? {} : { heap_snapshots: snapshots }),
    };

    // ---- list intents -------------------------------------------------------------------------------
    const rows = Number(
      (await pg.query<{ count: string }>('select count(*) from deployment_intents')).rows[0]?.count ?? 0,
    );
    // The three queries take turns, LIST_ROUNDS rounds of their share each, so that none of them alone
    // meets what the machine is still doing after the parked measure (the first query used to).
    const listQueries = {
      first_page: 'limit=50',
      by_status_parked: 'status=DEPLOYING&limit=50',
      by_status_rare: 'status=COMPLETED&limit=50',
    } as const;
    const sender = (query: string) => async () => {
      const answer = await packager.send('GET', `/deployment-intents?${query}`);
      return answer.status === 200;
    };
    progress(`list intents over ${String(rows)} rows`);
    const listLoad = load();
    const listed = Object.fromEntries(
      Object.keys(listQueries).map((key) => [
        key,
        { latencies: [] as number[], elapsedMs: 0, errors: 0, cpuMs: 0 },
      ]),
    ) as Record<
      keyof typeof listQueries,
      { latencies: number[]; elapsedMs: number; errors: number; cpuMs: number }
    >;
    // Warm-up, not reported: the first requests of each query plan, the pool's connections and the JIT.
    for (const query of Object.values(listQueries)) {
      const warmUp = await closedLoop(LIST_WARM_UP_REQUESTS, 8, sender(query));
      if (warmUp.errors > 0)
        throw new Error(`list ${query}: ${String(warmUp.errors)} warm-up requests failed`);
    }
    const perRound = Math.ceil(size.listRequests / LIST_ROUNDS);
    for (let turn = 0; turn < LIST_ROUNDS; turn++) {
      for (const [key, query] of Object.entries(listQueries) as [keyof typeof listQueries, string][]) {
        const apiCpu = cpuMs([api.pid]);
        const result = await closedLoop(perRound, 8, sender(query));
        listed[key].cpuMs += cpuMs([api.pid]) - apiCpu;
        listed[key].latencies.push(...result.latencies);
        listed[key].elapsedMs += result.elapsedMs;
        listed[key].errors += result.errors;
      }
    }
    const listSummary = (key: keyof typeof listQueries) => {
      const { latencies, elapsedMs, errors, cpuMs: apiCpuMs } = listed[key];
      const summary = summarize(latencies);
      return {
        query: listQueries[key],
        p50_ms: summary.p50,
        p95_ms: summary.p95,
        p99_ms: summary.p99,
        max_ms: summary.max,
        requests_per_s: round((latencies.length * 1_000) / elapsedMs),
        api_cpu_ms_per_request: round(apiCpuMs / latencies.length, 2),
        errors,
      };
    };
    const listResult = {
      rows,
      requests_per_query: perRound * LIST_ROUNDS,
      warm_up_requests_per_query: LIST_WARM_UP_REQUESTS,
      rounds: LIST_ROUNDS,
      concurrency: 8,
      first_page: listSummary('first_page'),
      by_status_parked: listSummary('by_status_parked'),
      by_status_rare: listSummary('by_status_rare'),
      load_average: listLoad,
      load_average_after: load(),
    };

    return {
      benchmark: 'compare',
      mode: options.mode,
      commit: gitCommit(),
      timestamp: new Date().toISOString(),
      node: process.version,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      load_average_at_start: loadAtStart,
      load_average_at_end: load(),
      database: 'PostgreSQL (DATABASE_URL of the EUCORA processes)',
      ratios: {
        intake: intake.map((row) => ({
          concurrency: row.concurrency,
          vs_start_and_result: (row.ratio_vs_start_and_result as Spread).median,
          vs_start_alone: (row.ratio_vs_start_alone as Spread).median,
        })),
        create_latency_half_peak_p50: halfPeakResult.ratio_p50,
        create_latency_half_peak_p99: halfPeakResult.ratio_p99,
        cpu_per_create: cpuPerCreate.ratio,
        lifecycle: lifecycleResult.ratio.median,
        parked_worker_rss: parkedResult.rss_ratio,
        parking_rate: parkedResult.parking_rate_ratio,
      },
      intake,
      create_latency_half_peak: halfPeakResult,
      cpu_per_create: cpuPerCreate,
      lifecycle: lifecycleResult,
      parked: parkedResult,
      list_intents: listResult,
      unanswered_creates: {
        count: unanswered.length,
        first: await Promise.all(unanswered.slice(0, 5).map((entry) => explainUnanswered(client, entry))),
      },
    };
  } finally {
    progress('stopping the processes, the Temporal dev server and the driver');
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

/**
 * A create answered without its risk, explained by its workflow's history: each event's type and when it
 * happened (ms after the start), to tell a slow workflow task from a slow local activity or a lost update.
 */
async function explainUnanswered(
  client: Client,
  entry: { status: number; workflowId?: string; body?: string },
): Promise<Record<string, unknown>> {
  if (entry.workflowId === undefined) return entry;
  try {
    const history = await client.workflow.getHandle(entry.workflowId).fetchHistory();
    const events = history.events ?? [];
    const at = (event: (typeof events)[number]) =>
      Number(event.eventTime?.seconds ?? 0) * 1_000 + Math.round((event.eventTime?.nanos ?? 0) / 1e6);
    const first = events[0] === undefined ? 0 : at(events[0]);
    return {
      ...entry,
      events: events
        .slice(0, 16)
        .map((event) => [
          String(temporal.api.enums.v1.EventType[event.eventType ?? 0]).replace('EVENT_TYPE_', ''),
          at(event) - first,
        ]),
    };
  } catch (error) {
    return { ...entry, history: error instanceof Error ? error.message : String(error) };
  }
}

/** Requests sent before each list query's measured ones, not reported. */
const LIST_WARM_UP_REQUESTS = 100;
/** The list queries take turns in this many rounds. */
const LIST_ROUNDS = 10;

/** How long both workers idle, once both sides are parked, before their RSS is read "at rest". */
const AT_REST_WAIT_MS = 30_000;

/**
 * How long the parked measure waits, after the last start, for the workflows to reach their park: 180 s,
 * and 30 ms more per workflow (with a fixed 180 s the bare side reached only 8,903 of 10,000 at load 10).
 */
const parkWaitMs = (workflows: number) => 180_000 + 30 * workflows;

/** Polls `count` until it reaches `target` or `budgetMs` passes; the count reached. */
async function waitUntil(
  count: () => Promise<number>,
  target: number,
  budgetMs: number,
  progress: (line: string) => void,
): Promise<number> {
  const deadline = Date.now() + budgetMs;
  let reached = await count();
  let said = Date.now();
  while (reached < target && Date.now() < deadline) {
    await sleep(250);
    reached = await count();
    if (Date.now() - said > 10_000) {
      progress(`${String(reached)} of ${String(target)} parked`);
      said = Date.now();
    }
  }
  if (reached < target) progress(`only ${String(reached)} of ${String(target)} parked in time`);
  return reached;
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export async function recreateDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = target.pathname.slice(1);
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unexpected database name ${name}`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const pg = new PgClient({ connectionString: admin.toString() });
  await pg.connect();
  try {
    await pg.query(`drop database if exists ${name} with (force)`);
    await pg.query(`create database ${name}`);
  } finally {
    await pg.end();
  }
}

async function waitForPoller(client: Client, taskQueue: string, worker: ChildNode): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (worker.process.exitCode !== null) throw new Error(`${worker.name} exited`);
    const pollers = await client.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: taskQueue },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    if (pollers.pollers.length > 0) return;
    if (Date.now() > deadline) throw new Error(`${worker.name} never polled ${taskQueue}`);
    await sleep(200);
  }
}

/** The bare side's "connector": takes activity task tokens over HTTP, completes them (or parks them). */
async function startDriver(client: Client) {
  const state = { parked: 0 };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { task_token: string };
      response.writeHead(204).end();
      if (request.url === '/parked') {
        state.parked++;
        return;
      }
      // After the answer: the activity has thrown CompleteAsyncError by the time this arrives, or soon.
      const token = Buffer.from(body.task_token, 'base64');
      const complete = async (attempt: number): Promise<void> => {
        try {
          await client.activity.complete(token, 1);
        } catch (error) {
          if (attempt < 20) {
            await sleep(20);
            await complete(attempt + 1);
          } else throw error;
        }
      };
      void complete(0).catch(() => undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  return {
    url,
    get parked() {
      return state.parked;
    },
    set parked(value: number) {
      state.parked = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
