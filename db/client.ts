import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { sql } from 'drizzle-orm';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzleNodePg } from 'drizzle-orm/node-postgres';
import { migrate as migrateNodePg } from 'drizzle-orm/node-postgres/migrator';
import type * as DrizzlePglite from 'drizzle-orm/pglite';
import type * as DrizzlePgliteMigrator from 'drizzle-orm/pglite/migrator';
import type * as Pglite from '@electric-sql/pglite';
import { Client, Pool } from 'pg';
import type { ClientConfig, PoolClient, PoolConfig } from 'pg';
import { parse as parseConnectionString } from 'pg-connection-string';
import {
  DependencyUnavailableError,
  failureSummary,
  isDatabaseUnavailable,
} from '../runtime/dependency-failure';
import type { Logger } from '../runtime/logger';
import { schema } from './schema';

type Schema = typeof schema;
/** Both drivers share this type: repositories never know which one they run on. */
export type Database = PgDatabase<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
export type Transaction = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
export type DatabaseExecutor = Database | Transaction;

/** What a LISTEN subscriber hears: each notification's payload, and whether it is subscribed right now. */
export interface ListenHandlers {
  notified(payload: string): void;
  /** True once LISTEN took effect; false when the connection is lost (notifications may be missed until true again). */
  subscribed(listening: boolean): void;
}

/** Subscribes to a notification channel until `close`; a lost connection is re-established. */
export type ListenFunction = (
  channel: string,
  handlers: ListenHandlers,
) => Promise<{ close(): Promise<void> }>;

export interface DatabaseHandle {
  readonly db: Database;
  readonly kind: 'postgres' | 'pglite';
  /** LISTEN on one connection shared by every subscription (PostgreSQL), or PGlite's own notifications. */
  readonly listen: ListenFunction;
  /** Applies the committed migrations under an advisory lock, so concurrent starters do not race. */
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** PostgreSQL connection string; unset → embedded PGlite. */
  readonly url?: string | undefined;
  /** PGlite data folder, or `memory://` for a throw-away database. */
  readonly pgliteDataDir?: string;
  readonly poolSize?: number;
  /**
   * The PostgreSQL password, asked for each new connection (so a rotated Key Vault secret is picked up);
   * takes the place of a password in the URL.
   */
  readonly password?: () => string;
  /** How long to wait for a connection, new or from the pool (PostgreSQL only). */
  readonly connectTimeoutMs?: number;
  /**
   * PostgreSQL's statement_timeout for every statement but the migrations'; the client stops waiting
   * for an answer a second after it (a server that went silent).
   */
  readonly statementTimeoutMs?: number;
  /** Where a lost connection is reported; it never ends the process. */
  readonly logger?: Pick<Logger, 'warn'>;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 2_000;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5_000;
/**
 * How much longer than the server's statement_timeout the client waits before it gives up on it (a
 * server that stopped answering): a quarter of the timeout, at most a second.
 */
function clientGraceMs(statementTimeoutMs: number): number {
  return Math.min(1_000, Math.ceil(statementTimeoutMs / 4));
}

/**
 * A pool whose failures to hand out a connection say they are the database's: pg reports a refused
 * connection as a bare ECONNREFUSED, which names no dependency.
 */
class DatabasePool extends Pool {
  override connect(): Promise<PoolClient>;
  override connect(
    callback: (
      err: Error | undefined,
      client: PoolClient | undefined,
      done: (release?: unknown) => void,
    ) => void,
  ): void;
  override connect(
    callback?: (
      err: Error | undefined,
      client: PoolClient | undefined,
      done: (release?: unknown) => void,
    ) => void,
  ): Promise<PoolClient> | undefined {
    if (callback !== undefined) {
      super.connect(callback);
      return undefined;
    }
    return super.connect().catch((error: unknown) => {
      throw isDatabaseUnavailable(error)
        ? new DependencyUnavailableError('database', { cause: error })
        : error;
    });
  }
}

/**
 * pg gives up on a statement after `query_timeout` (a server that went silent) but keeps the connection,
 * its statement still pending and, in a transaction, the transaction open: drizzle's ROLLBACK queues behind
 * the statement, times out in turn without being sent, and the client goes back to the pool as it is. The
 * next caller then ran inside that dangling transaction once the server answered again: writes that never
 * committed, or "current transaction is aborted" (25P02). So a read timeout closes the connection, as pg
 * itself does in pipeline mode: the server rolls the transaction back, the queued ROLLBACK fails at once
 * (a fast 503, not a second timeout) and the pool drops the client.
 */
function closeAfterReadTimeout(client: PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const close = () => {
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  };
  const guarded = (...args: unknown[]): unknown => {
    const last = args.at(-1);
    if (typeof last === 'function') {
      // Callback style (pg-pool's pool.query): pass the answer on, closing first on a read timeout.
      const callback = last as (error: unknown, ...rest: unknown[]) => void;
      return query(...args.slice(0, -1), (error: unknown, ...rest: unknown[]) => {
        if (isReadTimeout(error)) close();
        callback(error, ...rest);
      });
    }
    const result = query(...args);
    if (result instanceof Promise) {
      result.catch((error: unknown) => {
        if (isReadTimeout(error)) close();
      });
    }
    return result;
  };
  client.query = guarded as typeof client.query;
}

function isReadTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === 'Query read timeout';
}

export const MIGRATIONS_FOLDER = path.resolve(__dirname, 'migrations');
// Any constant works: every EUCORA process migrating the same database takes the same lock.
const MIGRATION_LOCK_KEY = 7_261_530_914;

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  return options.url === undefined
    ? openPglite(options.pgliteDataDir ?? 'memory://')
    : openPostgres(options.url, options);
}

function openPostgres(url: string, options: DatabaseOptions): DatabaseHandle {
  const password = options.password;
  // pg lets a connection string's (empty) password win over a password callback: parse it here instead.
  const connection: ClientConfig =
    password === undefined
      ? { connectionString: url }
      : {
          ...(parseConnectionString(url) as ClientConfig),
          password: () => Promise.resolve(password()),
        };
  const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const poolConfig: PoolConfig = {
    ...connection,
    max: options.poolSize ?? 10,
    // Bounded waits: a database that refuses, drops or stops answering is a 503 in seconds, not a hang.
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + clientGraceMs(statementTimeoutMs),
  };
  const pool = new DatabasePool(poolConfig);
  const lost = (error: unknown) => {
    options.logger?.warn({ cause: failureSummary(error) }, 'database connection lost');
  };
  // A connection the server drops emits 'error' on its client. pg-pool listens only while a client is
  // idle; a client checked out (a transaction between two statements) has no listener, and an unheard
  // 'error' event ends the process. Every client gets one for its whole life.
  pool.on('connect', (client) => {
    client.on('error', lost);
    closeAfterReadTimeout(client);
  });
  pool.on('error', lost);
  const db = drizzleNodePg(pool, { schema }) as unknown as Database;
  return {
    db,
    kind: 'postgres',
    listen: sharedListener(
      () => new Client({ ...connection, connectionTimeoutMillis: poolConfig.connectionTimeoutMillis }),
      lost,
    ),
    async migrate() {
      // A connection of its own, without the timeouts: waiting for another migrator's lock, and a
      // migration rewriting a large table, may take long.
      const client = new Client({
        ...connection,
        connectionTimeoutMillis: poolConfig.connectionTimeoutMillis,
      });
      client.on('error', lost);
      await client.connect();
      try {
        await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        try {
          await migrateNodePg(drizzleNodePg(client, { schema }), { migrationsFolder: MIGRATIONS_FOLDER });
        } finally {
          await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
        }
      } finally {
        await client.end();
      }
    },
    async ping() {
      await db.execute(sql`select 1`);
    },
    async close() {
      await pool.end();
    },
  };
}

/** The embedded database, required only when it is used: processes on PostgreSQL never load it. */
async function openPglite(dataDir: string): Promise<DatabaseHandle> {
  /* eslint-disable @typescript-eslint/no-require-imports -- deferred on purpose, see above */
  const { PGlite } = require('@electric-sql/pglite') as typeof Pglite;
  const { drizzle: drizzlePglite } = require('drizzle-orm/pglite') as typeof DrizzlePglite;
  const { migrate: migratePglite } = require('drizzle-orm/pglite/migrator') as typeof DrizzlePgliteMigrator;
  /* eslint-enable @typescript-eslint/no-require-imports */
  if (!dataDir.startsWith('memory://')) await mkdir(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir);
  const pglite = drizzlePglite(client, { schema });
  const db = pglite as unknown as Database;
  return {
    db,
    kind: 'pglite',
    // One process, one connection: a notification of a commit here is heard here; nothing is ever lost.
    async listen(channel, handlers) {
      const unsubscribe = await client.listen(channel, (payload) => {
        handlers.notified(payload);
      });
      handlers.subscribed(true);
      return {
        async close() {
          handlers.subscribed(false);
          await unsubscribe();
        },
      };
    },
    async migrate() {
      // PGlite is one connection in one process: there is no concurrent migrator to lock out.
      await migratePglite(pglite, { migrationsFolder: MIGRATIONS_FOLDER });
    },
    async ping() {
      await db.execute(sql`select 1`);
    },
    async close() {
      await client.close();
    },
  };
}

const LISTEN_RETRY_MS = [250, 1_000, 2_000, 5_000];

interface Subscription {
  readonly channel: string;
  readonly handlers: ListenHandlers;
  /** `subscribed(true)` was said and not taken back yet. */
  live: boolean;
}

/**
 * One dedicated LISTEN connection per process (a pooled one would be handed to other queries), shared by
 * every subscription: the credential cache's channel and the long-polling connectors' channel are two
 * LISTENs on one connection, and a subscription costs no connection of its own. The connection is opened
 * by the first subscription and ended with the last. When it is lost, every subscription hears
 * `subscribed(false)` at once; a new connection follows after a short, growing pause, LISTENs on every
 * channel again and says `subscribed(true)`. `listen` resolves once its channel is subscribed, or the
 * attempt failed (it is retried).
 */
export function sharedListener(connect: () => Client, lost: (error: unknown) => void): ListenFunction {
  const subscriptions = new Set<Subscription>();
  let current: Client | undefined;
  /** The current connection once it is connected (undefined: its attempt failed). */
  let connected: Promise<Client | undefined> | undefined;
  const listening = new WeakMap<Client, Set<string>>();
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;

  const drop = (client: Client) => {
    if (current !== client) return;
    current = undefined;
    connected = undefined;
    client.end().catch(() => undefined);
    for (const subscription of subscriptions) {
      if (subscription.live) {
        subscription.live = false;
        subscription.handlers.subscribed(false);
      }
    }
    if (subscriptions.size === 0) return;
    const pause = LISTEN_RETRY_MS[Math.min(failures, LISTEN_RETRY_MS.length - 1)] ?? 5_000;
    failures += 1;
    retry = setTimeout(() => {
      retry = undefined;
      void open().then(subscribeAll);
    }, pause);
    retry.unref();
  };

  const open = (): Promise<Client | undefined> => {
    const client = connect();
    current = client;
    listening.set(client, new Set());
    client.on('error', (error) => {
      lost(error);
      drop(client);
    });
    client.on('end', () => {
      drop(client);
    });
    client.on('notification', (message) => {
      for (const subscription of subscriptions) {
        if (subscription.channel === message.channel) subscription.handlers.notified(message.payload ?? '');
      }
    });
    connected = client.connect().then(
      () => client,
      (error: unknown) => {
        lost(error);
        drop(client);
        return undefined;
      },
    );
    return connected;
  };

  /** LISTENs on every channel a subscription wants, then tells the subscriptions that are not live yet. */
  const subscribeAll = async (client: Client | undefined): Promise<void> => {
    if (client === undefined || current !== client) return;
    const channels = listening.get(client) ?? new Set<string>();
    try {
      for (const channel of new Set([...subscriptions].map((subscription) => subscription.channel))) {
        if (channels.has(channel)) continue;
        await client.query(`LISTEN ${channel}`);
        channels.add(channel);
      }
    } catch (error) {
      lost(error);
      drop(client);
      return;
    }
    if (current !== client) return;
    failures = 0;
    for (const subscription of subscriptions) {
      if (!subscription.live && channels.has(subscription.channel)) {
        subscription.live = true;
        subscription.handlers.subscribed(true);
      }
    }
  };

  return async (channel, handlers) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`unexpected channel name ${channel}`);
    const subscription: Subscription = { channel, handlers, live: false };
    subscriptions.add(subscription);
    // A retry already scheduled subscribes this one too when it connects.
    if (retry === undefined) await subscribeAll(await (connected ?? open()));
    return {
      async close() {
        if (!subscriptions.delete(subscription)) return;
        subscription.live = false;
        handlers.subscribed(false);
        if (subscriptions.size === 0) {
          if (retry !== undefined) clearTimeout(retry);
          retry = undefined;
          const client = current;
          current = undefined;
          connected = undefined;
          await client?.end().catch(() => undefined);
          return;
        }
        const stillWanted = [...subscriptions].some((other) => other.channel === channel);
        const client = current;
        if (!stillWanted && client !== undefined && listening.get(client)?.delete(channel) === true) {
          await client.query(`UNLISTEN ${channel}`).catch(() => undefined);
        }
      },
    };
  };
}
