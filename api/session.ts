import session from 'express-session';
import type { Request, RequestHandler } from 'express';
import { RedisStore } from 'connect-redis';
import { TimeoutError, createClient } from 'redis';
import { DependencyUnavailableError, failureSummary } from '../runtime/dependency-failure';
import type { Logger } from '../runtime/logger';

export interface SessionBackend {
  readonly kind: 'redis' | 'memory';
  /** The session cookie's name: `__Host-eucora.sid` with Secure cookies, `eucora.sid` over plain http. */
  readonly cookieName: string;
  readonly middleware: RequestHandler;
  /** Signs new cookies with the first secret from now on; cookies signed with any of them stay valid. */
  rotateSecrets(secrets: readonly string[]): void;
  /** The Redis connection sessions use, shared with the rate limiters; undefined in memory mode. */
  readonly redis: RedisConnection | undefined;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** What other Redis users (the rate limiters) need of the session store's client. */
export interface RedisConnection {
  sendCommand(args: string[]): Promise<unknown>;
}

export interface SessionOptions {
  readonly redisUrl: string | undefined;
  /** The signing secret, or a list (newest first) so a rotated secret still verifies existing cookies. */
  readonly secret: string | readonly string[];
  /** Secure and `__Host-` prefixed: whenever the public URL is https (always in production). */
  readonly secureCookies: boolean;
  /** A session unused this long ends: the cookie and the store entry expire together. */
  readonly idleTimeoutMs: number;
  /** A session ends this long after sign-in however busy it is. */
  readonly absoluteTimeoutMs: number;
  /**
   * Redis connect and command timeout. Commands are refused at once while the client is disconnected
   * (no offline queue), so a Redis outage is a 503 within this time, never a hang.
   */
  readonly redisTimeoutMs?: number;
  readonly logger: Logger;
  /** Redis key prefix; tests use their own so parallel files do not share sessions. */
  readonly prefix?: string;
}

export const DEFAULT_REDIS_TIMEOUT_MS = 1_000;
/** Commands a Redis that stopped answering may hold before new ones are refused at once. */
const MAX_PENDING_COMMANDS = 1_000;
const MAX_RECONNECT_DELAY_MS = 2_000;

export const SECURE_COOKIE_NAME = '__Host-eucora.sid';
export const PLAIN_COOKIE_NAME = 'eucora.sid';

/** Sessions in Redis through connect-redis, or in process memory (with a warning) when REDIS_URL is unset. */
export async function createSessionBackend(options: SessionOptions): Promise<SessionBackend> {
  // `__Host-`: the browser only accepts it Secure, with Path=/ and no Domain, so no sibling subdomain can
  // plant or overwrite it. Plain http (development) cannot carry a Secure cookie, so it keeps the plain name.
  const cookieName = options.secureCookies ? SECURE_COOKIE_NAME : PLAIN_COOKIE_NAME;
  const common = {
    secret: typeof options.secret === 'string' ? options.secret : [...options.secret],
    name: cookieName,
    resave: false,
    saveUninitialized: false,
    // Every answer to a signed-in caller moves the idle deadline (cookie and store TTL) forward.
    rolling: true,
    cookie: {
      httpOnly: true,
      // Lax keeps the cookie off cross-site POSTs; the OIDC callback uses response_mode=query for that reason.
      sameSite: 'lax' as const,
      secure: options.secureCookies,
      path: '/',
      maxAge: options.idleTimeoutMs,
    },
  };
  const absoluteLimit = absoluteTimeout(options.absoluteTimeoutMs);
  /** One session middleware per set of secrets, all on the same store: a rotation keeps every session. */
  const rotating = (store: session.Store) => {
    let current = session({ ...common, store });
    return {
      middleware: chain(
        sessionStoreFailures((req, res, next) => {
          current(req, res, next);
        }),
        absoluteLimit,
      ),
      rotateSecrets(secrets: readonly string[]) {
        current = session({ ...common, secret: [...secrets], store });
      },
    };
  };

  if (options.redisUrl === undefined) {
    options.logger.warn('REDIS_URL is unset: sessions live in process memory and end with the process');
    return {
      kind: 'memory',
      cookieName,
      ...rotating(new session.MemoryStore()),
      redis: undefined,
      ping: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
  }

  const timeoutMs = options.redisTimeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
  const client = createClient({
    url: options.redisUrl,
    disableOfflineQueue: true,
    commandsQueueMaxLength: MAX_PENDING_COMMANDS,
    commandOptions: { timeout: timeoutMs },
    socket: {
      connectTimeout: timeoutMs,
      // Reconnect for as long as it takes, at most every two seconds: the API recovers when Redis does.
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS),
    },
  });
  // Reported once per outage, not once per reconnection attempt.
  let reported = false;
  client.on('error', (error: unknown) => {
    if (reported) return;
    reported = true;
    options.logger.warn({ cause: failureSummary(error) }, 'redis session store unavailable');
  });
  client.on('ready', () => {
    if (reported) options.logger.info('redis session store available again');
    reported = false;
  });
  await client.connect();
  const store = new BoundedRedisStore({ client, prefix: options.prefix ?? 'eucora:sess:' }, timeoutMs);
  return {
    kind: 'redis',
    cookieName,
    ...rotating(store),
    redis: { sendCommand: (args) => withTimeout(client.sendCommand(args), timeoutMs) },
    async ping() {
      await client.ping();
    },
    async close() {
      // A Redis that is down takes no QUIT: drop the connection instead of waiting for it.
      if (client.isReady) await client.quit();
      else client.destroy();
    },
  };
}

/**
 * `work`, or a TimeoutError after `ms`. node-redis's own command timeout ends when the command is
 * written: a Redis that accepts commands and never answers (frozen, partitioned) would hold them forever.
 */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new TimeoutError());
    }, ms);
  });
  return Promise.race([work, expiry]).finally(() => {
    clearTimeout(timer);
  });
}

type StoreCallback<T> = (error: unknown, data?: T) => void;

/** connect-redis whose every call a request waits on ends within the Redis timeout. */
class BoundedRedisStore extends RedisStore {
  constructor(
    options: ConstructorParameters<typeof RedisStore>[0],
    private readonly timeoutMs: number,
  ) {
    super(options);
  }

  override get(sid: string, callback?: StoreCallback<session.SessionData | null>): Promise<unknown> {
    return this.bounded(super.get(sid) as Promise<session.SessionData | null>, callback);
  }

  override set(sid: string, data: session.SessionData, callback?: StoreCallback<unknown>): Promise<unknown> {
    return this.bounded(super.set(sid, data) as Promise<unknown>, callback);
  }

  override touch(
    sid: string,
    data: session.SessionData,
    callback?: StoreCallback<unknown>,
  ): Promise<unknown> {
    return this.bounded(super.touch(sid, data) as Promise<unknown>, callback);
  }

  override destroy(sid: string, callback?: StoreCallback<unknown>): Promise<unknown> {
    return this.bounded(super.destroy(sid) as Promise<unknown>, callback);
  }

  private async bounded<T>(work: Promise<T>, callback: StoreCallback<T> | undefined): Promise<T | undefined> {
    let result: T;
    try {
      result = await withTimeout(work, this.timeoutMs);
    } catch (error) {
      if (callback === undefined) throw error;
      callback(error);
      return undefined;
    }
    callback?.(null, result);
    return result;
  }
}

/**
 * The session middleware fails only when its store does: whatever the store threw (Redis offline, a
 * command timed out), the request meets an unavailable session store (503), not an anonymous 401.
 */
export function sessionStoreFailures(middleware: RequestHandler): RequestHandler {
  return (req, res, next) => {
    void middleware(req, res, (error?: unknown) => {
      if (error === undefined || error === 'route' || error === 'router') {
        next(error as undefined);
        return;
      }
      next(new DependencyUnavailableError('session_store', { cause: error }));
    });
  };
}

/** A signed-in session that has lived past the absolute limit is replaced by an empty one (signed out). */
function absoluteTimeout(limitMs: number): RequestHandler {
  return (req, _res, next) => {
    const current = req.session;
    if (current.user === undefined) {
      next();
      return;
    }
    // A session that a sign-in path made without startUserSession starts its clock now.
    current.signedInAt ??= Date.now();
    if (Date.now() - current.signedInAt < limitMs) {
      next();
      return;
    }
    current.regenerate((error: unknown) => {
      next(error);
    });
  };
}

function chain(first: RequestHandler, second: RequestHandler): RequestHandler {
  return (req, res, next) => {
    void first(req, res, (error?: unknown) => {
      if (error !== undefined) {
        next(error);
        return;
      }
      void second(req, res, next);
    });
  };
}

function sessionCall(req: Request, action: 'regenerate' | 'destroy'): Promise<void> {
  return new Promise((resolve, reject) => {
    req.session[action]((error: unknown) => {
      if (error instanceof Error) reject(new DependencyUnavailableError('session_store', { cause: error }));
      else resolve();
    });
  });
}

export type SessionUser = NonNullable<Request['session']['user']>;

/**
 * Signs `user` in: a new session id (no fixation of one an attacker planted), and the clock of the
 * absolute timeout starts. Every sign-in path goes through here.
 */
export async function startUserSession(req: Request, user: SessionUser): Promise<void> {
  await sessionCall(req, 'regenerate');
  req.session.user = user;
  req.session.signedInAt = Date.now();
}

/** Signs out: the session ends in the store too, not only in the browser. */
export async function endUserSession(req: Request): Promise<void> {
  await sessionCall(req, 'destroy');
}
