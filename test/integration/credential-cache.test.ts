import { sql } from 'drizzle-orm';
import { Client as PgClient } from 'pg';
import { CredentialCache } from '../../db/credential-cache';
import { openDatabase } from '../../db/client';
import type { DatabaseHandle, ListenFunction } from '../../db/client';
import type { ConnectorCredentialRow } from '../../db/repositories/connector-credentials';
import { DataStore } from '../../db/tenant-store';
import { asTenantId } from '../../db/tenant-id';
import { hashConnectorKey } from '../../api/middleware/authentication';
import {
  issueConnectorCredential,
  revokeConnectorCredential,
} from '../../api/services/connector-credentials';
import type { Actor } from '../../api/request-context';
import { createTestDatabase, databaseKinds } from '../helpers/database';
import type { TestDatabase } from '../helpers/database';
import { eventually } from '../helpers/harness';

const TENANT = asTenantId('tenant-credential-cache');
const ADMIN: Actor = {
  tenantId: TENANT,
  id: 'admin@example.com',
  displayName: 'Admin',
  roles: ['admin'],
  kind: 'user',
};

function row(overrides: Partial<ConnectorCredentialRow> = {}): ConnectorCredentialRow {
  return {
    id: 'c1',
    tenantId: TENANT,
    scope: 'connector',
    connectorType: 'intune',
    name: 'intune',
    keyHash: 'h1',
    createdBy: 'admin',
    createdAt: new Date(0),
    expiresAt: null,
    lastUsedAt: null,
    revokedAt: null,
    ...overrides,
  };
}

describe('the verified-key cache (unit)', () => {
  let clock: number;
  let cache: CredentialCache;
  let loads: number;
  const load = (value: ConnectorCredentialRow | undefined) => () => {
    loads += 1;
    return Promise.resolve(value);
  };
  beforeEach(() => {
    clock = 1_000_000;
    loads = 0;
    cache = new CredentialCache(60_000, () => clock, 2);
  });

  it('serves nothing from memory while revocations do not reach the process', async () => {
    await cache.find('h1', new Date(clock), load(row()));
    await cache.find('h1', new Date(clock), load(row()));
    expect(loads).toBe(2);
    expect(cache.serving).toBe(false);
  });

  it('serves a found key from memory while listening, never an unknown one, and forgets on revocation', async () => {
    cache.setListening(true);
    expect(await cache.find('h1', new Date(clock), load(row()))).toMatchObject({ id: 'c1' });
    expect(await cache.find('h1', new Date(clock), load(undefined))).toMatchObject({ id: 'c1' });
    expect(loads).toBe(1);
    await cache.find('unknown', new Date(clock), load(undefined));
    await cache.find('unknown', new Date(clock), load(undefined));
    expect(loads).toBe(3);

    cache.forget('c1');
    expect(await cache.find('h1', new Date(clock), load(undefined))).toBeUndefined();
    expect(loads).toBe(4);
  });

  it('does not keep a row whose lookup raced a revocation, nor one read while the listener dropped', async () => {
    cache.setListening(true);
    let release: (value: ConnectorCredentialRow) => void = () => undefined;
    const racing = cache.find(
      'h1',
      new Date(clock),
      () =>
        new Promise<ConnectorCredentialRow>((resolve) => {
          release = resolve;
        }),
    );
    cache.forget('c1');
    release(row());
    expect(await racing).toMatchObject({ id: 'c1' });
    await cache.find('h1', new Date(clock), load(undefined));
    expect(loads).toBe(1);

    await cache.find('h1', new Date(clock), load(row()));
    cache.setListening(false);
    cache.setListening(true);
    expect(await cache.find('h1', new Date(clock), load(undefined))).toBeUndefined();
  });

  it('refuses an expired key from memory, keeps an entry at most its time to live, and bounds its size', async () => {
    cache.setListening(true);
    await cache.find('h1', new Date(clock), load(row({ expiresAt: new Date(clock + 1_000) })));
    expect(await cache.find('h1', new Date(clock + 999), load(undefined))).toMatchObject({ id: 'c1' });
    expect(await cache.find('h1', new Date(clock + 1_000), load(undefined))).toBeUndefined();

    await cache.find('h1', new Date(clock), load(row()));
    clock += 60_000;
    expect(await cache.find('h1', new Date(clock), load(undefined))).toBeUndefined();

    await cache.find('a', new Date(clock), load(row({ id: 'a' })));
    await cache.find('b', new Date(clock), load(row({ id: 'b' })));
    await cache.find('c', new Date(clock), load(row({ id: 'c' })));
    const before = loads;
    expect(await cache.find('a', new Date(clock), load(undefined))).toBeUndefined();
    expect(await cache.find('c', new Date(clock), load(undefined))).toMatchObject({ id: 'c' });
    expect(loads).toBe(before + 1);
  });

  it('notes a use on the cached row, so last_used_at is written once a minute, not per request', async () => {
    cache.setListening(true);
    await cache.find('h1', new Date(clock), load(row()));
    cache.noteUse('c1', new Date(clock));
    expect((await cache.find('h1', new Date(clock), load(undefined)))?.lastUsedAt).toEqual(new Date(clock));
  });
});

describe.each(databaseKinds())('verified keys in memory, revoked at once (%s)', (kind) => {
  let db: TestDatabase;
  const cleanups: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    db = await createTestDatabase(kind);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await db.drop();
  });

  async function watching(store: DataStore, listen: ListenFunction): Promise<DataStore> {
    const watch = await store.watchCredentialChanges(listen);
    cleanups.push(() => watch.close());
    return store;
  }

  async function issue(store: DataStore) {
    const { credential, apiKey } = await issueConnectorCredential(store.forTenant(TENANT), ADMIN, null, {
      scope: 'connector',
      connectorType: 'intune',
      name: 'intune-cached',
    });
    return { credential, keyHash: hashConnectorKey(apiKey) };
  }

  /** A change behind the API's back (plain SQL, no notification): only a database read sees it. */
  async function renameBehindTheBack(id: string, name: string): Promise<void> {
    await db.handle.db.execute(sql`update connector_credentials set name = ${name} where id = ${id}`);
  }

  it('refuses a revoked key in the revoking process before the revocation returns', async () => {
    const store = await watching(db.store, db.handle.listen);
    const { credential, keyHash } = await issue(store);
    expect((await store.findConnectorCredential(keyHash))?.name).toBe('intune-cached');
    await renameBehindTheBack(credential.id, 'renamed');
    // Served from memory: the rename is not seen.
    expect((await store.findConnectorCredential(keyHash))?.name).toBe('intune-cached');

    await revokeConnectorCredential(store.forTenant(TENANT), ADMIN, null, credential.id);
    expect(await store.findConnectorCredential(keyHash)).toBeUndefined();
  });

  it('reads the database for every lookup while the process does not hear revocations', async () => {
    const deaf: ListenFunction = (_channel, handlers) => {
      handlers.subscribed(false);
      return Promise.resolve({ close: () => Promise.resolve() });
    };
    const store = await watching(db.store, deaf);
    const { credential, keyHash } = await issue(store);
    await store.findConnectorCredential(keyHash);
    await renameBehindTheBack(credential.id, 'renamed');
    expect((await store.findConnectorCredential(keyHash))?.name).toBe('renamed');
  });

  if (kind === 'postgres') {
    let other: DatabaseHandle;
    beforeEach(async () => {
      other = await openDatabase({ url: db.url, poolSize: 2 });
    });
    afterEach(async () => {
      await other.close();
    });

    it('refuses a key revoked by another API process once the notification arrives, and never re-caches it', async () => {
      const revoker = await watching(db.store, db.handle.listen);
      const replica = await watching(new DataStore(other.db), other.listen);
      const { credential, keyHash } = await issue(revoker);
      expect(await replica.findConnectorCredential(keyHash)).toBeDefined();
      await renameBehindTheBack(credential.id, 'renamed');
      expect((await replica.findConnectorCredential(keyHash))?.name).toBe('intune-cached');

      await revokeConnectorCredential(revoker.forTenant(TENANT), ADMIN, null, credential.id);
      await eventually(
        async () => ((await replica.findConnectorCredential(keyHash)) === undefined ? true : undefined),
        'the replica to refuse the revoked key',
      );
      expect(await replica.findConnectorCredential(keyHash)).toBeUndefined();
    });

    it('stops serving from memory when its listening connection is lost, and listens again', async () => {
      const states: boolean[] = [];
      const store = new DataStore(other.db);
      const watch = await store.watchCredentialChanges((channel, handlers) =>
        other.listen(channel, {
          notified: (payload) => {
            handlers.notified(payload);
          },
          subscribed: (listening) => {
            states.push(listening);
            handlers.subscribed(listening);
          },
        }),
      );
      cleanups.push(() => watch.close());
      const { credential, keyHash } = await issue(db.store);
      await store.findConnectorCredential(keyHash);
      await renameBehindTheBack(credential.id, 'renamed');
      expect((await store.findConnectorCredential(keyHash))?.name).toBe('intune-cached');

      const admin = new PgClient({ connectionString: db.url });
      await admin.connect();
      try {
        await admin.query(
          "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query like 'LISTEN%'",
        );
      } finally {
        await admin.end();
      }
      await eventually(async () => Promise.resolve(states.includes(false) ? true : undefined), 'the loss');
      // Not listening (or listening afresh, with an empty cache): the database answers.
      expect((await store.findConnectorCredential(keyHash))?.name).toBe('renamed');
      await eventually(
        async () => Promise.resolve(states.at(-1) === true && states.length >= 3 ? true : undefined),
        'listening again',
      );
      await renameBehindTheBack(credential.id, 'renamed-again');
      await store.findConnectorCredential(keyHash);
      await renameBehindTheBack(credential.id, 'renamed-thrice');
      expect((await store.findConnectorCredential(keyHash))?.name).toBe('renamed-again');
    });
  }
});
