import { readFileSync } from 'node:fs';
import os from 'node:os';
import { createLogger } from '../runtime/logger';
import { startEmbeddedSystem } from './embedded-system';
import type { EmbeddedSystem } from './embedded-system';
import { runHttpSuite } from './http-suite';
import type { HttpSuiteSize } from './http-suite';
import { COMPARE_FULL, COMPARE_QUICK, runCompare } from './compare/compare';
import { collectGarbage } from './micro';
import { runPolicySuite } from './policy-suite';
import type { PolicySuiteSize } from './policy-suite';
import type { BenchResult } from './result';

/**
 * `npm run bench [-- --quick]`: benchmarks of the policy hot path and of the HTTP API on the embedded
 * defaults. `npm run bench -- --compare [--quick] [--parked N]`: EUCORA against bare Temporal on one
 * dev server (PostgreSQL at BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/bench_perf,
 * dropped and created afresh). One JSON document on stdout; progress on stderr. Numbers only, no
 * pass/fail on timings.
 */

interface RunSize {
  readonly policy: PolicySuiteSize;
  readonly http: HttpSuiteSize;
}

const FULL: RunSize = {
  policy: { warmup: 20_000, iterations: 100_000, timeBudgetMs: 15_000 },
  http: {
    concurrency: 8,
    health: { warmup: 50, requests: 1_000 },
    riskEvaluate: { warmup: 50, requests: 500 },
    createIntent: { warmup: 8, requests: 100 },
    listIntents: { warmup: 20, requests: 300 },
    scenarioBudgetMs: 20_000,
    createIntentBudgetMs: 60_000,
    requestTimeoutMs: 30_000,
  },
};

const QUICK: RunSize = {
  policy: { warmup: 2_000, iterations: 10_000, timeBudgetMs: 5_000 },
  http: {
    concurrency: 8,
    health: { warmup: 10, requests: 200 },
    riskEvaluate: { warmup: 10, requests: 100 },
    createIntent: { warmup: 4, requests: 20 },
    listIntents: { warmup: 5, requests: 50 },
    scenarioBudgetMs: 10_000,
    createIntentBudgetMs: 30_000,
    requestTimeoutMs: 30_000,
  },
};

function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

function memorySnapshot() {
  collectGarbage();
  const usage = process.memoryUsage();
  return {
    rss_bytes: usage.rss,
    heap_used_bytes: usage.heapUsed,
    heap_total_bytes: usage.heapTotal,
    external_bytes: usage.external,
  };
}

/** Resident memory of another process (the Temporal dev server), where /proc exists. */
function processRss(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
    return match?.[1] === undefined ? null : Number(match[1]) * 1_024;
  } catch {
    return null;
  }
}

interface Arguments {
  readonly quick: boolean;
  readonly compare: boolean;
  /** `--parked N`: intents parked at LAB in the comparison (default: 10,000, or 200 with --quick). */
  readonly parked: number | undefined;
  /** `--parked-only`: the comparison's parked measure (and the list) alone, for memory settings. */
  readonly parkedOnly: boolean;
  /** `--heap-snapshots`: a heap snapshot of both workers at the parked plateau. */
  readonly heapSnapshots: boolean;
  /** `--built`: the workers and the API from JavaScript (`npm run build` first), not through tsx. */
  readonly built: boolean;
}

function parseArguments(argv: readonly string[]): Arguments | undefined {
  let parked: number | undefined;
  const rest: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index] ?? '';
    if (argument === '--parked') {
      parked = Number(argv[++index]);
      if (!Number.isInteger(parked) || parked < 1) return undefined;
    } else rest.push(argument);
  }
  const flags = ['--quick', '--compare', '--parked-only', '--heap-snapshots', '--built'];
  const unknown = rest.filter((argument) => !flags.includes(argument));
  if (unknown.length > 0) return undefined;
  const compare = rest.includes('--compare');
  const parkedOnly = rest.includes('--parked-only');
  const heapSnapshots = rest.includes('--heap-snapshots');
  const built = rest.includes('--built');
  if (!compare && (parkedOnly || heapSnapshots || built || parked !== undefined)) return undefined;
  return { quick: rest.includes('--quick'), compare, parked, parkedOnly, heapSnapshots, built };
}

/** `--compare`: EUCORA against bare Temporal in one run (bench/compare/compare.ts). */
async function compare(options: Arguments): Promise<void> {
  const base = options.quick ? COMPARE_QUICK : COMPARE_FULL;
  // Parked only: no intake, latency or lifecycle trials (the warm-up still runs).
  const parkedOnly = options.parkedOnly ? { pairs: 0, intake: [], lifecyclePairs: 0 } : {};
  const report = await runCompare({
    size: { ...base, ...parkedOnly, ...(options.parked === undefined ? {} : { parked: options.parked }) },
    mode: `${options.quick ? 'quick' : 'full'}${options.parkedOnly ? ', parked only' : ''}${options.built ? ', built' : ''}`,
    heapSnapshots: options.heapSnapshots,
    built: options.built,
    databaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/bench_perf',
    logger: createLogger({ level: 'warn', destination: process.stderr }),
    progress,
  });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

async function main(): Promise<void> {
  const options = parseArguments(process.argv.slice(2));
  if (options === undefined) {
    process.stderr.write(
      'usage: npm run bench [-- --quick] [--compare [--parked N] [--parked-only] [--heap-snapshots] [--built]]\n',
    );
    process.exitCode = 2;
    return;
  }
  if (options.compare) {
    await compare(options);
    return;
  }
  const size = options.quick ? QUICK : FULL;
  const startedAt = performance.now();
  // Other processes on the machine skew every number; the report says how busy it was.
  const loadAverage = os.loadavg().map((load) => Number(load.toFixed(2)));
  const logger = createLogger({ level: 'warn', destination: process.stderr });

  progress(`policy benchmarks (${options.quick ? 'quick' : 'full'})`);
  const results: BenchResult[] = runPolicySuite(size.policy, progress);

  const beforeHttp = memorySnapshot();
  let system: EmbeddedSystem | undefined;
  // Ctrl-C mid-run: exiting runs the dev server's exit hook, which kills it.
  const interrupt = () => {
    process.stderr.write('[bench] interrupted\n');
    process.exit(130);
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  let memory;
  try {
    system = await startEmbeddedSystem(logger, progress);
    const systemStarted = memorySnapshot();
    results.push(...(await runHttpSuite(system.apiUrl, size.http, progress)));
    const afterHttp = memorySnapshot();
    memory = {
      before_http: beforeHttp,
      system_started: systemStarted,
      after_http: afterHttp,
      delta_after_minus_before: {
        rss_bytes: afterHttp.rss_bytes - beforeHttp.rss_bytes,
        heap_used_bytes: afterHttp.heap_used_bytes - beforeHttp.heap_used_bytes,
      },
      temporal_dev_server_rss_bytes: processRss(system.temporalPid),
    };
  } finally {
    progress('stopping the worker, the API, the Temporal dev server and the database');
    await system?.stop();
    process.removeListener('SIGINT', interrupt);
    process.removeListener('SIGTERM', interrupt);
  }

  const report = {
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    platform: `${os.platform()} ${os.release()}`,
    load_average_at_start: loadAverage,
    timestamp: new Date().toISOString(),
    mode: options.quick ? 'quick' : 'full',
    duration_s: Number(((performance.now() - startedAt) / 1_000).toFixed(1)),
    startup_ms: system.startup,
    results,
    memory,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);

  const failed = results.filter((result) => (result.errors ?? 0) > 0);
  if (failed.length > 0) {
    progress(`requests failed in: ${failed.map((result) => result.name).join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
