import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  chownSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { MIGRATIONS_FOLDER, openDatabase } from '../../db/client';
import { schema } from '../../db/schema';
import { DataStore } from '../../db/tenant-store';
import { createTestDatabase, databaseKinds } from '../helpers/database';
import { freePort } from '../helpers/free-port';

const CONTOSO = randomUUID();
const FABRIKAM = randomUUID();

describe('migration 0006 on a database that already holds data', () => {
  it('gives every tenant with data a row, unlinked, and leaves existing keys working without expiry', async () => {
    // The migrations as they were before 0006: the same files, the journal cut after 0005.
    const before = mkdtempSync(path.join(tmpdir(), 'eucora-migrations-'));
    cpSync(MIGRATIONS_FOLDER, before, { recursive: true });
    const journalFile = path.join(before, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { idx: number }[] };
    writeFileSync(
      journalFile,
      JSON.stringify({ ...journal, entries: journal.entries.filter((e) => e.idx <= 5) }),
    );

    const client = await PGlite.create('memory://');
    const db = drizzle(client, { schema });
    try {
      await migrate(db, { migrationsFolder: before });
      await db.execute(
        sql`insert into users (tenant_id, subject, display_name) values ('legacy', 'u1', 'U One')`,
      );
      await db.execute(
        sql`insert into connector_credentials (tenant_id, connector_type, name, key_hash, created_by)
            values ('keyholder', 'intune', 'k', 'hash-1', 'admin')`,
      );
      await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
      const store = new DataStore(db);
      expect((await store.tenants.list()).map((t) => [t.id, t.entraTenantId])).toEqual([
        ['keyholder', null],
        ['legacy', null],
      ]);
      expect(await store.findConnectorCredential('hash-1')).toMatchObject({ name: 'k', expiresAt: null });
    } finally {
      await client.close();
      rmSync(before, { recursive: true, force: true });
    }
  });
});

describe.each(databaseKinds())('the tenant directory (%s)', (kind) => {
  it('makes the directory links what configuration says, and reports each change', async () => {
    const database = await createTestDatabase(kind);
    try {
      const tenants = database.store.tenants;
      const at = new Date();
      expect(
        await tenants.synchronise(
          [{ tenantId: 'contoso', entraTenantId: CONTOSO.toUpperCase() }],
          ['default'],
          at,
        ),
      ).toEqual([{ tenantId: 'contoso', entraTenantId: CONTOSO, change: 'linked' }]);
      expect(await tenants.findByEntraTenantId(CONTOSO.toUpperCase())).toMatchObject({ id: 'contoso' });
      // The same configuration again changes nothing.
      expect(
        await tenants.synchronise([{ tenantId: 'contoso', entraTenantId: CONTOSO }], ['default'], at),
      ).toEqual([]);
      // Contoso's directory moves to another tenant, fabrikam joins.
      expect(
        await tenants.synchronise(
          [
            { tenantId: 'contoso-new', entraTenantId: CONTOSO },
            { tenantId: 'fabrikam', entraTenantId: FABRIKAM },
          ],
          [],
          at,
        ),
      ).toEqual([
        { tenantId: 'contoso', entraTenantId: CONTOSO, change: 'unlinked' },
        { tenantId: 'contoso-new', entraTenantId: CONTOSO, change: 'linked' },
        { tenantId: 'fabrikam', entraTenantId: FABRIKAM, change: 'linked' },
      ]);
      // Configuration without Entra ID unlinks everything; the tenants stay.
      expect(await tenants.synchronise([], [], at)).toHaveLength(2);
      expect(await tenants.findByEntraTenantId(FABRIKAM)).toBeUndefined();
      expect((await tenants.list()).map((t) => t.id)).toEqual([
        'contoso',
        'contoso-new',
        'default',
        'fabrikam',
      ]);
    } finally {
      await database.drop();
    }
  });
});

/**
 * A private PostgreSQL that asks for a password (scram-sha-256): the shared test server trusts every
 * local connection, so it could not tell whether the password was sent at all.
 */
async function startPasswordProtectedPostgres(password: string) {
  const [initdb] = readdirSync('/usr/lib/postgresql')
    .map((version) => `/usr/lib/postgresql/${version}/bin/initdb`)
    .filter((file) => existsSync(file));
  if (initdb === undefined) throw new Error('no PostgreSQL server binaries in /usr/lib/postgresql');
  const bin = path.dirname(initdb);
  const dir = mkdtempSync(path.join(tmpdir(), 'eucora-pg-password-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, uid, gid);
  writeFileSync(path.join(dir, 'pw'), password);
  chownSync(path.join(dir, 'pw'), uid, gid);
  // PostgreSQL refuses to run as root.
  execFileSync(
    'runuser',
    [
      '-u',
      'postgres',
      '--',
      initdb,
      '-D',
      path.join(dir, 'data'),
      '-A',
      'scram-sha-256',
      '-U',
      'eucora',
      `--pwfile=${path.join(dir, 'pw')}`,
    ],
    { stdio: 'ignore' },
  );
  const port = await freePort();
  const server = spawn(
    'runuser',
    [
      '-u',
      'postgres',
      '--',
      path.join(bin, 'postgres'),
      '-D',
      path.join(dir, 'data'),
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ready = spawnSync(path.join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)]);
    if (ready.status === 0) break;
    if (Date.now() > deadline) throw new Error('the private PostgreSQL did not start');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url: `postgres://eucora@127.0.0.1:${String(port)}/postgres`,
    async stop() {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('the database password from Key Vault', () => {
  it('is asked for each new connection, takes the place of one in the URL, and a wrong one is refused', async () => {
    const server = await startPasswordProtectedPostgres('first-password');
    try {
      let current = 'first-password';
      let asked = 0;
      const database = await openDatabase({
        url: server.url,
        poolSize: 1,
        password: () => {
          asked += 1;
          return current;
        },
      });
      try {
        await database.ping();
        expect(asked).toBe(1);
        // Rotated: the role's password changes and so does the secret; the next connection uses it.
        await database.db.execute(sql.raw(`alter role eucora password 'second-password'`));
        current = 'second-password';
      } finally {
        await database.close();
      }
      const rotated = await openDatabase({ url: server.url, poolSize: 1, password: () => current });
      await rotated.ping();
      await rotated.close();
      const wrong = await openDatabase({ url: server.url, poolSize: 1, password: () => 'first-password' });
      await expect(wrong.ping()).rejects.toMatchObject({
        cause: { message: expect.stringMatching(/password authentication failed/) as string },
      });
      await wrong.close();
    } finally {
      await server.stop();
    }
  });
});
