import { opsPerSecond, summarize } from './result';
import type { BenchResult } from './result';

export interface LoadScenario {
  readonly name: string;
  readonly warmup: number;
  readonly requests: number;
  readonly concurrency: number;
  /** Stops issuing requests after this long (reported as truncated), so the run stays bounded. */
  readonly timeBudgetMs: number;
  /** Sends request number `index`; resolves true when the answer is the expected one. */
  readonly send: (index: number) => Promise<boolean>;
  readonly note?: string;
}

/** `concurrency` loops pull request numbers from one counter until the count or the budget runs out. */
async function drive(
  total: number,
  concurrency: number,
  deadline: number,
  send: (index: number) => Promise<boolean>,
): Promise<{ latenciesMs: number[]; errors: number }> {
  const latenciesMs: number[] = [];
  let errors = 0;
  let next = 0;
  const loop = async () => {
    while (next < total && performance.now() < deadline) {
      const index = next++;
      const started = performance.now();
      let ok = false;
      try {
        ok = await send(index);
      } catch {
        ok = false;
      }
      latenciesMs.push(performance.now() - started);
      if (!ok) errors++;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, loop));
  return { latenciesMs, errors };
}

/** Warm-up requests (not reported), then the timed requests: latency percentiles in ms and req/s. */
export async function runLoad(scenario: LoadScenario): Promise<BenchResult> {
  const deadline = performance.now() + scenario.timeBudgetMs;
  await drive(scenario.warmup, scenario.concurrency, deadline, (index) => scenario.send(index));
  const started = performance.now();
  const { latenciesMs, errors } = await drive(
    scenario.requests,
    scenario.concurrency,
    deadline,
    // Warm-up and timed requests get distinct numbers, so scenarios can make every body unique.
    (index) => scenario.send(scenario.warmup + index),
  );
  const elapsedMs = performance.now() - started;
  return {
    name: scenario.name,
    unit: 'ms',
    iterations: latenciesMs.length,
    ops_per_sec: opsPerSecond(latenciesMs.length, elapsedMs),
    ...summarize(latenciesMs),
    concurrency: scenario.concurrency,
    errors,
    truncated: latenciesMs.length < scenario.requests,
    ...(scenario.note === undefined ? {} : { note: scenario.note }),
  };
}
