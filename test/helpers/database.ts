import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { openDatabase } from '../../db/client';
import type { DatabaseHandle } from '../../db/client';
import { DataStore } from '../../db/tenant-store';

export type DatabaseKind = 'postgres' | 'pglite';

/** PGlite always; PostgreSQL too when DATABASE_URL names a server (CI sets it). */
export function databaseKinds(): DatabaseKind[] {
  return process.env.DATABASE_URL === undefined ? ['pglite'] : ['pglite', 'postgres'];
}

/** The database the suite runs on: PostgreSQL when DATABASE_URL is set, else embedded PGlite. */
export function defaultDatabaseKind(): DatabaseKind {
  return process.env.DATABASE_URL === undefined ? 'pglite' : 'postgres';
}

export interface TestDatabase {
  readonly handle: DatabaseHandle;
  readonly store: DataStore;
  readonly kind: DatabaseKind;
  /** A connection string for this database (PostgreSQL only). */
  readonly url: string | undefined;
  drop(): Promise<void>;
}

/**
 * A fresh, migrated database of its own: a new PostgreSQL database per test file (so files run in
 * parallel without seeing each other's rows), or an in-memory PGlite.
 */
export async function createTestDatabase(kind: DatabaseKind = defaultDatabaseKind()): Promise<TestDatabase> {
  if (kind === 'pglite') {
    const handle = await openDatabase({ pgliteDataDir: 'memory://' });
    await handle.migrate();
    return { handle, store: new DataStore(handle.db), kind, url: undefined, drop: () => handle.close() };
  }
  const adminUrl = process.env.DATABASE_URL;
  if (adminUrl === undefined) throw new Error('DATABASE_URL is not set');
  const name = `eucora_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  await withAdmin(adminUrl, (admin) => admin.query(`create database ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ url: url.toString(), poolSize: 5 });
  await handle.migrate();
  return {
    handle,
    store: new DataStore(handle.db),
    kind,
    url: url.toString(),
    async drop() {
      await handle.close();
      await withAdmin(adminUrl, (admin) => admin.query(`drop database if exists ${name} with (force)`));
    },
  };
}

async function withAdmin<T>(url: string, work: (client: PgClient) => Promise<T>): Promise<T> {
  const client = new PgClient({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
