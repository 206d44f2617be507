import { randomUUID } from 'node:crypto';
import { and, asc, eq, isNotNull, isNull } from 'drizzle-orm';
import { DataStore } from '../../db/tenant-store';
import { asTenantId } from '../../db/tenant-id';
import { auditChainHeads, siemOutbox } from '../../db/schema';
import { SiemOutboxRepository } from '../../db/repositories/siem-outbox';
import { SiemForwarder, logsIngestionUploader } from '../../runtime/siem-forwarder';
import { createLogger } from '../../runtime/logger';
import { createTestDatabase, databaseKinds } from '../helpers/database';
import type { TestDatabase } from '../helpers/database';
import { createTestCertificates } from '../helpers/test-ca';
import type { TestCertificates } from '../helpers/test-ca';
import { FAKE_RULE_ID, FAKE_STREAM, startFakeLogsIngestion } from '../helpers/fake-logs-ingestion';
import type { FakeLogsIngestion } from '../helpers/fake-logs-ingestion';

const PRIVILEGED = ['CAB_DECIDED', 'AUTHZ_DENIED', 'PAUSED', 'ROLLED_BACK', 'RISK_MODEL_ACTIVATED'];

function privilegedEvent(index: number) {
  return {
    eventKey: `test:${randomUUID()}`,
    eventType: PRIVILEGED[index % PRIVILEGED.length] ?? 'CAB_DECIDED',
    intentId: null,
    correlationId: randomUUID(),
    requestId: `req-${String(index)}`,
    actor: 'alice@example.com',
    payload: { index },
  };
}

describe.each(databaseKinds())('the SIEM forwarder (%s)', (kind) => {
  let db: TestDatabase;
  let certificates: TestCertificates;
  let ingestion: FakeLogsIngestion;
  let outbox: SiemOutboxRepository;
  const logger = createLogger({ level: 'silent' });

  beforeAll(() => {
    certificates = createTestCertificates();
  });
  afterAll(() => {
    certificates.dispose();
  });
  // A database per test: the forwarder works across tenants, and each test counts what it sent.
  beforeEach(async () => {
    db = await createTestDatabase(kind);
    outbox = new SiemOutboxRepository(db.handle.db);
    ingestion = await startFakeLogsIngestion(certificates);
  });
  afterEach(async () => {
    await ingestion.close();
    await db.drop();
  });

  function forwarder(options: { batchSize?: number; retryMs?: number; now?: () => Date } = {}) {
    return new SiemForwarder({
      outbox,
      uploader: logsIngestionUploader(
        { ingestionEndpoint: ingestion.endpoint, ruleId: FAKE_RULE_ID, stream: FAKE_STREAM },
        ingestion.access,
      ),
      logger,
      batchSize: options.batchSize ?? 50,
      pollIntervalMs: 20,
      retry: { baseMs: options.retryMs ?? 1, maxMs: options.retryMs ?? 1 },
      leaseMs: 60_000,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
  }

  async function append(tenant: string, count: number, from = 0): Promise<void> {
    const store = new DataStore(db.handle.db, { siemOutbox: true }).forTenant(asTenantId(tenant));
    for (let i = from; i < from + count; i += 1) await store.events.append(privilegedEvent(i));
  }

  async function drain(subject: SiemForwarder, tenants: string[]): Promise<void> {
    for (let pass = 0; pass < 200; pass += 1) {
      await subject.forwardOnce();
      const left = await Promise.all(tenants.map((tenant) => outbox.backlog(tenant)));
      if (left.every((backlog) => backlog.records === 0)) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error('the outbox did not drain');
  }

  /** The records of a tenant's audit events as the SIEM received them, in arrival order. */
  function receivedEvents(tenant: string) {
    return ingestion.received.filter((r) => r.TenantId === tenant && r.RecordKind === 'AUDIT_EVENT');
  }

  /** The outbox's audit event records of a tenant, in the order they were queued. */
  async function outboxRecordIds(tenant: string): Promise<string[]> {
    const rows = await db.handle.db
      .select({ recordId: siemOutbox.recordId })
      .from(siemOutbox)
      .where(and(eq(siemOutbox.tenantId, tenant), isNotNull(siemOutbox.eventId)))
      .orderBy(asc(siemOutbox.id));
    return rows.map((row) => row.recordId);
  }

  it('delivers every privileged event exactly once, in per-tenant order, after an outage', async () => {
    const tenants = [`outage-a-${kind}`, `outage-b-${kind}`];
    const subject = forwarder({ batchSize: 7 });
    ingestion.outage = { refuse: true };
    await append(tenants[0] ?? '', 12);
    await append(tenants[1] ?? '', 5);
    expect(await subject.forwardOnce()).toBe(0);
    const during = await outbox.backlog(tenants[0]);
    // 12 events and the day's chain anchor, queued behind them.
    expect(during).toMatchObject({ records: 13, lastSendFailed: true });
    expect(during.oldestCreatedAt).toBeInstanceOf(Date);
    // The API goes on appending while the SIEM is down: nothing waits for it.
    await append(tenants[0] ?? '', 6, 12);
    expect(await subject.forwardOnce()).toBe(0);
    ingestion.outage = { status: 503 };
    expect(await subject.forwardOnce()).toBe(0);
    ingestion.outage = undefined;
    await drain(subject, tenants);

    for (const tenant of tenants) {
      const arrived = receivedEvents(tenant);
      const ids = arrived.map((record) => record.RecordId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual(await outboxRecordIds(tenant));
      const seqs = arrived.map((record) => record.Seq as number);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
    expect(receivedEvents(tenants[0] ?? '')).toHaveLength(18);
    expect(await outbox.backlog(tenants[0])).toEqual({
      records: 0,
      oldestCreatedAt: null,
      lastSendFailed: false,
    });
    // Sent rows are kept, stamped with when they went out.
    const rows = await db.handle.db
      .select()
      .from(siemOutbox)
      .where(eq(siemOutbox.tenantId, tenants[0] ?? ''));
    expect(rows.every((row) => row.sentAt instanceof Date && row.lastError === null)).toBe(true);
    expect(ingestion.calls.some((call) => call.status === 0)).toBe(true);
    expect(ingestion.calls.some((call) => call.status === 503)).toBe(true);
  });

  it('waits as long as a 429 asks, holding back only that tenant', async () => {
    const throttled = `throttled-${kind}`;
    const other = `unthrottled-${kind}`;
    await append(throttled, 3);
    const subject = forwarder({ retryMs: 1 });
    ingestion.faults.push({ status: 429, retryAfterSeconds: 30 });
    const started = Date.now();
    await subject.forwardOnce();
    const [head] = await db.handle.db
      .select()
      .from(siemOutbox)
      .where(eq(siemOutbox.tenantId, throttled))
      .orderBy(asc(siemOutbox.id))
      .limit(1);
    expect(head?.nextAttemptAt.getTime()).toBeGreaterThanOrEqual(started + 29_000);
    expect(head?.lastError).toContain('429');
    await append(other, 2);
    await subject.forwardOnce();
    expect(receivedEvents(throttled)).toEqual([]);
    expect(receivedEvents(other)).toHaveLength(2);
    expect(await outbox.backlog(throttled)).toMatchObject({ records: 4, lastSendFailed: true });
  });

  it('splits a batch the endpoint refuses as too large (413) and keeps the order', async () => {
    const tenant = `too-large-${kind}`;
    await append(tenant, 9);
    ingestion.maxRecordsPerCall = 2;
    await drain(forwarder({ batchSize: 9 }), [tenant]);
    expect(receivedEvents(tenant).map((record) => record.RecordId)).toEqual(await outboxRecordIds(tenant));
    expect(ingestion.calls[0]).toEqual({ records: 9, status: 413 });
    expect(ingestion.calls.filter((call) => call.status === 204).every((call) => call.records <= 2)).toBe(
      true,
    );
  });

  it('keeps each tenant’s order with two forwarders (two workers) sending at once, with 413 splits', async () => {
    const tenants = [`pair-a-${kind}`, `pair-b-${kind}`];
    await append(tenants[0] ?? '', 14);
    await append(tenants[1] ?? '', 9);
    ingestion.maxRecordsPerCall = 3;
    const first = forwarder({ batchSize: 8 });
    const second = forwarder({ batchSize: 8 });
    await Promise.all([drain(first, tenants), drain(second, tenants)]);
    for (const tenant of tenants) {
      const arrived = receivedEvents(tenant).map((record) => record.RecordId as string);
      expect([...new Set(arrived)]).toEqual(await outboxRecordIds(tenant));
    }
  });

  it('sends only what fits one upload, and the rest right after', async () => {
    const tenant = `large-${kind}`;
    const store = new DataStore(db.handle.db, { siemOutbox: true }).forTenant(asTenantId(tenant));
    for (let i = 0; i < 3; i += 1) {
      await store.events.append({ ...privilegedEvent(i), payload: { padding: 'x'.repeat(400_000) } });
    }
    await drain(forwarder({ batchSize: 10 }), [tenant]);
    expect(receivedEvents(tenant).map((record) => record.RecordId)).toEqual(await outboxRecordIds(tenant));
    expect(ingestion.calls.filter((call) => call.status === 204).every((call) => call.records <= 2)).toBe(
      true,
    );
  });

  it('retries a single record the endpoint keeps refusing (500) without losing it', async () => {
    const tenant = `server-error-${kind}`;
    await append(tenant, 1);
    ingestion.faults.push({ status: 500 }, { status: 500 });
    const subject = forwarder();
    await drain(subject, [tenant]);
    expect(receivedEvents(tenant)).toHaveLength(1);
    const [row] = await db.handle.db.select().from(siemOutbox).where(eq(siemOutbox.tenantId, tenant));
    expect(row?.attempts).toBe(3);
  });

  it('anchors each tenant’s chain head once per UTC day with a stable record id', async () => {
    const tenant = `anchored-${kind}`;
    await append(tenant, 2);
    let now = new Date('2026-11-28T23:59:00.000Z');
    const subject = forwarder({ now: () => now });
    await drain(subject, [tenant]);
    await subject.forwardOnce();
    const [head] = await db.handle.db
      .select()
      .from(auditChainHeads)
      .where(eq(auditChainHeads.tenantId, tenant));
    const anchorsOf = () =>
      ingestion.received.filter((r) => r.TenantId === tenant && r.RecordKind === 'AUDIT_CHAIN_ANCHOR');
    expect(anchorsOf()).toEqual([
      expect.objectContaining({
        RecordId: `${tenant}:anchor:2026-11-28`,
        Day: '2026-11-28',
        Seq: head?.seq,
        Hash: head?.hash,
      }),
    ]);
    // Another forwarder (a second worker, or this one restarted) queues the same day's anchor again: no duplicate.
    expect(await outbox.queueChainAnchors('2026-11-28', now)).toBe(0);
    now = new Date('2026-11-29T00:00:01.000Z');
    await drain(subject, [tenant]);
    expect(anchorsOf().map((r) => r.RecordId)).toEqual([
      `${tenant}:anchor:2026-11-28`,
      `${tenant}:anchor:2026-11-29`,
    ]);
  });

  it('runs as a loop until stopped, and a failing pass does not end it', async () => {
    const tenant = `looping-${kind}`;
    await append(tenant, 4);
    const subject = forwarder();
    subject.start();
    subject.start();
    for (let i = 0; i < 200 && (await outbox.backlog(tenant)).records > 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await subject.stop();
    expect(receivedEvents(tenant)).toHaveLength(4);
    const unsent = await db.handle.db.select().from(siemOutbox).where(isNull(siemOutbox.sentAt));
    expect(unsent.filter((row) => row.tenantId === tenant)).toEqual([]);
  });
});
