import session from 'express-session';
import type { Request, RequestHandler } from 'express';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
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
  readonly logger: Logger;
  /** Redis key prefix; tests use their own so parallel files do not share sessions. */
  readonly prefix?: string;
}

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
      middleware: chain((req, res, next) => {
        current(req, res, next);
      }, absoluteLimit),
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

  const client = createClient({ url: options.redisUrl });
  client.on('error', (error: unknown) => {
    options.logger.warn({ err: error }, 'redis session store error');
  });
  await client.connect();
  const store = new RedisStore({ client, prefix: options.prefix ?? 'eucora:sess:' });
  return {
    kind: 'redis',
    cookieName,
    ...rotating(store),
    redis: { sendCommand: (args) => client.sendCommand(args) },
    async ping() {
      await client.ping();
    },
    async close() {
      await client.quit();
    },
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
      if (error instanceof Error) reject(error);
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
