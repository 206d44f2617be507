import { randomUUID } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
import { DataStore } from '../../db/tenant-store';
import { asTenantId } from '../../db/tenant-id';
import { deploymentEvents, siemOutbox } from '../../db/schema';
import { createTestDatabase, databaseKinds } from '../helpers/database';
import type { TestDatabase } from '../helpers/database';

const TENANT = asTenantId('tenant-siem');

function event(eventType: string, key: string = randomUUID()) {
  return {
    eventKey: `test:${key}`,
    eventType,
    intentId: null,
    correlationId: randomUUID(),
    requestId: 'req-1',
    actor: 'alice@example.com',
    payload: { note: 'x' },
  };
}

describe.each(databaseKinds())('the SIEM outbox (%s)', (kind) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await db.drop();
  });

  /** A tenant's audit events in chain order. */
  const chainRows = (tenant: string) =>
    db.handle.db
      .select()
      .from(deploymentEvents)
      .where(eq(deploymentEvents.tenantId, tenant))
      .orderBy(asc(deploymentEvents.seq));

  it('appends a list in one go: in order, chained, each forwarded event queued, known keys skipped', async () => {
    const tenant = asTenantId(`tenant-many-${randomUUID()}`);
    const store = new DataStore(db.handle.db, { siemOutbox: true }).forTenant(tenant);
    await store.events.append(event('INTENT_CREATED', `${tenant}-1`));
    const added = await store.events.appendMany([
      event('INTENT_CREATED', `${tenant}-1`), // recorded before: skipped
      event('CAB_DECIDED', `${tenant}-2`),
      event('RING_REPORTED', `${tenant}-3`),
      event('CAB_DECIDED', `${tenant}-2`), // earlier in the same list: skipped
      event('ROLLED_BACK', `${tenant}-4`),
    ]);
    expect(added).toEqual([false, true, true, false, true]);
    expect(await store.events.appendMany([])).toEqual([]);
    const rows = await chainRows(tenant);
    expect(rows.map((row) => [row.seq, row.eventKey])).toEqual([
      [1, `test:${tenant}-1`],
      [2, `test:${tenant}-2`],
      [3, `test:${tenant}-3`],
      [4, `test:${tenant}-4`],
    ]);
    expect(await store.events.verifyChain()).toMatchObject({
      verified: 4,
      brokenLink: null,
      head: { seq: 4 },
    });
    const queued = await db.handle.db
      .select()
      .from(siemOutbox)
      .where(eq(siemOutbox.tenantId, tenant))
      .orderBy(asc(siemOutbox.eventId));
    const forwarded = rows.filter((row) => ['CAB_DECIDED', 'ROLLED_BACK'].includes(row.eventType));
    expect(queued.map((row) => [row.eventId, (row.record as { Seq: number }).Seq])).toEqual(
      forwarded.map((row) => [row.id, row.seq]),
    );
  });

  it('appends a list its caller knows unrecorded the same way; a key recorded after all fails the whole list', async () => {
    const tenant = asTenantId(`tenant-unrecorded-${randomUUID()}`);
    const store = new DataStore(db.handle.db, { siemOutbox: true }).forTenant(tenant);
    const added = await store.events.appendMany(
      [event('INTENT_CREATED', `${tenant}-1`), event('CAB_DECIDED', `${tenant}-2`)],
      { unrecorded: true },
    );
    expect(added).toEqual([true, true]);
    await expect(
      store.events.appendMany([event('RING_REPORTED', `${tenant}-3`), event('CAB_DECIDED', `${tenant}-2`)], {
        unrecorded: true,
      }),
    ).rejects.toThrow();
    const rows = await chainRows(tenant);
    expect(rows.map((row) => [row.seq, row.eventKey])).toEqual([
      [1, `test:${tenant}-1`],
      [2, `test:${tenant}-2`],
    ]);
    expect(await store.events.verifyChain()).toMatchObject({
      verified: 2,
      brokenLink: null,
      head: { seq: 2 },
    });
    const queued = await db.handle.db.select().from(siemOutbox).where(eq(siemOutbox.tenantId, tenant));
    expect(queued.map((row) => row.eventId)).toEqual([rows[1]?.id]);
  });

  it('queues a privileged event with its chained row and a stable record id, and skips the others', async () => {
    const store = new DataStore(db.handle.db, { siemOutbox: true }).forTenant(TENANT);
    await store.events.append(event('INTENT_CREATED'));
    await store.events.append(event('CAB_DECIDED', 'cab-1'));
    // A retried write of the same key queues nothing more.
    expect(await store.events.append(event('CAB_DECIDED', 'cab-1'))).toBe(false);
    const [cab] = await db.handle.db
      .select()
      .from(deploymentEvents)
      .where(eq(deploymentEvents.eventKey, 'test:cab-1'));
    const rows = await db.handle.db.select().from(siemOutbox).where(eq(siemOutbox.tenantId, TENANT));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      recordId: `${TENANT}:event:${String(cab?.id)}`,
      eventId: cab?.id,
      sentAt: null,
      attempts: 0,
      record: {
        RecordId: `${TENANT}:event:${String(cab?.id)}`,
        EventType: 'CAB_DECIDED',
        Seq: cab?.seq,
        Hash: cab?.hash,
        PrevHash: cab?.prevHash,
        Actor: 'alice@example.com',
        RequestId: 'req-1',
        TimeGenerated: cab?.occurredAt.toISOString(),
      },
    });
  });

  it('writes nothing to the outbox when no SIEM is configured', async () => {
    const tenant = asTenantId('tenant-no-siem');
    await new DataStore(db.handle.db).forTenant(tenant).events.append(event('AUTHZ_DENIED'));
    expect(await db.handle.db.select().from(siemOutbox).where(eq(siemOutbox.tenantId, tenant))).toEqual([]);
  });

  it('rolls the outbox row back with the event when the transaction fails', async () => {
    const tenant = asTenantId('tenant-rollback');
    const store = new DataStore(db.handle.db, { siemOutbox: true }).forTenant(tenant);
    await expect(
      store.transaction(async (tx) => {
        await tx.events.append(event('RISK_MODEL_ACTIVATED'));
        throw new Error('the caller fails after the append');
      }),
    ).rejects.toThrow('the caller fails after the append');
    expect(await db.handle.db.select().from(siemOutbox).where(eq(siemOutbox.tenantId, tenant))).toEqual([]);
    await store.transaction(async (tx) => {
      await tx.events.append(event('RISK_MODEL_ACTIVATED'));
      await tx.events.append(event('CONNECTOR_CREDENTIAL_REVOKED'));
    });
    const rows = await db.handle.db
      .select()
      .from(siemOutbox)
      .where(eq(siemOutbox.tenantId, tenant))
      .orderBy(asc(siemOutbox.id));
    expect(rows.map((row) => row.record.EventType)).toEqual([
      'RISK_MODEL_ACTIVATED',
      'CONNECTOR_CREDENTIAL_REVOKED',
    ]);
  });
});
