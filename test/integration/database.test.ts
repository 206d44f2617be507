import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../../db/client';
import { asTenantId } from '../../db/tenant-id';
import { INTENT_SUMMARY_COLUMNS } from '../../db/repositories/deployment-intents';
import { createTestDatabase, databaseKinds } from '../helpers/database';
import type { TestDatabase } from '../helpers/database';
import { lowRiskEvidence } from '../fixtures/evidence';
import { RISK_MODEL_V1 } from '../../policy/risk-model';

const TENANT_A = asTenantId('tenant-a');
const TENANT_B = asTenantId('tenant-b');

async function failureOf(work: Promise<unknown>): Promise<string> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  const cause = (error as { cause?: { message?: string } }).cause;
  return cause?.message ?? (error as Error).message;
}

describe.each(databaseKinds())('the database (%s)', (kind) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await db.drop();
  });

  async function seedEvent(): Promise<void> {
    await db.store.forTenant(TENANT_A).events.append({
      eventKey: `seed-${randomUUID()}`,
      eventType: 'TEST_EVENT',
      intentId: null,
      correlationId: randomUUID(),
      requestId: null,
      actor: 'test',
      payload: { n: 1 },
    });
  }

  describe('the audit trail is append-only in the database itself', () => {
    it.each([
      ['UPDATE', sql`update deployment_events set actor = 'mallory'`],
      ['DELETE', sql`delete from deployment_events`],
      ['TRUNCATE', sql`truncate deployment_events`],
    ])('refuses %s', async (operation, statement) => {
      await seedEvent();
      const message = await failureOf(db.handle.db.execute(statement));
      expect(message).toBe(`table deployment_events is append-only: ${operation} is not allowed`);
      const page = await db.store.forTenant(TENANT_A).events.list({ eventType: 'TEST_EVENT' }, { limit: 1 });
      expect(page.items).toHaveLength(1);
    });

    it('refuses UPDATE and DELETE of a stored evidence pack', async () => {
      const pack = await db.store
        .forTenant(TENANT_A)
        .evidencePacks.store({ contentHash: 'd'.repeat(64), content: lowRiskEvidence(), createdBy: 'test' });
      const update = sql`update evidence_packs set created_by = 'mallory' where id = ${pack.row.id}`;
      expect(await failureOf(db.handle.db.execute(update))).toContain('append-only: UPDATE');
      const remove = sql`delete from evidence_packs where id = ${pack.row.id}`;
      expect(await failureOf(db.handle.db.execute(remove))).toContain('append-only: DELETE');
    });

    it('adds nothing when the same event key is appended twice', async () => {
      const events = db.store.forTenant(TENANT_A).events;
      const event = {
        eventKey: `retry-${randomUUID()}`,
        eventType: 'RING_STARTED',
        intentId: null,
        correlationId: randomUUID(),
        requestId: null,
        actor: 'system:workflow',
        payload: {},
      };
      expect(await events.append(event)).toBe(true);
      expect(await events.append(event)).toBe(false);
      const page = await events.list({ correlationId: event.correlationId }, { limit: 10 });
      expect(page.items).toHaveLength(1);
    });
  });

  describe('tenant scoping', () => {
    it('keeps data written for one tenant invisible to another', async () => {
      const a = db.store.forTenant(TENANT_A);
      const b = db.store.forTenant(TENANT_B);
      const { row: pack } = await a.evidencePacks.store({
        contentHash: 'e'.repeat(64),
        content: lowRiskEvidence(),
        createdBy: 'alice',
      });
      const intentId = randomUUID();
      const correlationId = randomUUID();
      await a.intents.create({
        id: intentId,
        appName: 'Tenant A app',
        version: '1.0',
        targetRing: 'LAB',
        connectors: [{ connectorType: 'intune', platforms: ['windows'] }],
        evidencePackId: pack.id,
        submitterId: 'alice',
        status: 'SUBMITTED',
        correlationId,
        workflowId: `wf-${intentId}`,
        idempotencyKey: 'same-key',
      });
      await a.events.append({
        eventKey: `${intentId}:created`,
        eventType: 'INTENT_CREATED',
        intentId,
        correlationId,
        requestId: null,
        actor: 'alice',
        payload: {},
      });

      expect(await a.intents.get(intentId)).toBeDefined();
      expect(await b.intents.get(intentId)).toBeUndefined();
      expect(await b.evidencePacks.get(pack.id)).toBeUndefined();
      // Idempotency-Keys are per tenant: tenant B's key of the same name is its own.
      const keyed = { key: 'same-key', operation: 'op', requestHash: 'h', leaseMs: 60_000, ttlMs: 60_000 };
      expect((await a.idempotencyKeys.claim(keyed)).kind).toBe('claimed');
      expect((await b.idempotencyKeys.claim(keyed)).kind).toBe('claimed');
      expect((await a.idempotencyKeys.claim(keyed)).kind).toBe('in-progress');
      expect((await b.intents.list({}, { limit: 50 })).items).toEqual([]);
      expect((await b.intents.listSummaries({}, { limit: 50 })).items).toEqual([]);
      // The list's summaries are the rows' summary columns, nothing more (no JSON documents).
      const [whole] = (await a.intents.list({}, { limit: 1 })).items;
      const [summary] = (await a.intents.listSummaries({}, { limit: 1 })).items;
      expect(whole?.id).toBe(intentId);
      expect(Object.keys(summary ?? {}).sort()).toEqual(Object.keys(INTENT_SUMMARY_COLUMNS).sort());
      expect(summary).toEqual(
        Object.fromEntries(
          Object.keys(INTENT_SUMMARY_COLUMNS).map((key) => [key, whole?.[key as keyof typeof whole]]),
        ),
      );
      expect((await b.events.list({ intentId }, { limit: 50 })).items).toEqual([]);
      expect((await b.events.list({ correlationId }, { limit: 50 })).items).toEqual([]);
      expect(await b.ringDeployments.forIntent(intentId)).toEqual([]);

      // A write through tenant B's store cannot touch tenant A's row.
      await b.intents.recordProgress(intentId, { status: 'COMPLETED' }, new Date());
      expect((await a.intents.get(intentId))?.status).toBe('SUBMITTED');
      // Another tenant may reuse the same idempotency key and content hash for its own rows.
      const own = await b.evidencePacks.store({
        contentHash: 'e'.repeat(64),
        content: lowRiskEvidence(),
        createdBy: 'bob',
      });
      expect(own.created).toBe(true);
      expect(own.row.id).not.toBe(pack.id);
    });

    it('refuses a tenant id that is not one', () => {
      expect(() => asTenantId('')).toThrow();
      expect(() => asTenantId('a tenant; drop table')).toThrow();
    });

    it('installs the default risk model once per tenant and keeps exactly one active', async () => {
      const at = new Date();
      const [first, second] = await Promise.all([
        db.store.forTenant(TENANT_A).riskModels.activeOrInstall(RISK_MODEL_V1, at),
        db.store.forTenant(TENANT_A).riskModels.activeOrInstall(RISK_MODEL_V1, at),
      ]);
      expect(first.id).toBe(second.id);
      expect(await db.store.forTenant(TENANT_B).riskModels.list()).toEqual([]);
    });
  });

  it('applies migrations idempotently, also from two processes at once', async () => {
    if (db.url === undefined) {
      await db.handle.migrate();
      return;
    }
    const other = await openDatabase({ url: db.url, poolSize: 2 });
    const third = await openDatabase({ url: db.url, poolSize: 2 });
    try {
      await Promise.all([other.migrate(), third.migrate(), db.handle.migrate()]);
    } finally {
      await other.close();
      await third.close();
    }
  });
});
