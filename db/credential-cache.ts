import type { ConnectorCredentialRow } from './repositories/connector-credentials';

/** The channel a revocation is announced on (payload: the credential's id), as its transaction commits. */
export const CREDENTIAL_CHANGES_CHANNEL = 'eucora_credential_changes';

/** How long a verified key is served from memory at most, even with every notification heard. */
export const DEFAULT_CREDENTIAL_CACHE_TTL_MS = 60_000;
const DEFAULT_MAX_ENTRIES = 10_000;

/**
 * Verified API keys (key hash → credential row), so that a connector polling every few seconds costs no
 * database read per request. Revocation takes effect at once:
 * - nothing is served from memory unless revocations reach this process (`setListening(true)`: its
 *   PostgreSQL LISTEN connection is up, or PGlite, which is this process alone); while the listener is
 *   down, every request reads the database as it did without the cache;
 * - a revocation is announced on `CREDENTIAL_CHANGES_CHANNEL` inside its transaction, which PostgreSQL
 *   delivers to every listening process when it commits; the revoking process also forgets the key
 *   itself after the commit, before it answers;
 * - a lookup that was under way while a key was forgotten does not put its (older) row in the cache
 *   (a generation count), so a revocation cannot be undone by a read that raced it;
 * - a key past its `expires_at` is refused from memory as from the database, and an entry lives at most
 *   `ttlMs` (a backstop for a change made behind the API's back, in SQL).
 * Unknown keys are never cached: a wrong key is always looked up (and counted by the failure limit).
 */
export class CredentialCache {
  private readonly entries = new Map<string, { row: ConnectorCredentialRow; readonly cachedAt: number }>();
  private generation = 0;
  private listening = false;

  constructor(
    private readonly ttlMs: number = DEFAULT_CREDENTIAL_CACHE_TTL_MS,
    private readonly now: () => number = Date.now,
    private readonly maxEntries: number = DEFAULT_MAX_ENTRIES,
  ) {}

  /** Whether revocations reach this process; any change forgets everything. */
  setListening(listening: boolean): void {
    this.listening = listening;
    this.entries.clear();
    this.generation += 1;
  }

  get serving(): boolean {
    return this.listening;
  }

  async find(
    keyHash: string,
    at: Date,
    load: () => Promise<ConnectorCredentialRow | undefined>,
  ): Promise<ConnectorCredentialRow | undefined> {
    const entry = this.entries.get(keyHash);
    if (entry !== undefined) {
      const expired = entry.row.expiresAt !== null && entry.row.expiresAt.getTime() <= at.getTime();
      if (this.listening && !expired && this.now() - entry.cachedAt < this.ttlMs) return entry.row;
      this.entries.delete(keyHash);
    }
    const generation = this.generation;
    const row = await load();
    if (row !== undefined && this.listening && generation === this.generation) {
      if (this.entries.size >= this.maxEntries) {
        const oldest = this.entries.keys().next();
        if (oldest.done !== true) this.entries.delete(oldest.value);
      }
      this.entries.set(keyHash, { row, cachedAt: this.now() });
    }
    return row;
  }

  /** A credential was revoked (or changed): its key is looked up in the database from now on. */
  forget(credentialId: string): void {
    this.generation += 1;
    for (const [keyHash, entry] of this.entries) {
      if (entry.row.id === credentialId) this.entries.delete(keyHash);
    }
  }

  /** The key was used at `at` and `last_used_at` written: the cached row says so too. */
  noteUse(credentialId: string, at: Date): void {
    for (const entry of this.entries.values()) {
      if (entry.row.id === credentialId) entry.row = { ...entry.row, lastUsedAt: at };
    }
  }
}
