import type { Request, RequestHandler } from 'express';
import { MemoryStore, ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Options, RateLimitExceededEventHandler, RateLimitInfo, Store } from 'express-rate-limit';
import { RedisStore } from 'rate-limit-redis';
import type { RedisReply } from 'rate-limit-redis';
import type { RateLimit, RateLimits } from '../runtime/config';
import type { Logger } from '../runtime/logger';
import { problems } from './problem';
import type { ProblemError } from './problem';
import type { RedisConnection } from './session';

/**
 * The API's rate limits, counted in Redis when sessions are (so every API process shares one count),
 * in process memory otherwise. Each answers 429 problem+json with Retry-After.
 */
export interface RateLimiters {
  /** Sign-in attempts per client address. */
  readonly signIn: RequestHandler;
  /** Failed API key checks per client address and per key prefix. */
  readonly keyFailures: KeyFailureLimit;
  /** Unsafe requests per caller. */
  readonly writes: RequestHandler;
  /**
   * Whether one more refusal of this caller may be written to the audit trail: undefined when it may,
   * else the 429 to answer instead (unrecorded), so refusals cannot amplify into database writes.
   */
  admitRefusal(req: Request): Promise<ProblemError | undefined>;
}

/** Counts failed API key checks only, so a busy connector's successful calls never use up its budget. */
export interface KeyFailureLimit {
  /** The 429 for a client or key prefix whose budget is spent, checked before the key is looked up. */
  refusal(req: Request): Promise<ProblemError | undefined>;
  recordFailure(req: Request): Promise<void>;
}

export interface RateLimitOptions {
  readonly limits: RateLimits;
  /** Redis through the session store's client; undefined counts in memory. */
  readonly redis: RedisConnection | undefined;
  /** Redis key prefix of this deployment (tests use their own). */
  readonly prefix?: string;
  readonly logger: Logger;
}

const NO_LIMIT: RateLimit = { limit: Number.MAX_SAFE_INTEGER, windowMs: 60_000 };

/** Budgets no caller reaches: for benchmarks, and for tests that are not about rate limits. */
export const UNLIMITED: RateLimits = {
  signIn: NO_LIMIT,
  failedKeys: NO_LIMIT,
  writes: NO_LIMIT,
  refusals: NO_LIMIT,
  anonymousRefusals: NO_LIMIT,
};

/** How much of a presented key identifies it for the per-prefix count: the scope prefix and six more characters. */
export const KEY_PREFIX_LENGTH = 16;

/** The client's address, IPv6 grouped by /56 as express-rate-limit recommends (one host owns a /56 or /64). */
function clientKey(req: Request): string {
  return `client:${ipKeyGenerator(req.ip ?? 'unknown')}`;
}

/** A signed-in caller or key by identity (tenant and id), an anonymous one by address. */
export function callerKey(req: Request): string {
  const actor = req.actor;
  return actor === undefined ? clientKey(req) : `actor:${actor.tenantId}:${actor.id}`;
}

function bearerToken(req: Request): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
}

const PROPERTY = 'rateLimitInfo';

/** A count per key and window in an express-rate-limit store, for budgets that are not one per request. */
class Budget {
  private readonly store: Store;

  constructor(
    store: Store | undefined,
    private readonly budget: RateLimit,
    private readonly detail: string,
    private readonly logger: Logger,
  ) {
    this.store = store ?? new MemoryStore();
    // A store that cannot initialise (Redis down or slow) lets requests through; it must not end the process.
    void Promise.resolve(this.store.init?.({ windowMs: budget.windowMs } as Options)).catch(
      (error: unknown) => {
        this.logger.warn({ err: error }, 'rate limit store could not initialise; not limiting');
      },
    );
  }

  /** The 429 when `key` has used its budget up, without counting. */
  async spent(key: string): Promise<ProblemError | undefined> {
    const info = await this.guard(() => this.store.get?.(key));
    return info !== undefined && info.totalHits >= this.budget.limit
      ? this.problem(info.resetTime)
      : undefined;
  }

  /** Counts one more; the 429 when that one is over the budget. */
  async take(key: string): Promise<ProblemError | undefined> {
    const info = await this.guard(() => this.store.increment(key));
    return info !== undefined && info.totalHits > this.budget.limit
      ? this.problem(info.resetTime)
      : undefined;
  }

  private problem(resetTime: Date | undefined): ProblemError {
    const resetMs = resetTime === undefined ? this.budget.windowMs : resetTime.getTime() - Date.now();
    return problems.tooManyRequests(this.detail, Math.max(1, Math.ceil(resetMs / 1_000)));
  }

  /** A store outage lets requests through (sessions in the same Redis answer 503 on their own). */
  private async guard<T>(work: () => Promise<T> | T | undefined): Promise<T | undefined> {
    try {
      return await work();
    } catch (error) {
      this.logger.warn({ err: error }, 'rate limit store unavailable; not limiting');
      return undefined;
    }
  }
}

export function createRateLimiters(options: RateLimitOptions): RateLimiters {
  const prefix = options.prefix ?? 'eucora:rl:';
  const logger = {
    warn: (error: unknown, message?: string) => {
      options.logger.warn({ err: error }, message ?? 'rate limiter warning');
    },
    error: (error: unknown, message?: string) => {
      options.logger.error({ err: error }, message ?? 'rate limiter error');
    },
  };
  const redis = options.redis;
  const store = (name: string): Store | undefined =>
    redis === undefined
      ? undefined
      : new RedisStore({
          prefix: `${prefix}${name}:`,
          sendCommand: (...args: string[]) => redis.sendCommand(args) as Promise<RedisReply>,
        });

  const limiter = (
    name: string,
    budget: RateLimit,
    detail: string,
    keyGenerator: (req: Request) => string,
  ): RequestHandler => {
    const handler: RateLimitExceededEventHandler = (req, _res, next) => {
      const info = (req as unknown as Record<string, RateLimitInfo | undefined>)[PROPERTY];
      const resetMs = info?.resetTime === undefined ? budget.windowMs : info.resetTime.getTime() - Date.now();
      next(problems.tooManyRequests(detail, Math.max(1, Math.ceil(resetMs / 1_000))));
    };
    const backing = store(name);
    return rateLimit({
      windowMs: budget.windowMs,
      limit: budget.limit,
      standardHeaders: false,
      legacyHeaders: false,
      requestPropertyName: PROPERTY,
      // A Redis outage must not take the API down with it: sessions report it as 503 on their own.
      passOnStoreError: true,
      keyGenerator,
      handler,
      logger,
      ...(backing === undefined ? {} : { store: backing }),
    });
  };
  const budget = (name: string, limit: RateLimit, detail: string) =>
    new Budget(store(name), limit, detail, options.logger);

  const perClient = budget(
    'failed-keys-client',
    options.limits.failedKeys,
    'too many failed API key checks from this address',
  );
  const perPrefix = budget(
    'failed-keys-prefix',
    options.limits.failedKeys,
    'too many failed checks of API keys with this prefix',
  );
  const prefixKey = (req: Request) => `prefix:${(bearerToken(req) ?? '').slice(0, KEY_PREFIX_LENGTH)}`;
  const refusals = budget(
    'refusals',
    options.limits.refusals,
    'too many refused requests; wait before trying again',
  );
  const anonymousRefusals = budget(
    'anonymous-refusals',
    options.limits.anonymousRefusals,
    'too many refused anonymous requests; wait before trying again',
  );

  return {
    signIn: limiter(
      'sign-in',
      options.limits.signIn,
      'too many sign-in attempts from this address',
      clientKey,
    ),
    keyFailures: {
      async refusal(req) {
        return (await perClient.spent(clientKey(req))) ?? (await perPrefix.spent(prefixKey(req)));
      },
      async recordFailure(req) {
        await Promise.all([perClient.take(clientKey(req)), perPrefix.take(prefixKey(req))]);
      },
    },
    writes: limiter('writes', options.limits.writes, 'too many changes from this caller', callerKey),
    async admitRefusal(req) {
      const perCaller = await refusals.take(callerKey(req));
      if (perCaller !== undefined || req.actor !== undefined) return perCaller;
      return anonymousRefusals.take('anonymous');
    },
  };
}
