import { DrizzleQueryError } from 'drizzle-orm';
import { DatabaseError } from 'pg';
import type * as Redis from 'redis';
import { WorkflowUpdateRPCTimeoutOrCancelledError, isGrpcServiceError } from '@temporalio/client';

/** The dependencies a request may find down; the names `/health` reports them under. */
export type Dependency = 'database' | 'session_store' | 'temporal';

const DESCRIPTIONS: Record<Dependency, string> = {
  database: 'the database',
  session_store: 'the session store',
  temporal: 'the orchestrator (Temporal)',
};

/** How long a client is asked to wait (Retry-After) before retrying a request a dependency failed. */
export const DEPENDENCY_RETRY_AFTER_SECONDS = 5;

/**
 * A failure a component has already attributed to a dependency (the session store wraps every error of
 * its store in one). The error mapping answers it, and every failure `unavailableDependency` recognises,
 * with 503.
 */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: Dependency,
    options?: { readonly cause?: unknown },
  ) {
    super(`${DESCRIPTIONS[dependency]} is unavailable`, options);
    this.name = 'DependencyUnavailableError';
  }
}

export function describeDependency(dependency: Dependency): string {
  return DESCRIPTIONS[dependency];
}

/** Node socket errors: the server refused, dropped or never answered the connection. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs of a server that is shutting down, starting, out of connections, or too slow: 57P01
 * admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 53300 too_many_connections, 57014
 * query_canceled (statement_timeout), 55P03 lock_not_available (lock_timeout); class 08 is every
 * connection exception.
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '57014', '55P03']);

/** What pg and pg-pool say when a connection cannot be had or was lost (they carry no code). */
const DRIVER_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Client was closed|Cannot use a pool after calling end)/;

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | null | undefined)?.code;
}

/** A PostgreSQL connection or availability failure, as pg, pg-pool or the server report it. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = codeOf(error);
  if (typeof code === 'string') {
    if (SOCKET_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code)) return true;
    if (error instanceof DatabaseError && code.startsWith('08')) return true;
  }
  return error instanceof Error && DRIVER_MESSAGES.test(error.message);
}

/**
 * gRPC statuses of a Temporal that does not answer: UNAVAILABLE (down, restarting, unreachable),
 * DEADLINE_EXCEEDED (our deadline ran out), RESOURCE_EXHAUSTED (overloaded, rate limited).
 */
const UNAVAILABLE_GRPC_CODES = new Set([4, 8, 14]);
const FAILED_PRECONDITION = 9;

function isTemporalUnavailable(error: unknown): boolean {
  if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
  if (!isGrpcServiceError(error)) return false;
  const code: number = error.code;
  if (UNAVAILABLE_GRPC_CODES.has(code)) return true;
  // A query needs a worker: with none polling, the server refuses it at once.
  return code === FAILED_PRECONDITION && /no poller/i.test(error.details);
}

/** node-redis's own errors (connection lost, offline, closed, timed out), not a reply the server gave. */
const REDIS_FAILURE_NAMES = new Set([
  'ClientClosedError',
  'ClientOfflineError',
  'ConnectionTimeoutError',
  'SocketTimeoutError',
  'SocketClosedUnexpectedlyError',
  'DisconnectsClientError',
  'ReconnectStrategyError',
  'TimeoutError',
]);

function isRedisFailure(error: unknown): boolean {
  // node-redis is required only once an error of one of its class names shows up: a worker, which never
  // talks to Redis, does not load it (about 18 MiB of RSS). The instanceof check keeps the answer exact.
  if (!(error instanceof Error) || !REDIS_FAILURE_NAMES.has(error.constructor.name)) return false;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose, see above
  const redis = require('redis') as typeof Redis;
  return [
    redis.ClientClosedError,
    redis.ClientOfflineError,
    redis.ConnectionTimeoutError,
    redis.SocketTimeoutError,
    redis.SocketClosedUnexpectedlyError,
    redis.DisconnectsClientError,
    redis.ReconnectStrategyError,
    redis.TimeoutError,
  ].some((kind) => error instanceof kind);
}

function* causes(error: unknown): Generator {
  let current = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth += 1) {
    yield current;
    current = (current as { cause?: unknown }).cause;
  }
}

/**
 * The dependency whose unavailability `error` is, or undefined when it is anything else (a bug, a
 * constraint violation, a refusal). Looks through wrappers (`cause` chains): drizzle's failed query,
 * the Temporal client's ServiceError around the gRPC status.
 */
export function unavailableDependency(error: unknown): Dependency | undefined {
  for (const candidate of causes(error)) {
    if (candidate instanceof DependencyUnavailableError) return candidate.dependency;
    if (candidate instanceof DrizzleQueryError && isDatabaseUnavailable(candidate.cause)) return 'database';
    if (candidate instanceof DatabaseError && isDatabaseUnavailable(candidate)) return 'database';
    // pg's own words for a lost or unobtainable connection, even where no query wrapped them.
    if (candidate instanceof Error && DRIVER_MESSAGES.test(candidate.message)) return 'database';
    if (isTemporalUnavailable(candidate)) return 'temporal';
    if (isRedisFailure(candidate)) return 'session_store';
  }
  return undefined;
}

/**
 * What a log line may say about a failure: the innermost cause's class, code and message. Never a
 * failed query's SQL or parameters, nor a server's `detail` (which can quote row values).
 */
export function failureSummary(error: unknown): { error: string; code?: string; message: string } {
  let innermost: unknown = error;
  for (const candidate of causes(error)) innermost = candidate;
  if (!(innermost instanceof Error)) return { error: typeof innermost, message: String(innermost) };
  const code = codeOf(innermost);
  return {
    error: innermost.name,
    ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}),
    message: innermost.message,
  };
}
