import { createHash } from 'node:crypto';
import { z } from 'zod';
import type {
  IdempotencyClaim,
  IdempotencyRecordRow,
  StoredAnswer,
} from '../db/repositories/idempotency-keys';
import type { TenantStore } from '../db/tenant-store';
import { canonicalJson } from '../policy/canonical-json';
import { textMatching } from '../policy/text';
import type { Logger } from '../runtime/logger';
import { ProblemError, problems } from './problem';

/**
 * Idempotency-Key, declared once per endpoint and applied by `mountEndpoint` (one mechanism, not a copy
 * per route). A retry with the same key answers the first answer (status, headers, body) with
 * `Idempotent-Replayed: true` and has no second effect; the same key with another request is a 409;
 * keys are per tenant and remembered for `ttlMs`. Only 2xx answers are kept: a refused request (4xx)
 * changed nothing and forgets its key; a failed one (5xx) may be retried with it.
 *
 * How an endpoint's effect stays single depends on where it lands:
 * - `transactional`: database writes only. The key, the writes and the stored answer commit in one
 *   transaction: there is no moment where the effect exists without its answer. An identical request
 *   arriving meanwhile waits for that commit (PostgreSQL's unique index; PGlite runs one transaction at
 *   a time) and replays.
 * - `recorded`: the effect reaches the orchestrator, outside any transaction. Record, then act: the key
 *   is committed first, with a lease; the handler keys its effect on `effectId` (stable across every
 *   attempt of the key), so when a retry takes over an attempt that never answered (its process died
 *   after the effect, before the answer was stored), re-running converges on the same effect instead
 *   of making a second one. An identical request arriving while the lease runs gets 409
 *   `idempotency-key-in-progress` with Retry-After (as the IETF Idempotency-Key draft prescribes).
 */
export type IdempotencyMode = 'transactional' | 'recorded';

export interface IdempotencySettings {
  /** How long a key is remembered; a later request with it is a new request. */
  readonly ttlMs: number;
  /** How long an attempt holds its key before a retry may take it over (`recorded` endpoints). */
  readonly leaseMs: number;
}

export const DEFAULT_IDEMPOTENCY_SETTINGS: IdempotencySettings = {
  ttlMs: 24 * 60 * 60 * 1000,
  leaseMs: 15 * 1000,
};

/** What a handler learns about the key it runs under. */
export interface IdempotentAttempt {
  readonly key: string;
  /** The same for every attempt of the key: an intent id, a workflow update id. */
  readonly effectId: string;
  /** An earlier attempt held the key and never answered: its effect may have happened. */
  readonly resumed: boolean;
}

/** The part of an endpoint's result that the mechanism stores and replays. */
export interface IdempotentAnswer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** What a replay answers instead of `body` when `body` holds a secret shown once: never stored. */
  readonly replayBody?: unknown;
}

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'Idempotent-Replayed';

export const idempotencyKeyHeaderShape = {
  [IDEMPOTENCY_KEY_HEADER]: textMatching(
    /^[A-Za-z0-9_.:-]{1,200}$/,
    '1 to 200 of letters, digits and _ . : -',
  )
    .optional()
    .describe(
      'makes the request safe to retry: a retry with the same key (for 24 hours, per tenant) answers the ' +
        'first answer with `Idempotent-Replayed: true` and has no second effect; the same key with another ' +
        'request is a 409. A UUID per user action is a good key.',
    ),
};

export const replayedHeaderDescription = {
  description:
    '`true` when this is the stored answer of an earlier request with the same Idempotency-Key ' +
    '(or that request’s effect, completed by this retry)',
  schema: { type: 'string' as const, enum: ['true'] },
};

/** SHA-256 of who asks what: another caller, operation, path, query or body under the same key is a conflict. */
export function requestHash(request: {
  readonly operation: string;
  readonly actor: string;
  readonly params: unknown;
  readonly query: unknown;
  readonly body: unknown;
}): string {
  const comparable: unknown = JSON.parse(JSON.stringify({ ...request, body: request.body ?? null }));
  return createHash('sha256').update(canonicalJson(comparable)).digest('hex');
}

export interface IdempotentCall {
  readonly mode: IdempotencyMode;
  /** The caller's tenant: keys are per tenant. */
  readonly store: TenantStore;
  readonly key: string;
  readonly operation: string;
  readonly requestHash: string;
  readonly settings: IdempotencySettings;
  readonly logger: Logger;
  /** Aborts when the caller stopped waiting (its connection closed): the lease is then no longer renewed. */
  readonly abandoned?: AbortSignal;
  /** Runs the operation; `store` is the tenant store to write through (the key's transaction when transactional). */
  readonly act: (store: TenantStore, attempt: IdempotentAttempt) => Promise<IdempotentAnswer>;
}

export interface IdempotentOutcome {
  readonly answer: IdempotentAnswer;
  readonly replayed: boolean;
}

const succeeded = (answer: IdempotentAnswer) => answer.status >= 200 && answer.status < 300;

function stored(answer: IdempotentAnswer): StoredAnswer {
  return {
    status: answer.status,
    headers: answer.headers ?? {},
    body: answer.replayBody ?? answer.body ?? null,
  };
}

/** The claim's answer when the caller does not hold the key: a replay, or a 409. */
function settle(claim: Exclude<IdempotencyClaim, { kind: 'claimed' }>): IdempotentOutcome {
  switch (claim.kind) {
    case 'completed':
      return {
        answer: {
          status: claim.answer.status,
          headers: claim.answer.headers,
          ...(claim.answer.body === null ? {} : { body: claim.answer.body }),
        },
        replayed: true,
      };
    case 'mismatch':
      throw problems.conflict(
        'idempotency-key-reused',
        'this Idempotency-Key was used for a different request',
      );
    case 'in-progress':
      throw inProgress(claim.retryAfterMs);
  }
}

function inProgress(retryAfterMs: number): ProblemError {
  return new ProblemError(
    409,
    'idempotency-key-in-progress',
    'Conflict',
    'a request with this Idempotency-Key is still being processed: retry after Retry-After seconds',
    undefined,
    { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
  );
}

/** How long a transactional request waits for an identical one's transaction before answering 409. */
const KEY_LOCK_WAIT_MS = 2_000;

function isLockTimeout(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof Error; depth += 1) {
    if ((current as Error & { code?: unknown }).code === '55P03') return true;
    current = current.cause;
  }
  return false;
}

/**
 * Renews the lease of a `recorded` attempt every third of it while the attempt works and its caller
 * still waits: a slow but live attempt keeps its key, and a retry meanwhile is told to wait (409) instead
 * of taking over and repeating the effect. A process that dies stops renewing; so does an attempt whose
 * caller hung up, whose retry may then take over when the lease runs out.
 */
function holdLease(call: IdempotentCall, record: IdempotencyRecordRow): { stop(): Promise<void> } {
  const keys = call.store.idempotencyKeys;
  let renewing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(
    () => {
      if (call.abandoned?.aborted === true) {
        clearInterval(timer);
        return;
      }
      renewing = renewing
        .then(() => keys.renew(record, call.settings.leaseMs))
        .then(
          (held) => {
            if (!held) clearInterval(timer);
          },
          (error: unknown) => {
            call.logger.warn(
              { err: error, operation: call.operation },
              'could not renew an idempotency lease',
            );
          },
        );
    },
    Math.max(100, Math.floor(call.settings.leaseMs / 3)),
  );
  return {
    async stop() {
      clearInterval(timer);
      // A renewal in flight must not extend the lease after the attempt let go of it.
      await renewing;
    },
  };
}

function attemptOf(record: IdempotencyRecordRow, resumed: boolean): IdempotentAttempt {
  return { key: record.key, effectId: record.effectId, resumed };
}

/** Runs one request that carries an Idempotency-Key; see IdempotencyMode. */
export async function answerIdempotently(call: IdempotentCall): Promise<IdempotentOutcome> {
  const request = {
    key: call.key,
    operation: call.operation,
    requestHash: call.requestHash,
    leaseMs: call.settings.leaseMs,
    ttlMs: call.settings.ttlMs,
  };

  if (call.mode === 'transactional') {
    // A thrown refusal rolls the key back with everything else: the key is free again.
    return call.store.transaction(async (tx) => {
      await tx.idempotencyKeys.limitLockWait(KEY_LOCK_WAIT_MS);
      let claim: IdempotencyClaim;
      try {
        claim = await tx.idempotencyKeys.claim(request);
      } catch (error) {
        // An identical request's transaction holds the key longer than we wait: it is still in progress.
        if (isLockTimeout(error)) throw inProgress(KEY_LOCK_WAIT_MS);
        throw error;
      }
      if (claim.kind !== 'claimed') return settle(claim);
      const answer = await call.act(tx, attemptOf(claim.record, claim.resumed));
      if (succeeded(answer)) await tx.idempotencyKeys.complete(claim.record, stored(answer));
      else await tx.idempotencyKeys.release(claim.record);
      return { answer, replayed: false };
    });
  }

  const keys = call.store.idempotencyKeys;
  const claim = await keys.claim(request);
  if (claim.kind !== 'claimed') return settle(claim);
  const { record } = claim;
  const lease = holdLease(call, record);
  let answer: IdempotentAnswer;
  try {
    answer = await call.act(call.store, attemptOf(record, claim.resumed));
  } catch (error) {
    await lease.stop();
    // Refused (4xx): nothing happened, forget the key. Failed: the effect may be half done, so the
    // next retry takes over at once and completes it.
    const refused = error instanceof ProblemError && error.status < 500;
    await (refused ? keys.release(record) : keys.unlock(record)).catch((cleanup: unknown) => {
      call.logger.warn(
        { err: cleanup, operation: call.operation },
        'could not free an idempotency key; it frees itself when its lease runs out',
      );
    });
    throw error;
  }
  await lease.stop();
  try {
    if (!succeeded(answer)) await keys.release(record);
    else if (!(await keys.complete(record, stored(answer)))) {
      call.logger.warn({ operation: call.operation }, 'another attempt took this idempotency key over');
    }
  } catch (error) {
    // The effect happened: answer it. A retry finds the key unanswered and converges on the same effect.
    call.logger.warn(
      { err: error, operation: call.operation },
      'could not store the answer of an idempotent request',
    );
  }
  return { answer, replayed: claim.resumed && succeeded(answer) };
}

/** Validates and documents the Idempotency-Key header next to an endpoint's own headers. */
export function withIdempotencyKeyHeader(headers: z.ZodType | undefined): z.ZodObject {
  return headers === undefined
    ? z.object(idempotencyKeyHeaderShape)
    : (headers as z.ZodObject).extend(idempotencyKeyHeaderShape);
}
