import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { migrate as migrateNodePg } from 'drizzle-orm/node-postgres/migrator';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { MIGRATIONS_FOLDER, openDatabase } from '../../db/client';
import type { DatabaseHandle } from '../../db/client';
import { permanentDataError } from '../../db/sql-state';
import { asTenantId } from '../../db/tenant-id';
import { DataStore } from '../../db/tenant-store';
import { createTestDatabase, databaseKinds } from '../helpers/database';
import type { TestDatabase } from '../helpers/database';

const run = promisify(execFile);

/** The migrations up to and including `lastTag`, as a database created before the hash chain had them. */
function migrationsThrough(lastTag: string): string {
  const folder = mkdtempSync(path.join(tmpdir(), 'eucora-migrations-'));
  cpSync(MIGRATIONS_FOLDER, folder, { recursive: true });
  const journalFile = path.join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] };
  const last = journal.entries.findIndex((entry) => entry.tag === lastTag);
  writeFileSync(journalFile, JSON.stringify({ ...journal, entries: journal.entries.slice(0, last + 1) }));
  return folder;
}

async function migrateTo(handle: DatabaseHandle, folder: string): Promise<void> {
  if (handle.kind === 'pglite') {
    await migratePglite(handle.db as unknown as PgliteDatabase, { migrationsFolder: folder });
  } else {
    await migrateNodePg(handle.db as unknown as NodePgDatabase, { migrationsFolder: folder });
  }
}

/** A database with no migration applied yet. */
async function emptyDatabase(
  kind: 'pglite' | 'postgres',
): Promise<{ handle: DatabaseHandle; drop: () => Promise<void> }> {
  if (kind === 'pglite') {
    const handle = await openDatabase({ pgliteDataDir: 'memory://' });
    return { handle, drop: () => handle.close() };
  }
  const adminUrl = process.env.DATABASE_URL ?? '';
  const name = `eucora_chain_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const admin = await openDatabase({ url: adminUrl, poolSize: 1 });
  await admin.db.execute(sql.raw(`create database ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ url: url.toString(), poolSize: 2 });
  return {
    handle,
    async drop() {
      await handle.close();
      await admin.db.execute(sql.raw(`drop database if exists ${name} with (force)`));
      await admin.close();
    },
  };
}

describe.each(databaseKinds())('the audit hash chain (%s)', (kind) => {
  it('chains the events written before it, in id order per tenant, as the application computes it', async () => {
    const db = await emptyDatabase(kind);
    try {
      await migrateTo(db.handle, migrationsThrough('0006_entra_sign_in'));
      const payloads: Record<string, unknown>[] = [
        { appName: '7-Zip', score: 42, ratio: 0.95, nested: { b: [1, 'two', null, true], a: -3.5 } },
        { text: 'quote " backslash \\ newline \n tab \t é ✓ \u0001', empty: {}, list: [] },
        { big: 12345678901234, small: 0.001, zero: 0 },
      ];
      for (const [index, tenant] of ['tenant-a', 'tenant-b', 'tenant-a'].entries()) {
        await db.handle.db.execute(sql`
          insert into deployment_events (tenant_id, event_key, event_type, intent_id, correlation_id,
            request_id, actor, payload, occurred_at)
          values (${tenant}, ${`legacy:${String(index)}`}, 'LEGACY', ${index === 0 ? randomUUID() : null},
            ${randomUUID()}, ${index === 1 ? 'req-1' : null}, 'system:legacy',
            ${JSON.stringify(payloads[index])}::jsonb, ${new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678 + index))})`);
      }
      await db.handle.migrate();
      const store = new DataStore(db.handle.db);
      const a = await store.forTenant(asTenantId('tenant-a')).events.verifyChain();
      const b = await store.forTenant(asTenantId('tenant-b')).events.verifyChain();
      expect(a).toMatchObject({ verified: 2, brokenLink: null, head: { seq: 2 } });
      expect(b).toMatchObject({ verified: 1, brokenLink: null, head: { seq: 1 } });
      // New events continue each chain where the backfill left it.
      await store.forTenant(asTenantId('tenant-a')).events.append({
        eventKey: 'new:1',
        eventType: 'AFTER',
        intentId: null,
        correlationId: randomUUID(),
        requestId: null,
        actor: 'system:test',
        payload: { after: true },
      });
      expect(await store.forTenant(asTenantId('tenant-a')).events.verifyChain()).toMatchObject({
        verified: 3,
        brokenLink: null,
      });
    } finally {
      await db.drop();
    }
  });

  it('finds a deleted newest event, and a removed event in the middle', async () => {
    const db = await createTestDatabase(kind);
    try {
      const events = db.store.forTenant(asTenantId('tenant-a')).events;
      for (let index = 0; index < 4; index += 1) {
        await events.append({
          eventKey: `e:${String(index)}`,
          eventType: 'E',
          intentId: null,
          correlationId: randomUUID(),
          requestId: null,
          actor: 'system:test',
          payload: { index, at: new Date(0) },
        });
      }
      // A retried write of the same key adds nothing and leaves the chain as it was.
      expect(
        await events.append({
          eventKey: 'e:0',
          eventType: 'E',
          intentId: null,
          correlationId: randomUUID(),
          requestId: null,
          actor: 'system:test',
          payload: {},
        }),
      ).toBe(false);
      expect(await events.verifyChain()).toMatchObject({ verified: 4, brokenLink: null });
      const db_ = db.handle.db;
      await db_.execute(
        sql`alter table deployment_events disable trigger deployment_events_no_update_delete`,
      );
      await db_.execute(sql`delete from deployment_events where event_key = 'e:3'`);
      expect((await events.verifyChain())?.brokenLink).toMatchObject({ seq: 4, reason: 'HEAD_MISMATCH' });
      await db_.execute(sql`delete from deployment_events where event_key = 'e:1'`);
      await db_.execute(sql`alter table deployment_events enable trigger deployment_events_no_update_delete`);
      const found = await db_.execute(sql`select id from deployment_events where event_key = 'e:2'`);
      const [third] = (found as { rows: { id: string | number }[] }).rows;
      expect((await events.verifyChain())?.brokenLink).toMatchObject({
        eventId: Number(third?.id),
        seq: 3,
        reason: 'SEQUENCE_GAP',
      });
      expect((await events.verifyChain(Number(third?.id)))?.brokenLink).toMatchObject({
        seq: 3,
        reason: 'SEQUENCE_GAP',
      });
    } finally {
      await db.drop();
    }
  });
});

describe.each(databaseKinds())('the audit hash chain under concurrent writers (%s)', (kind) => {
  let db: TestDatabase | undefined;
  afterAll(async () => {
    await db?.drop();
  });

  // On PostgreSQL three processes (two "API processes" and a "worker", four connections each) append
  // to two tenants at once; PGlite is one connection in one process, so there the writers are in-process.
  it('stays one unbroken chain per tenant', async () => {
    db = await createTestDatabase(kind);
    const writers = ['api-1', 'api-2', 'worker'];
    // PGlite is slow to write: fewer events there, as the interleaving is all it has to show.
    const perWriter = kind === 'postgres' ? 60 : 10;
    if (kind === 'postgres') {
      const tsx = path.resolve('node_modules/.bin/tsx');
      const writer = path.resolve('test/helpers/audit-chain-writer.ts');
      await Promise.all(
        writers.map((name) =>
          run(tsx, [writer, db?.url ?? '', name, String(perWriter), 'tenant-a', 'tenant-b'], {
            timeout: 60_000,
          }),
        ),
      );
    } else {
      const store = db.store;
      await Promise.all(
        writers.flatMap((name) =>
          ['tenant-a', 'tenant-b'].flatMap((tenant) =>
            Array.from({ length: perWriter }, (_, index) =>
              store.forTenant(asTenantId(tenant)).events.append({
                eventKey: `${name}:${String(index)}`,
                eventType: 'CHAIN_LOAD',
                intentId: null,
                correlationId: randomUUID(),
                requestId: null,
                actor: name,
                payload: { index },
              }),
            ),
          ),
        ),
      );
    }
    for (const tenant of ['tenant-a', 'tenant-b']) {
      const result = await db.store.forTenant(asTenantId(tenant)).events.verifyChain();
      const total = perWriter * writers.length;
      expect(result).toMatchObject({ verified: total, brokenLink: null, head: { seq: total } });
    }
  }, 90_000);

  // A list's recorded keys are read in the statement that locks the head, under that statement's snapshot:
  // a concurrent attempt of the same write that commits while this one waits for the lock is not seen.
  it('records a list once when attempts of it run at once: the others skip it or fail retryably', async () => {
    db ??= await createTestDatabase(kind);
    const events = db.store.forTenant(asTenantId('tenant-duplicate-attempts')).events;
    const list = ['RING_REPORTED', 'GATE_PASSED', 'RING_PROMOTED'].map((eventType, index) => ({
      eventKey: `duplicate:${String(index)}:${eventType}`,
      eventType,
      intentId: null,
      correlationId: randomUUID(),
      requestId: null,
      actor: 'system:workflow',
      payload: { index },
    }));
    const outcomes = await Promise.allSettled(Array.from({ length: 4 }, () => events.appendMany(list)));
    const added = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    expect(added.filter((flags) => flags.every(Boolean))).toHaveLength(1);
    expect(added.filter((flags) => !flags.every(Boolean))).toEqual(
      added.filter((flags) => flags.every((flag) => !flag)),
    );
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        // A unique violation: not a permanent data error, so the activity is retried.
        expect(permanentDataError(outcome.reason)).toBeUndefined();
        const codes: unknown[] = [];
        for (let cause: unknown = outcome.reason; cause instanceof Error; cause = cause.cause) {
          codes.push((cause as { code?: unknown }).code);
        }
        expect(codes).toContain('23505');
      }
    }
    expect(await events.appendMany(list)).toEqual([false, false, false]);
    expect(await events.verifyChain()).toMatchObject({ verified: 3, brokenLink: null, head: { seq: 3 } });
  }, 60_000);
});
