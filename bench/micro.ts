import v8 from 'node:v8';
import vm from 'node:vm';
import { opsPerSecond, summarize } from './result';
import type { BenchResult } from './result';

export interface MicroBenchmark {
  readonly name: string;
  readonly warmup: number;
  readonly iterations: number;
  /** Stops a loop early (reported as truncated) so a slow machine still finishes. */
  readonly timeBudgetMs: number;
  readonly run: (iteration: number) => unknown;
  readonly note?: string;
}

// Results are kept here so the optimiser cannot drop a call whose value nobody reads.
const sink: { value: unknown } = { value: undefined };

/** V8's gc(), exposed without a command-line flag (`npm run bench` runs plain tsx). */
export const collectGarbage = loadGc();

function loadGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  const gc: unknown = vm.runInNewContext('gc');
  if (typeof gc !== 'function') throw new Error('could not expose the V8 garbage collector');
  return gc as () => void;
}
const CHECK_EVERY = 1_024;

/**
 * Warm-up, then two timed passes of `iterations` calls: one timed as a whole (ops/s, heap delta, no
 * per-call timer overhead) and one timing every call (percentiles, in microseconds).
 */
export function runMicroBenchmark(benchmark: MicroBenchmark): BenchResult {
  const deadline = performance.now() + benchmark.timeBudgetMs;
  for (let i = 0; i < benchmark.warmup; i++) sink.value = benchmark.run(i);

  collectGarbage();
  const heapBefore = process.memoryUsage().heapUsed;
  let completed = 0;
  const started = performance.now();
  while (completed < benchmark.iterations) {
    sink.value = benchmark.run(completed);
    completed++;
    if (completed % CHECK_EVERY === 0 && performance.now() > deadline) break;
  }
  const elapsedMs = performance.now() - started;
  const heapAfterLoop = process.memoryUsage().heapUsed;
  collectGarbage();
  const heapRetained = process.memoryUsage().heapUsed;

  const samples: number[] = [];
  for (let i = 0; i < completed; i++) {
    const callStarted = process.hrtime.bigint();
    sink.value = benchmark.run(i);
    samples.push(Number(process.hrtime.bigint() - callStarted) / 1_000);
    if (i % CHECK_EVERY === 0 && performance.now() > deadline) break;
  }

  return {
    name: benchmark.name,
    unit: 'us',
    iterations: completed,
    ops_per_sec: opsPerSecond(completed, elapsedMs),
    ...summarize(samples, 3),
    heap_delta_bytes: heapRetained - heapBefore,
    heap_delta_before_gc_bytes: heapAfterLoop - heapBefore,
    truncated: completed < benchmark.iterations || samples.length < completed,
    ...(benchmark.note === undefined ? {} : { note: benchmark.note }),
  };
}
