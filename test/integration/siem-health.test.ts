import type { z } from 'zod';
import { DataStore } from '../../db/tenant-store';
import type { healthSchema } from '../../api/routes/health';
import type { SiemForwarder } from '../../runtime/siem-forwarder';
import { ApiHarness } from '../helpers/api';
import { createTestCertificates } from '../helpers/test-ca';
import type { TestCertificates } from '../helpers/test-ca';
import { forwarderTo, startFakeLogsIngestion } from '../helpers/fake-logs-ingestion';
import type { FakeLogsIngestion } from '../helpers/fake-logs-ingestion';

type Health = z.infer<typeof healthSchema>;

async function healthOf(api: ApiHarness): Promise<Health> {
  return (await api.anonymous().get('/api/v1/health').expect(200)).body as Health;
}

describe('the SIEM backlog in /health and /metrics', () => {
  let primary: ApiHarness;
  let api: ApiHarness;
  let certificates: TestCertificates;
  let ingestion: FakeLogsIngestion;
  let forwarder: SiemForwarder;

  beforeAll(async () => {
    primary = await ApiHarness.start();
    certificates = createTestCertificates();
    ingestion = await startFakeLogsIngestion(certificates);
    // The API process of a deployment with a SIEM: privileged events are queued, the backlog is reported.
    api = primary.replica({
      overrides: {
        store: new DataStore(primary.db.handle.db, { siemOutbox: true }),
        siem: { degradedAfterMs: 60_000 },
      },
    });
    forwarder = forwarderTo(ingestion, primary.db.store.siemOutbox);
  });
  afterAll(async () => {
    await forwarder.stop();
    await ingestion.close();
    certificates.dispose();
    await primary.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  it('says nothing about a SIEM when none is configured', async () => {
    expect((await healthOf(primary)).checks).not.toHaveProperty('siem');
  });

  it('serves requests while the SIEM refuses connections, and reports the backlog as degraded, not down', async () => {
    ingestion.outage = { refuse: true };
    forwarder.start();
    expect((await api.anonymous().get('/api/v1/health').expect(200)).body).toMatchObject({
      status: 'ok',
      checks: {
        siem: { status: 'ok', backlog: 0, oldest_unsent_age_seconds: null, last_send_failed: false },
      },
    });
    // Sign-ins and refusals are privileged: each is queued for the SIEM, and each request still succeeds.
    const operator = await api.agent('ops@example.com', ['operator']);
    const submitter = await api.agent('packager@example.com', ['submitter']);
    for (let i = 0; i < 5; i += 1) {
      await submitter.get('/api/v1/connector-credentials').expect(403);
      await operator.get('/api/v1/deployment-intents').expect(200);
    }
    const backlog = await primary.db.store.siemOutbox.backlog();
    expect(backlog.records).toBeGreaterThanOrEqual(7);
    // The forwarder keeps trying and failing; health shows it without failing the API.
    let health = await healthOf(api);
    for (let i = 0; i < 100 && health.checks.siem?.last_send_failed !== true; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      health = await healthOf(api);
    }
    expect(health).toMatchObject({
      status: 'degraded',
      checks: { database: { status: 'ok' }, siem: { status: 'degraded', last_send_failed: true } },
    });
    expect(health.checks.siem?.backlog).toBeGreaterThanOrEqual(7);
    expect(health.checks.siem?.oldest_unsent_age_seconds).toBeGreaterThanOrEqual(0);

    const metrics = await operator.get('/api/v1/metrics').expect(200);
    expect(metrics.text).toMatch(/eucora_siem_backlog_records\{tenant="tenant-a"\} [1-9]\d*/u);
    expect(metrics.text).toMatch(/eucora_siem_oldest_unsent_age_seconds\{tenant="tenant-a"\} \d/u);
    expect(metrics.text).toMatch(/eucora_siem_last_send_failed\{tenant="tenant-a"\} 1/u);

    ingestion.outage = undefined;
    for (let i = 0; i < 200 && (await primary.db.store.siemOutbox.backlog()).records > 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await api.anonymous().get('/api/v1/health').expect(200)).body).toMatchObject({
      status: 'ok',
      checks: { siem: { status: 'ok', backlog: 0, last_send_failed: false } },
    });
    const ids = ingestion.received.map((record) => record.RecordId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ingestion.received.some((record) => record.EventType === 'AUTHZ_DENIED')).toBe(true);
    const after = await operator.get('/api/v1/metrics').expect(200);
    expect(after.text).toMatch(/eucora_siem_backlog_records\{tenant="tenant-a"\} 0/u);
  });

  it('is degraded when the oldest unsent record is older than the threshold, though no send failed', async () => {
    await forwarder.stop();
    const strict = primary.replica({
      overrides: {
        store: new DataStore(primary.db.handle.db, { siemOutbox: true }),
        siem: { degradedAfterMs: 1 },
      },
    });
    await strict.agent('auditor@example.com', ['auditor']);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const res = await strict.anonymous().get('/api/v1/health').expect(200);
    expect(res.body).toMatchObject({
      status: 'degraded',
      checks: { siem: { status: 'degraded', last_send_failed: false } },
    });
  });
});
