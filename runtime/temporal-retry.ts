import { AsyncLocalStorage } from 'node:async_hooks';
import { defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { ConnectionOptions, GrpcRetryOptions } from '@temporalio/client';

type Interceptor = NonNullable<ConnectionOptions['interceptors']>[number];

/** The milliseconds left before a gRPC call's deadline (Infinity when it has none). */
function remainingMs(deadline: unknown, now: number): number {
  if (deadline instanceof Date) return deadline.getTime() - now;
  if (typeof deadline === 'number') return deadline - now;
  return Number.POSITIVE_INFINITY;
}

const retryDeadline = new AsyncLocalStorage<number>();

/**
 * Runs `fn` with the retries of its Temporal calls (on transient failures: the server unreachable) made
 * only until `deadline` (epoch ms), earlier than the calls' own deadlines. For a call that may rightly wait
 * long for its answer but must give up soon when the server cannot be reached: an update-with-start is
 * answered when the workflow has run its update, seconds later, yet an unreachable server is a fast 503.
 * Takes effect with `deadlineAwareRetryInterceptor` on the connection.
 */
export function withRetryDeadline<T>(deadline: number, fn: () => Promise<T>): Promise<T> {
  return retryDeadline.run(deadline, fn);
}

/**
 * The SDK's retry of transient gRPC failures (UNAVAILABLE while Temporal restarts, and the like), made to
 * respect the call's deadline: the SDK's own interceptor backs off 170, 289, 491, 835, 1,419 ms… whatever
 * the deadline, so the attempt after a long back-off starts past it and fails only then ("Deadline
 * exceeded after 0.000s"): a request with a 2 s budget answered its 503 after 3–3.5 s. Here a retry whose
 * back-off would end at or after the deadline (or the retry deadline of `withRetryDeadline`) is not made:
 * the caller gets the last failure at once.
 */
export function deadlineAwareRetryInterceptor(
  base: GrpcRetryOptions = defaultGrpcRetryOptions(),
): Interceptor {
  return (options, nextCall) => {
    let plannedDelayMs = 0;
    // Read when the call is made, in its caller's context (see withRetryDeadline).
    const retryUntil = retryDeadline.getStore();
    const remaining = (now: number) =>
      Math.min(remainingMs(options.deadline, now), remainingMs(retryUntil, now));
    const retry = makeGrpcRetryInterceptor({
      retryableDecider(attempt, status) {
        if (!base.retryableDecider(attempt, status)) return false;
        plannedDelayMs = base.delayFunction(attempt, status);
        return plannedDelayMs < remaining(Date.now());
      },
      delayFunction: () => plannedDelayMs,
    });
    return retry(options, nextCall);
  };
}
