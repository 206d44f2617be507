import session from 'express-session';
import type { RequestHandler } from 'express';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import type { Logger } from '../runtime/logger';

export interface SessionBackend {
  readonly kind: 'redis' | 'memory';
  readonly middleware: RequestHandler;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface SessionOptions {
  readonly redisUrl: string | undefined;
  readonly secret: string;
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
    secret: options.secret,
    name: 'eucora.sid',
    resave: false,
    saveUninitialized: false,
    cookie,
  };

  if (options.redisUrl === undefined) {
    options.logger.warn('REDIS_URL is unset: sessions live in process memory and end with the process');
    return {
      kind: 'memory',
      middleware: session(common),
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
    middleware: session({ ...common, store }),
    async ping() {
      await client.ping();
    },
    async close() {
      await client.quit();
    },
  };
}
