import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What the log lines of the work being served carry: the request id (a client's X-Correlation-ID, for
 * tracing) and, once known, the correlation id of the intent the work belongs to.
 */
export interface LogContext {
  readonly requestId?: string;
  readonly correlationId?: string;
}

const store = new AsyncLocalStorage<LogContext>();

/** Runs `fn` with the request id bound to every log line it writes. */
export function runWithRequestId<T>(requestId: string, fn: () => T): T {
  return store.run({ ...store.getStore(), requestId }, fn);
}

/** Runs `fn` with an intent's correlation id bound to every log line it writes (keeping the request id). */
export function runWithCorrelationId<T>(correlationId: string, fn: () => T): T {
  return store.run({ ...store.getStore(), correlationId }, fn);
}

export function currentLogContext(): LogContext {
  return store.getStore() ?? {};
}
