import { AsyncLocalStorage } from 'node:async_hooks';

/** The correlation id of the request or activity being served, for log lines and audit rows. */
const store = new AsyncLocalStorage<{ readonly correlationId: string }>();

export function runWithCorrelationId<T>(correlationId: string, fn: () => T): T {
  return store.run({ correlationId }, fn);
}

export function currentCorrelationId(): string | undefined {
  return store.getStore()?.correlationId;
}
