import session from 'express-session';
import type { RequestHandler } from 'express';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import type { Logger } from '../runtime/logger';

export interface SessionBackend {
  readonly kind: 'redis' | 'memory';
  readonly middleware: RequestHandler;
  /** Signs new cookies with the first secret from now on; cookies signed with any of them stay valid. */
  rotateSecrets(secrets: readonly string[]): void;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface SessionOptions {
  readonly redisUrl: string | undefined;
  /** Newest first: the first signs, every one verifies. */
  readonly secrets: readonly string[];
  readonly secureCookies: boolean;
  readonly logger: Logger;
  /** Redis key prefix; tests use their own so parallel files do not share sessions. */
  readonly prefix?: string;
}

const EIGHT_HOURS_MS = 8 * 3_600_000;

/** Sessions in Redis through connect-redis, or in process memory (with a warning) when REDIS_URL is unset. */
export async function createSessionBackend(options: SessionOptions): Promise<SessionBackend> {
  const cookie = {
    httpOnly: true,
    // Lax keeps the cookie off cross-site POSTs; the OIDC callback uses response_mode=query for that reason.
    sameSite: 'lax' as const,
    secure: options.secureCookies,
    maxAge: EIGHT_HOURS_MS,
  };
  const common = {
    name: 'eucora.sid',
    resave: false,
    saveUninitialized: false,
    cookie,
  };
  /** One middleware per set of secrets, all on the same store: a rotation keeps every session. */
  const rotating = (store: session.Store) => {
    let current = session({ ...common, store, secret: [...options.secrets] });
    return {
      middleware: ((req, res, next) => {
        current(req, res, next);
      }) satisfies RequestHandler,
      rotateSecrets(secrets: readonly string[]) {
        current = session({ ...common, store, secret: [...secrets] });
      },
    };
  };

  if (options.redisUrl === undefined) {
    options.logger.warn('REDIS_URL is unset: sessions live in process memory and end with the process');
    return {
      kind: 'memory',
      ...rotating(new session.MemoryStore()),
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
    ...rotating(store),
    async ping() {
      await client.ping();
    },
    async close() {
      await client.quit();
    },
  };
}
