import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { and, asc, eq, isNotNull } from 'drizzle-orm';
import { DataStore } from '../../db/tenant-store';
import { asTenantId } from '../../db/tenant-id';
import { siemOutbox } from '../../db/schema';
import { createTestDatabase } from '../helpers/database';
import type { TestDatabase } from '../helpers/database';
import { createTestCertificates } from '../helpers/test-ca';
import type { TestCertificates } from '../helpers/test-ca';
import {
  FAKE_INGESTION_TOKEN,
  FAKE_RULE_ID,
  FAKE_STREAM,
  startFakeLogsIngestion,
} from '../helpers/fake-logs-ingestion';
import type { FakeLogsIngestion } from '../helpers/fake-logs-ingestion';

const ROOT = path.resolve(__dirname, '../..');
const SCRIPT = path.join(ROOT, 'test', 'helpers', 'siem-forwarder-process.ts');
const TENANTS = ['crash-a', 'crash-b'];
const LEASE_MS = 1_500;

const describeOnPostgres = process.env.DATABASE_URL === undefined ? describe.skip : describe;

describeOnPostgres('the SIEM forwarder SIGKILLed mid-batch', () => {
  let db: TestDatabase;
  let certificates: TestCertificates;
  let ingestion: FakeLogsIngestion;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    certificates = createTestCertificates();
    ingestion = await startFakeLogsIngestion(certificates);
  });
  afterAll(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await ingestion.close();
    certificates.dispose();
    await db.drop();
  });

  function startForwarder(): Promise<ChildProcess> {
    const env: Record<string, string | undefined> = {
      ...process.env,
      DATABASE_URL: db.url,
      SIEM_INGESTION_ENDPOINT: ingestion.endpoint,
      SIEM_RULE_ID: FAKE_RULE_ID,
      SIEM_STREAM: FAKE_STREAM,
      SIEM_TEST_TOKEN: FAKE_INGESTION_TOKEN,
      SIEM_TEST_CA_FILE: certificates.caFile,
      SIEM_TEST_BATCH_SIZE: '5',
      SIEM_TEST_LEASE_MS: String(LEASE_MS),
    };
    // Jest's NODE_OPTIONS (vm modules) are not the child's business.
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('forwarding')) resolve(child);
      });
      child.once('exit', (code) => {
        reject(new Error(`the forwarder exited with ${String(code)} before it ran`));
      });
    });
  }

  async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('loses nothing, and a record sent twice is recognisable by its id', async () => {
    for (const tenant of TENANTS) {
      const store = new DataStore(db.handle.db, { siemOutbox: true }).forTenant(asTenantId(tenant));
      for (let i = 0; i < 12; i += 1) {
        await store.events.append({
          eventKey: `crash:${randomUUID()}`,
          eventType: i % 2 === 0 ? 'CAB_DECIDED' : 'AUTHZ_DENIED',
          intentId: null,
          correlationId: randomUUID(),
          requestId: null,
          actor: 'alice@example.com',
          payload: { i },
        });
      }
    }
    // The first batch reaches the SIEM, but the worker dies before it hears the answer and marks it sent.
    ingestion.faults.push({ stall: true });
    const first = await startForwarder();
    await until(() => ingestion.calls.some((call) => call.status === -1), 'a batch is in flight');
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const inFlight = ingestion.received.map((record) => record.RecordId as string);
    expect(inFlight.length).toBeGreaterThan(0);

    const second = await startForwarder();
    const expected = new Map<string, string[]>();
    for (const tenant of TENANTS) {
      const rows = await db.handle.db
        .select({ recordId: siemOutbox.recordId })
        .from(siemOutbox)
        .where(and(eq(siemOutbox.tenantId, tenant), isNotNull(siemOutbox.eventId)))
        .orderBy(asc(siemOutbox.id));
      expected.set(
        tenant,
        rows.map((row) => row.recordId),
      );
    }
    await until(async () => (await db.store.siemOutbox.backlog()).records === 0, 'the backlog drains');
    second.kill('SIGKILL');

    for (const tenant of TENANTS) {
      const arrived = ingestion.received
        .filter((record) => record.TenantId === tenant && record.RecordKind === 'AUDIT_EVENT')
        .map((record) => record.RecordId as string);
      // Every event arrived; in first-arrival order, the tenant's order.
      expect([...new Set(arrived)]).toEqual(expected.get(tenant));
    }
    // What arrived twice is exactly what was in flight when the worker died, and the same record both times.
    const counts = new Map<string, number>();
    for (const record of ingestion.received) {
      const id = record.RecordId as string;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    expect(twice.sort()).toEqual([...inFlight].sort());
    for (const id of twice) {
      const copies = ingestion.received.filter((record) => record.RecordId === id);
      expect(copies[1]).toEqual(copies[0]);
    }
  });
});
