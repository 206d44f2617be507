import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { migrate as migrateNodePg } from 'drizzle-orm/node-postgres/migrator';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { CompleteAsyncError } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { MIGRATIONS_FOLDER, openDatabase } from '../../db/client';
import type { DatabaseHandle } from '../../db/client';
import { asTenantId } from '../../db/tenant-id';
import { DataStore } from '../../db/tenant-store';
import { createLogger } from '../../runtime/logger';
import { workflowIdForIntent } from '../../workflows/definitions';
import { lowRiskEvidence } from '../fixtures/evidence';
import { databaseKinds } from '../helpers/database';
import { Client as PgClient } from 'pg';

const TENANT_A = asTenantId('tenant-a');
const TENANT_B = asTenantId('tenant-b');

/** The migrations up to and including `lastTag`, as a production database had them applied. */
function migrationsThrough(lastTag: string): string {
  const folder = mkdtempSync(path.join(tmpdir(), 'eucora-migrations-'));
  cpSync(MIGRATIONS_FOLDER, folder, { recursive: true });
  const journalFile = path.join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] };
  const last = journal.entries.findIndex((entry) => entry.tag === lastTag);
  if (last < 0) throw new Error(`no migration ${lastTag}`);
  writeFileSync(journalFile, JSON.stringify({ ...journal, entries: journal.entries.slice(0, last + 1) }));
  return folder;
}

/** Both drivers answer `execute` with `{ rows }`. */
function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

async function migrateTo(handle: DatabaseHandle, folder: string): Promise<void> {
  if (handle.kind === 'pglite') {
    await migratePglite(handle.db as unknown as PgliteDatabase, { migrationsFolder: folder });
  } else {
    await migrateNodePg(handle.db as unknown as NodePgDatabase, { migrationsFolder: folder });
  }
}

async function openFresh(kind: 'pglite' | 'postgres') {
  if (kind === 'pglite') {
    const handle = await openDatabase({ pgliteDataDir: 'memory://' });
    return { handle, drop: () => handle.close() };
  }
  const adminUrl = process.env.DATABASE_URL ?? '';
  const name = `eucora_migration_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const admin = new PgClient({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ url: url.toString(), poolSize: 2 });
  return {
    handle,
    async drop() {
      await handle.close();
      const cleanup = new PgClient({ connectionString: adminUrl });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}

/**
 * Before correlation ids were server-owned, a client could give two intents the same one. The
 * migration to a unique (tenant, correlation id) index must apply to such a database, with running
 * workflows still carrying the shared id in their input.
 */
describe.each(databaseKinds())('the migration to unique correlation ids (%s)', (kind) => {
  let handle: DatabaseHandle;
  let drop: () => Promise<void>;
  let legacyFolder: string;
  const shared = randomUUID();
  const older = randomUUID();
  const newer = randomUUID();
  const otherTenant = randomUUID();
  const unique = randomUUID();

  async function insertIntent(tenantId: string, id: string, correlationId: string, createdAt: string) {
    const pack = randomUUID();
    await handle.db.execute(sql`
      insert into evidence_packs (id, tenant_id, content_hash, content, created_by)
      values (${pack}, ${tenantId}, ${randomUUID().replaceAll('-', '').padEnd(64, '0')},
              ${JSON.stringify(lowRiskEvidence())}::jsonb, 'packager')`);
    await handle.db.execute(sql`
      insert into deployment_intents (id, tenant_id, app_name, version, target_ring, connectors,
        evidence_pack_id, submitter_id, status, current_ring, correlation_id, workflow_id, created_at)
      values (${id}, ${tenantId}, '7-Zip', '24.08', 'CANARY',
        '[{"connectorType":"intune","platforms":["windows"]}]'::jsonb, ${pack}, 'packager', 'DEPLOYING',
        'LAB', ${correlationId}, ${workflowIdForIntent(id)}, ${createdAt}::timestamptz)`);
    await handle.db.execute(sql`
      insert into ring_deployments (tenant_id, intent_id, correlation_id, ring, kind, connector_type,
        platforms, status, workflow_id, activity_id, app_name, app_version, deadline_at, started_at)
      values (${tenantId}, ${id}, ${correlationId}, 'LAB', 'DEPLOY', 'intune', '{windows}', 'PENDING',
        ${workflowIdForIntent(id)}, 'deploy-LAB-intune', '7-Zip', '24.08', now() + interval '1 day', now())`);
    await handle.db.execute(sql`
      insert into deployment_events (tenant_id, event_key, event_type, intent_id, correlation_id, actor, payload)
      values (${tenantId}, ${`${id}:0000:INTENT_CREATED`}, 'INTENT_CREATED', ${id}, ${correlationId},
        'packager', '{}'::jsonb)`);
  }

  async function correlationOf(id: string) {
    const result = await handle.db.execute(
      sql`select correlation_id from deployment_intents where id = ${id}`,
    );
    return rowsOf<{ correlation_id: string }>(result)[0]?.correlation_id;
  }

  async function ringCorrelationOf(id: string) {
    const result = await handle.db.execute(
      sql`select correlation_id from ring_deployments where intent_id = ${id}`,
    );
    return rowsOf<{ correlation_id: string }>(result).map((row) => row.correlation_id);
  }

  beforeAll(async () => {
    ({ handle, drop } = await openFresh(kind));
    legacyFolder = migrationsThrough('0002_credential_scopes');
    await migrateTo(handle, legacyFolder);
    await insertIntent(TENANT_A, older, shared, '2026-11-01T10:00:00Z');
    await insertIntent(TENANT_A, newer, shared, '2026-11-02T10:00:00Z');
    await insertIntent(TENANT_B, otherTenant, shared, '2026-11-03T10:00:00Z');
    await insertIntent(TENANT_A, randomUUID(), unique, '2026-11-04T10:00:00Z');
    await handle.migrate();
  });
  afterAll(async () => {
    rmSync(legacyFolder, { recursive: true, force: true });
    await drop();
  });

  it('gives every intent that shared a correlation id in its tenant a fresh one, and its ring deployments too', async () => {
    const [first, second] = [await correlationOf(older), await correlationOf(newer)];
    expect(first).not.toBe(shared);
    expect(second).not.toBe(shared);
    expect(first).not.toBe(second);
    expect(await ringCorrelationOf(older)).toEqual([first]);
    expect(await ringCorrelationOf(newer)).toEqual([second]);
  });

  it('leaves ids that were unique in their tenant alone, across tenants too', async () => {
    expect(await correlationOf(otherTenant)).toBe(shared);
    const result = await handle.db.execute(
      sql`select count(*)::int as n from deployment_intents where correlation_id = ${unique}`,
    );
    expect(rowsOf<{ n: number }>(result)[0]?.n).toBe(1);
  });

  it('audits each reassignment and keeps the earlier trail as it was written', async () => {
    const store = new DataStore(handle.db).forTenant(TENANT_A);
    const trail = await store.events.list({ intentId: newer }, { limit: 10 });
    expect(trail.items.map((event) => [event.eventType, event.correlationId])).toEqual([
      ['INTENT_CREATED', shared],
      ['CORRELATION_ID_REASSIGNED', await correlationOf(newer)],
    ]);
    expect(trail.items[1]).toMatchObject({
      actor: 'system:migration',
      requestId: null,
      payload: { previousCorrelationId: shared, correlationId: await correlationOf(newer) },
    });
  });

  it('refuses a duplicate correlation id from now on', async () => {
    await expect(insertIntent(TENANT_A, randomUUID(), unique, '2026-11-05T10:00:00Z')).rejects.toThrow();
  });

  it('keeps the rows of a running workflow that still carries the shared id on the reassigned one', async () => {
    const activities = createActivities({
      store: new DataStore(handle.db),
      logger: createLogger({ level: 'silent' }),
    });
    const current = await correlationOf(newer);
    const ref = { tenantId: TENANT_A, intentId: newer, correlationId: shared };
    await activities.recordTransition({
      ...ref,
      eventKey: `${newer}:0007:RING_PROMOTED`,
      eventType: 'RING_PROMOTED',
      status: 'DEPLOYING',
      currentRing: 'CANARY',
      actor: 'system:workflow',
      payload: { from: 'LAB', to: 'CANARY' },
      at: new Date().toISOString(),
    });
    const environment = new MockActivityEnvironment({
      activityId: 'deploy-CANARY-intune',
      workflowExecution: { workflowId: workflowIdForIntent(newer), runId: randomUUID() },
    });
    await expect(
      environment.run(activities.deployToRing, {
        ...ref,
        ring: 'CANARY' as const,
        connectorType: 'intune' as const,
        platforms: ['windows' as const],
        appName: '7-Zip',
        version: '24.08',
        startedAt: new Date().toISOString(),
        deadlineAt: new Date(Date.now() + 60_000).toISOString(),
      }),
    ).rejects.toBeInstanceOf(CompleteAsyncError);

    expect(await ringCorrelationOf(newer)).toEqual([current, current]);
    const store = new DataStore(handle.db).forTenant(TENANT_A);
    const promoted = await store.events.list({ intentId: newer, eventType: 'RING_PROMOTED' }, { limit: 1 });
    expect(promoted.items[0]?.correlationId).toBe(current);
  });
});
