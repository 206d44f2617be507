import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../runtime/config';
import { createLogger } from '../../runtime/logger';
import { startSystem } from '../../runtime/system';
import type { RunningSystem } from '../../runtime/system';
import { createTestDatabase } from '../helpers/database';
import type { TestDatabase } from '../helpers/database';
import { freePort } from '../helpers/free-port';
import { createTestCertificates } from '../helpers/test-ca';
import type { TestCertificates } from '../helpers/test-ca';
import {
  FAKE_RULE_ID,
  FAKE_STREAM,
  forwarderTo,
  startFakeLogsIngestion,
} from '../helpers/fake-logs-ingestion';
import type { FakeLogsIngestion } from '../helpers/fake-logs-ingestion';

const describeOnPostgres = process.env.DATABASE_URL === undefined ? describe.skip : describe;

describeOnPostgres('a running EUCORA API with a SIEM configured', () => {
  let db: TestDatabase;
  let certificates: TestCertificates;
  let ingestion: FakeLogsIngestion;
  let system: RunningSystem;
  let publicUrl: string;
  let dataDir: string;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    certificates = createTestCertificates();
    ingestion = await startFakeLogsIngestion(certificates);
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${String(port)}`;
    dataDir = mkdtempSync(path.join(tmpdir(), 'eucora-system-siem-'));
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_URL: publicUrl,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      DATABASE_URL: db.url ?? '',
      TEMPORAL_ADDRESS: process.env.EUCORA_TEST_TEMPORAL_ADDRESS ?? '',
      TEMPORAL_TASK_QUEUE: `eucora-system-siem-${randomUUID()}`,
      ...(process.env.REDIS_URL === undefined ? {} : { REDIS_URL: process.env.REDIS_URL }),
      DEV_LOGIN: 'true',
      SIEM_INGESTION_ENDPOINT: ingestion.endpoint,
      SIEM_RULE_ID: FAKE_RULE_ID,
      SIEM_STREAM: FAKE_STREAM,
      SIEM_DEGRADED_AFTER: '1s',
    });
    // The API process (a worker process cannot start here: jest's setup already installed the Temporal runtime).
    system = await startSystem(config, createLogger({ level: 'silent' }), 'api');
  });
  afterAll(async () => {
    await (system as RunningSystem | undefined)?.stop();
    await (ingestion as FakeLogsIngestion | undefined)?.close();
    certificates.dispose();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function signIn(username: string, roles: string[]): Promise<string> {
    const res = await fetch(`${publicUrl}/api/v1/auth/dev-login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: publicUrl },
      body: JSON.stringify({ username, roles }),
    });
    expect(res.status).toBe(200);
    return (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  }

  async function health(): Promise<{
    status: number;
    body: { status: string; checks: { siem?: { status: string; backlog: number } } };
  }> {
    const res = await fetch(`${publicUrl}/api/v1/health`);
    return { status: res.status, body: (await res.json()) as never };
  }

  it('queues privileged events, answers while the SIEM is behind, and is degraded (200) past SIEM_DEGRADED_AFTER', async () => {
    const submitter = await signIn('packager@example.com', ['submitter']);
    const operator = await signIn('ops@example.com', ['operator']);
    for (let i = 0; i < 3; i += 1) {
      const denied = await fetch(`${publicUrl}/api/v1/connector-credentials`, {
        headers: { cookie: submitter },
      });
      expect(denied.status).toBe(403);
      const listed = await fetch(`${publicUrl}/api/v1/deployment-intents`, { headers: { cookie: operator } });
      expect(listed.status).toBe(200);
    }
    const fresh = await health();
    expect(fresh.status).toBe(200);
    let seen = fresh;
    for (let i = 0; i < 100 && seen.body.status !== 'degraded'; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      seen = await health();
    }
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ status: 'degraded', checks: { siem: { status: 'degraded' } } });
    const queued = (await db.store.siemOutbox.backlog()).records;
    expect(queued).toBeGreaterThanOrEqual(5);
    expect(ingestion.received).toEqual([]);

    const forwarder = forwarderTo(ingestion, db.store.siemOutbox);
    while ((await forwarder.forwardOnce()) > 0);
    const ids = ingestion.received.map((record) => record.RecordId);
    expect(ids.length).toBeGreaterThanOrEqual(queued);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ingestion.received.filter((record) => record.EventType === 'AUTHZ_DENIED')).toHaveLength(3);
    expect(ingestion.received.filter((record) => record.EventType === 'DEV_LOGIN')).toHaveLength(2);
    expect((await health()).body).toMatchObject({
      status: 'ok',
      checks: { siem: { status: 'ok', backlog: 0 } },
    });
  });
});
