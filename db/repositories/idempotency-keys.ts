import { randomUUID } from 'node:crypto';
import { and, eq, lte, sql } from 'drizzle-orm';
import type { DatabaseExecutor } from '../client';
import type { TenantId } from '../tenant-id';
import { idempotencyKeys } from '../schema';

export type IdempotencyRecordRow = typeof idempotencyKeys.$inferSelect;

/** The answer an operation gave, kept for its replays. */
export interface StoredAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
}

export interface IdempotencyRequest {
  readonly key: string;
  readonly operation: string;
  readonly requestHash: string;
  /** How long an attempt holds the key before a retry may take it over. */
  readonly leaseMs: number;
  /** How long the key is remembered. */
  readonly ttlMs: number;
}

/**
 * What a request with a key finds:
 * - `claimed`: it holds the key and acts (`resumed` when an earlier attempt held it and never answered);
 * - `completed`: an earlier request answered; replay that answer;
 * - `mismatch`: the key belongs to another request;
 * - `in-progress`: an earlier attempt holds the key for `retryAfterMs` more.
 */
export type IdempotencyClaim =
  | { readonly kind: 'claimed'; readonly record: IdempotencyRecordRow; readonly resumed: boolean }
  | { readonly kind: 'completed'; readonly answer: StoredAnswer }
  | { readonly kind: 'mismatch' }
  | { readonly kind: 'in-progress'; readonly retryAfterMs: number };

const afterMs = (ms: number) => sql`now() + ${ms} * interval '1 millisecond'`;

/**
 * The Idempotency-Keys of one tenant. Times are the database's (`now()`), so API processes with
 * skewed clocks agree on when a lease or a key has run out.
 */
export class IdempotencyKeyRepository {
  constructor(
    private readonly db: DatabaseExecutor,
    private readonly tenantId: TenantId,
  ) {}

  async claim(request: IdempotencyRequest): Promise<IdempotencyClaim> {
    // Two rounds at most: a key that expires or is released between our insert and our read is read again.
    for (let round = 0; ; round += 1) {
      const fresh = {
        operation: request.operation,
        requestHash: request.requestHash,
        effectId: randomUUID(),
        state: 'IN_PROGRESS' as const,
        holder: randomUUID(),
        lockedUntil: afterMs(request.leaseMs),
        responseStatus: null,
        responseHeaders: null,
        responseBody: null,
        createdAt: sql`now()`,
        expiresAt: afterMs(request.ttlMs),
      };
      // A new key, or an expired one started afresh; a live key is left alone (and waited for, when a
      // concurrent transaction is inserting it).
      const [claimed] = await this.db
        .insert(idempotencyKeys)
        .values({ ...fresh, tenantId: this.tenantId, key: request.key })
        .onConflictDoUpdate({
          target: [idempotencyKeys.tenantId, idempotencyKeys.key],
          set: fresh,
          setWhere: sql`${idempotencyKeys.expiresAt} <= now()`,
        })
        .returning();
      if (claimed !== undefined) return { kind: 'claimed', record: claimed, resumed: false };

      const [existing] = await this.db
        .select({
          record: idempotencyKeys,
          leaseLeftMs:
            sql<number>`greatest(0, extract(epoch from (${idempotencyKeys.lockedUntil} - now())) * 1000)`.mapWith(
              Number,
            ),
        })
        .from(idempotencyKeys)
        .where(this.keyIs(request.key));
      if (existing === undefined) {
        if (round < 1) continue;
        throw new Error('an idempotency key vanished twice while it was claimed');
      }
      const { record, leaseLeftMs } = existing;
      if (record.operation !== request.operation || record.requestHash !== request.requestHash) {
        return { kind: 'mismatch' };
      }
      if (record.state === 'COMPLETED') {
        return {
          kind: 'completed',
          answer: {
            status: record.responseStatus ?? 200,
            headers: record.responseHeaders ?? {},
            body: record.responseBody,
          },
        };
      }
      if (leaseLeftMs > 0) return { kind: 'in-progress', retryAfterMs: leaseLeftMs };
      // The attempt that held the key never answered (its process died, or it failed with a 5xx): take over.
      const [resumed] = await this.db
        .update(idempotencyKeys)
        .set({ holder: randomUUID(), lockedUntil: afterMs(request.leaseMs) })
        .where(
          and(
            this.keyIs(request.key),
            eq(idempotencyKeys.state, 'IN_PROGRESS'),
            eq(idempotencyKeys.holder, record.holder),
            lte(idempotencyKeys.lockedUntil, sql`now()`),
          ),
        )
        .returning();
      if (resumed !== undefined) return { kind: 'claimed', record: resumed, resumed: true };
      if (round < 1) continue;
      return { kind: 'in-progress', retryAfterMs: request.leaseMs };
    }
  }

  /** Stores the answer of the attempt holding the key; false when another attempt took the key over. */
  async complete(record: IdempotencyRecordRow, answer: StoredAnswer): Promise<boolean> {
    const done = await this.db
      .update(idempotencyKeys)
      .set({
        state: 'COMPLETED',
        responseStatus: answer.status,
        responseHeaders: { ...answer.headers },
        responseBody: answer.body ?? null,
      })
      .where(this.heldBy(record))
      .returning({ key: idempotencyKeys.key });
    return done.length > 0;
  }

  /** Extends the lease of the attempt holding the key; false when it no longer holds it. */
  async renew(record: IdempotencyRecordRow, leaseMs: number): Promise<boolean> {
    const renewed = await this.db
      .update(idempotencyKeys)
      .set({ lockedUntil: afterMs(leaseMs) })
      .where(this.heldBy(record))
      .returning({ key: idempotencyKeys.key });
    return renewed.length > 0;
  }

  /**
   * Bounds, for the rest of this transaction, how long a statement waits for a lock (a concurrent
   * transaction inserting the same key): PostgreSQL then fails it with 55P03 lock_not_available.
   */
  async limitLockWait(ms: number): Promise<void> {
    await this.db.execute(sql`select set_config('lock_timeout', ${`${String(ms)}ms`}, true)`);
  }

  /** Forgets the key: the attempt had no effect (it was refused), so the key may be used afresh. */
  async release(record: IdempotencyRecordRow): Promise<void> {
    await this.db.delete(idempotencyKeys).where(this.heldBy(record));
  }

  /** Lets the next retry take over at once: the attempt failed and its effect may be half done. */
  async unlock(record: IdempotencyRecordRow): Promise<void> {
    await this.db
      .update(idempotencyKeys)
      .set({ lockedUntil: sql`now()` })
      .where(this.heldBy(record));
  }

  private keyIs(key: string) {
    return and(eq(idempotencyKeys.tenantId, this.tenantId), eq(idempotencyKeys.key, key));
  }

  private heldBy(record: IdempotencyRecordRow) {
    return and(
      this.keyIs(record.key),
      eq(idempotencyKeys.state, 'IN_PROGRESS'),
      eq(idempotencyKeys.holder, record.holder),
    );
  }
}
