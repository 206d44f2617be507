/** One line of the benchmark report. Latencies (p50/p95/p99/mean/min/max) are in `unit`. */
export interface BenchResult {
  readonly name: string;
  readonly unit: 'us' | 'ms';
  readonly iterations: number;
  readonly ops_per_sec: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  /** Requests in flight at once (HTTP results only). */
  readonly concurrency?: number;
  /** Requests that failed or answered with an unexpected status (HTTP results only). */
  readonly errors?: number;
  /** The loop hit its time budget before its iteration count. */
  readonly truncated?: boolean;
  /** Heap still used after the timed loop and a forced GC, minus before it (micro benchmarks only). */
  readonly heap_delta_bytes?: number;
  /** Heap used right after the timed loop, before any forced GC, minus before it. */
  readonly heap_delta_before_gc_bytes?: number;
  readonly note?: string;
}

export interface LatencySummary {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

/** Nearest-rank percentiles, rounded to `decimals`; an empty sample set gives zeros. */
export function summarize(samples: readonly number[], decimals = 2): LatencySummary {
  if (samples.length === 0) return { p50: 0, p95: 0, p99: 0, mean: 0, min: 0, max: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (fraction: number) => sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)] ?? 0;
  const round = (value: number) => Number(value.toFixed(decimals));
  const total = sorted.reduce((sum, value) => sum + value, 0);
  return {
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    p99: round(at(0.99)),
    mean: round(total / sorted.length),
    min: round(sorted[0] ?? 0),
    max: round(sorted[sorted.length - 1] ?? 0),
  };
}

export function opsPerSecond(count: number, elapsedMs: number): number {
  return elapsedMs <= 0 ? 0 : Number(((count * 1_000) / elapsedMs).toFixed(1));
}
