/**
 * Rows that almost never change and are read on every request or activity (a tenant's active risk model,
 * the tenant of a directory), kept in memory for `ttlMs`. The process that changes one invalidates it at
 * once; `ttlMs` bounds how long another process (an API beside a separate worker) may serve the old row.
 * Only found rows are kept: a miss is asked again, so a tenant linked elsewhere is seen at once.
 */
export class LookupCache<V> {
  private readonly entries = new Map<string, { readonly value: V; readonly expiresAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V): void {
    if (this.ttlMs > 0) this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
  }

  invalidate(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

/** How long another process may serve a superseded risk model or directory link (this process: never). */
export const DEFAULT_LOOKUP_CACHE_TTL_MS = 5_000;
