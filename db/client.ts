import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { sql } from 'drizzle-orm';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzleNodePg } from 'drizzle-orm/node-postgres';
import { migrate as migrateNodePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { PGlite } from '@electric-sql/pglite';
import { Pool } from 'pg';
import { parse as parseConnectionString } from 'pg-connection-string';
import { schema } from './schema';

type Schema = typeof schema;
/** Both drivers share this type: repositories never know which one they run on. */
export type Database = PgDatabase<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
export type Transaction = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
export type DatabaseExecutor = Database | Transaction;

export interface DatabaseHandle {
  readonly db: Database;
  readonly kind: 'postgres' | 'pglite';
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
}

export const MIGRATIONS_FOLDER = path.resolve(__dirname, 'migrations');
// Any constant works: every EUCORA process migrating the same database takes the same lock.
const MIGRATION_LOCK_KEY = 7_261_530_914;

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  return options.url === undefined
    ? openPglite(options.pgliteDataDir ?? 'memory://')
    : openPostgres(options.url, options.poolSize ?? 10, options.password);
}

function openPostgres(url: string, poolSize: number, password: (() => string) | undefined): DatabaseHandle {
  // pg lets a connection string's (empty) password win over a password callback: parse it here instead.
  const pool = new Pool(
    password === undefined
      ? { connectionString: url, max: poolSize }
      : {
          ...(parseConnectionString(url) as Record<string, unknown>),
          max: poolSize,
          password: () => Promise.resolve(password()),
        },
  );
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  const db = drizzleNodePg(pool, { schema }) as unknown as Database;
  return {
    db,
    kind: 'postgres',
    async migrate() {
      const client = await pool.connect();
      try {
        await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        try {
          await migrateNodePg(drizzleNodePg(client, { schema }), { migrationsFolder: MIGRATIONS_FOLDER });
        } finally {
          await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
        }
      } finally {
        client.release();
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

async function openPglite(dataDir: string): Promise<DatabaseHandle> {
  if (!dataDir.startsWith('memory://')) await mkdir(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir);
  const pglite = drizzlePglite(client, { schema });
  const db = pglite as unknown as Database;
  return {
    db,
    kind: 'pglite',
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
