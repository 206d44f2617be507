import { asc, eq } from 'drizzle-orm';
import { deploymentEvents } from '../../db/schema';
import { SiemOutboxRepository } from '../../db/repositories/siem-outbox';
import { isSiemForwarded, siemEventRecordId } from '../../policy/siem-events';
import { RINGS } from '../../policy/rings';
import type { SiemForwarder } from '../../runtime/siem-forwarder';
import { highRiskEvidence, quorumRiskEvidence } from '../fixtures/evidence';
import { forwarderTo, startFakeLogsIngestion } from '../helpers/fake-logs-ingestion';
import type { FakeLogsIngestion } from '../helpers/fake-logs-ingestion';
import { Harness, TENANT_A, fastPolicy } from '../helpers/harness';
import { createTestCertificates } from '../helpers/test-ca';
import type { TestCertificates } from '../helpers/test-ca';

/**
 * Issue 11's SIEM outage, end to end on the real server: the workflows' own audit events (CAB decisions,
 * quorum approvals, aborts, rollbacks) are queued by the worker's activities in the transaction that writes
 * them; while the SIEM refuses every upload the rollouts go on to their ends unhindered, and after the SIEM
 * recovers every privileged event arrives exactly once, in the tenant's chain order.
 */
describe('SIEM outage during rollouts and CAB decisions', () => {
  let harness: Harness;
  let certificates: TestCertificates;
  let ingestion: FakeLogsIngestion;
  let forwarder: SiemForwarder;

  beforeAll(async () => {
    harness = await Harness.start(fastPolicy({ cabTimeoutMs: 60_000 }), undefined, { siemOutbox: true });
    certificates = createTestCertificates();
    ingestion = await startFakeLogsIngestion(certificates);
    forwarder = forwarderTo(ingestion, new SiemOutboxRepository(harness.db.handle.db), {
      batchSize: 20,
      retry: { baseMs: 10, maxMs: 50 },
    });
  });
  afterAll(async () => {
    await forwarder.stop();
    await ingestion.close();
    certificates.dispose();
    await harness.close();
  });

  it('lets every rollout finish while the SIEM refuses, then delivers every privileged event once, in order', async () => {
    ingestion.outage = { refuse: true };
    forwarder.start();

    // A quorum approved by two members and completed; one rejected; one aborted mid-rollout and rolled back.
    const approved = (await harness.submit({ evidencePack: quorumRiskEvidence() })).intent;
    const rejected = (await harness.submit({ evidencePack: highRiskEvidence() })).intent;
    const aborted = (await harness.submit({ evidencePack: highRiskEvidence() })).intent;
    for (const intent of [approved, rejected, aborted]) {
      await harness.reachStatus(intent.workflowId, 'AWAITING_CAB');
    }
    await harness.decide(approved.workflowId);
    await harness.decide(approved.workflowId, { approverId: 'cab.deputy@example.com' });
    await harness.decide(rejected.workflowId, { decision: 'REJECTED', comments: 'no' });
    await harness.decide(aborted.workflowId);
    for (const ring of RINGS) await harness.complete(approved, ring, { success: 1000, failure: 0 });
    await harness.complete(aborted, 'LAB', { success: 10, failure: 0 });
    await harness.pending(aborted.id, 'CANARY');
    await harness.handle(aborted.workflowId).signal('abort', { by: 'operator@example.com', reason: 'halt' });
    await harness.complete(aborted, 'CANARY', { success: 0, failure: 0 }, 'ROLLBACK');
    await harness.complete(aborted, 'LAB', { success: 10, failure: 0 }, 'ROLLBACK');

    // The SIEM being down held nothing up.
    expect((await harness.result(approved.workflowId)).status).toBe('COMPLETED');
    expect((await harness.result(rejected.workflowId)).status).toBe('REJECTED');
    expect((await harness.result(aborted.workflowId)).status).toBe('ROLLED_BACK');
    expect(ingestion.received).toEqual([]);
    expect(ingestion.calls.length).toBeGreaterThan(0);

    ingestion.outage = undefined;
    const outbox = new SiemOutboxRepository(harness.db.handle.db);
    for (let pass = 0; (await outbox.backlog(TENANT_A)).records > 0; pass += 1) {
      if (pass > 600) throw new Error('the outbox did not drain');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const events = await harness.db.handle.db
      .select()
      .from(deploymentEvents)
      .where(eq(deploymentEvents.tenantId, TENANT_A))
      .orderBy(asc(deploymentEvents.seq));
    const privileged = events.filter((event) => isSiemForwarded(event.eventType));
    const types = new Set(privileged.map((event) => event.eventType));
    for (const type of [
      'CAB_APPROVAL_RECORDED',
      'CAB_DECIDED',
      'ABORT_REQUESTED',
      'ROLLBACK_STARTED',
      'ROLLED_BACK',
    ]) {
      expect([type, types.has(type)]).toEqual([type, true]);
    }
    const arrived = ingestion.received.filter(
      (record) => record.TenantId === TENANT_A && record.RecordKind === 'AUDIT_EVENT',
    );
    const ids = arrived.map((record) => record.RecordId);
    // Exactly once each, and in the tenant's chain order.
    expect(ids).toEqual(privileged.map((event) => siemEventRecordId(event.tenantId, event.id)));
  });
});
