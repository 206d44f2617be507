import { defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { ConnectionOptions, GrpcRetryOptions } from '@temporalio/client';

type Interceptor = NonNullable<ConnectionOptions['interceptors']>[number];

/** The milliseconds left before a gRPC call's deadline (Infinity when it has none). */
function remainingMs(deadline: unknown, now: number): number {
  if (deadline instanceof Date) return deadline.getTime() - now;
  if (typeof deadline === 'number') return deadline - now;
  return Number.POSITIVE_INFINITY;
}

/**
 * The SDK's retry of transient gRPC failures (UNAVAILABLE while Temporal restarts, and the like), made to
 * respect the call's deadline: the SDK's own interceptor backs off 170, 289, 491, 835, 1,419 ms… whatever
 * the deadline, so the attempt after a long back-off starts past it and fails only then ("Deadline
 * exceeded after 0.000s"): a request with a 2 s budget answered its 503 after 3–3.5 s. Here a retry whose
 * back-off would end at or after the deadline is not made: the caller gets the last failure at once.
 */
export function deadlineAwareRetryInterceptor(
  base: GrpcRetryOptions = defaultGrpcRetryOptions(),
): Interceptor {
  return (options, nextCall) => {
    let plannedDelayMs = 0;
    const retry = makeGrpcRetryInterceptor({
      retryableDecider(attempt, status) {
        if (!base.retryableDecider(attempt, status)) return false;
        plannedDelayMs = base.delayFunction(attempt, status);
        return plannedDelayMs < remainingMs(options.deadline, Date.now());
      },
      delayFunction: () => plannedDelayMs,
    });
    return retry(options, nextCall);
  };
}
