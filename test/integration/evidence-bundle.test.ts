import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { strFromU8, unzipSync } from 'fflate';
import { runConnector } from '../../connector/reference-connector';
import { verifyBundle } from '../../policy/evidence-bundle';
import type { EvidenceBundle } from '../../policy/evidence-bundle';
import { verifyBundleFile } from '../../scripts/verify-bundle';
import { ApiHarness } from '../helpers/api';
import { serveOnLoopback } from '../helpers/loopback-server';
import type { LoopbackServer } from '../helpers/loopback-server';
import type { Agent } from '../helpers/api';
import { eventually } from '../helpers/harness';
import { highRiskEvidence, lowRiskEvidence } from '../fixtures/evidence';

/**
 * The evidence bundle of a completed, a rolled-back and a CAB-rejected intent, each checked by the
 * offline verifier (`npm run verify-bundle`), and a tampered one refused by it.
 */
let api: ApiHarness;
let server: LoopbackServer;
let baseUrl: string;
let submitter: Agent;
let cab: Agent;
let operator: Agent;
let auditor: Agent;
const connectors: { stop: AbortController; done: Promise<unknown> }[] = [];
const output = mkdtempSync(path.join(os.tmpdir(), 'eucora-bundles-'));

beforeAll(async () => {
  api = await ApiHarness.start();
  server = await serveOnLoopback(api.app);
  baseUrl = server.baseUrl;
  submitter = await api.agent('packager@example.com', ['submitter']);
  cab = await api.agent('cab.chair@example.com', ['cab_member']);
  operator = await api.agent('ops@example.com', ['operator']);
  auditor = await api.agent('auditor@example.com', ['auditor']);
  await startConnector('intune');
}, 120_000);

afterAll(async () => {
  for (const connector of connectors) connector.stop.abort();
  await Promise.allSettled(connectors.map((connector) => connector.done));
  await server.close();
  await api.close();
});

afterEach(() => {
  expect(api.contractViolations()).toEqual([]);
});

async function startConnector(connectorType: 'intune' | 'jamf'): Promise<void> {
  const { apiKey } = await api.connector(connectorType);
  const stop = new AbortController();
  const done = runConnector({
    baseUrl,
    apiKey,
    connectorType,
    successCount: 500,
    failureCount: 0,
    intervalMs: 50,
    interimReports: 0,
    signal: stop.signal,
  });
  connectors.push({ stop, done });
}

async function submit(body: Record<string, unknown>): Promise<{ id: string; status: string }> {
  const res = await submitter
    .post('/api/v1/deployment-intents')
    .send({ app_name: '7-Zip', target_device_count: 1_000, ...body })
    .expect(201);
  return res.body as { id: string; status: string };
}

async function statusOf(id: string, wanted: string): Promise<void> {
  await eventually(
    async () => {
      const res = await auditor.get(`/api/v1/deployment-intents/${id}`).expect(200);
      return (res.body as { status: string }).status === wanted ? true : undefined;
    },
    `intent ${id} to reach ${wanted}`,
    90_000,
  );
}

async function bundleOf(id: string, reader: Agent = auditor): Promise<EvidenceBundle> {
  const res = await reader.get(`/api/v1/deployment-intents/${id}/evidence-bundle`).expect(200);
  return res.body as EvidenceBundle;
}

/** Writes the bundle to a file and runs the CLI on it as an auditor would. */
async function verifyWithCli(file: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', path.resolve(__dirname, '../../scripts/verify-bundle.ts'), file],
      { cwd: path.resolve(__dirname, '../..') },
    );
    return { code: 0, out: stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, out: failed.stdout };
  }
}

describe('the evidence bundle', () => {
  it('of a CAB-approved intent that completed: every hash holds, the approval names the evidence', async () => {
    const intent = await submit({
      version: 'bundle-approved',
      target_ring: 'CANARY',
      connectors: { windows: 'intune' },
      evidence_pack: highRiskEvidence(),
    });
    expect(intent.status).toBe('AWAITING_CAB');
    await cab
      .post(`/api/v1/cab/${intent.id}/decision`)
      .send({ decision: 'APPROVED', comments: 'exception EXC-2026-114 reviewed' })
      .expect(200);
    await statusOf(intent.id, 'COMPLETED');

    const bundle = await bundleOf(intent.id);
    expect(verifyBundle(bundle)).toMatchObject({ ok: true });
    expect(bundle.intent).toMatchObject({ id: intent.id, status: 'COMPLETED' });
    expect(bundle.risk_assessment).toMatchObject({ evidence_hash: bundle.evidence_pack.content_hash });
    expect(bundle.risk_model?.version).toBe(bundle.risk_assessment?.model_version);
    const factors = (bundle.risk_assessment as unknown as { factors: { rationale: string }[] }).factors;
    expect(factors.length).toBeGreaterThan(0);
    for (const factor of factors) expect(factor.rationale.length).toBeGreaterThan(0);
    expect(bundle.cab.request).toMatchObject({
      state: 'APPROVED',
      approver_id: expect.any(String) as string,
    });
    // The decision names the evidence it approved and the model whose score the member saw.
    expect(bundle.cab.decisions.map((decision) => [decision.event_type, decision.evidence_hash])).toEqual([
      ['CAB_DECIDED', bundle.evidence_pack.content_hash],
    ]);
    expect(bundle.cab.decisions[0]?.risk_model_version).toBe(bundle.risk_assessment?.model_version);
    expect(bundle.rings.map((ring) => [ring.ring, ring.action, ring.outcome])).toEqual([
      ['LAB', 'DEPLOY', 'SUCCEEDED'],
      ['CANARY', 'DEPLOY', 'SUCCEEDED'],
    ]);
    for (const ring of bundle.rings) {
      expect(ring.gate_verdict).toMatchObject({ passed: true });
      expect((ring.reports as { final: boolean }[]).some((report) => report.final)).toBe(true);
    }
    const types = bundle.events.map((event) => event.event_type);
    expect(types[0]).toBe('INTENT_CREATED');
    expect(types.at(-1)).toBe('COMPLETED');
    expect(bundle.workflow_history).toMatchObject({ available: true });
    expect(bundle.chain_head?.seq).toBeGreaterThanOrEqual(bundle.events.at(-1)?.seq ?? 0);

    const file = path.join(output, 'approved.json');
    writeFileSync(file, JSON.stringify(bundle));
    const cli = await verifyWithCli(file);
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.out)).toMatchObject({ ok: true, failed: [] });

    // The zip: the bundle and the raw history, checked against each other.
    const zip = await auditor
      .get(`/api/v1/deployment-intents/${intent.id}/evidence-bundle?format=zip`)
      .buffer(true)
      .parse((res, callback) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          callback(null, Buffer.concat(chunks));
        });
      })
      .expect(200)
      .expect('Content-Type', 'application/zip');
    const files = unzipSync(new Uint8Array(zip.body as Buffer));
    expect(Object.keys(files).sort()).toEqual(['bundle.json', 'workflow-history.json']);
    const zipped = JSON.parse(strFromU8(files['bundle.json']!)) as EvidenceBundle;
    expect(zipped.intent.id).toBe(intent.id);
    const zipFile = path.join(output, 'approved.zip');
    writeFileSync(zipFile, zip.body as Buffer);
    expect(verifyBundleFile(zipFile)).toMatchObject({ ok: true });
  });

  it('of a CAB-rejected intent verifies, and a CAB member may read it', async () => {
    const intent = await submit({
      version: 'bundle-rejected',
      target_ring: 'GLOBAL',
      connectors: { windows: 'intune' },
      evidence_pack: highRiskEvidence(),
    });
    await cab
      .post(`/api/v1/cab/${intent.id}/decision`)
      .send({ decision: 'REJECTED', comments: 'critical CVE without a compensating control' })
      .expect(200);
    await statusOf(intent.id, 'REJECTED');
    const bundle = await bundleOf(intent.id, cab);
    expect(verifyBundle(bundle)).toMatchObject({ ok: true });
    expect(bundle.cab.request).toMatchObject({ state: 'REJECTED' });
    expect(bundle.rings).toEqual([]);
    expect(bundle.events.map((event) => event.event_type)).toEqual(
      expect.arrayContaining(['CAB_REQUESTED', 'CAB_DECIDED']),
    );
  });

  it('of an aborted, rolled-back intent verifies, with the rollback and its report', async () => {
    // Nobody carries out jamf work yet: the intent waits in LAB until the operator aborts it.
    const intent = await submit({
      version: 'bundle-aborted',
      target_ring: 'GLOBAL',
      connectors: { macos: 'jamf' },
      evidence_pack: lowRiskEvidence(),
    });
    await statusOf(intent.id, 'DEPLOYING');
    await operator
      .post(`/api/v1/deployment-intents/${intent.id}/abort`)
      .send({ reason: 'wrong package uploaded' })
      .expect(202);
    await startConnector('jamf');
    await eventually(
      async () => {
        const res = await auditor.get(`/api/v1/deployment-intents/${intent.id}`).expect(200);
        const status = (res.body as { status: string }).status;
        return status === 'ROLLED_BACK' || status === 'ABORTED' ? status : undefined;
      },
      'the aborted intent to finish rolling back',
      90_000,
    );
    const bundle = await bundleOf(intent.id);
    expect(verifyBundle(bundle)).toMatchObject({ ok: true });
    const rollback = bundle.rings.find((ring) => ring.action === 'ROLLBACK');
    expect(rollback).toMatchObject({ ring: 'LAB', status: 'REPORTED' });
    expect((rollback?.reports as unknown[]).length).toBeGreaterThan(0);
    expect(bundle.cab.request).toBeNull();

    // A CAB member reads bundles of intents that came before the CAB only.
    const refused = await cab.get(`/api/v1/deployment-intents/${intent.id}/evidence-bundle`).expect(403);
    expect(refused.body).toMatchObject({ type: expect.stringContaining('not-a-cab-intent') as string });
  });

  it('names every hash an edit breaks, in the file and through the CLI', async () => {
    const intent = await submit({
      version: 'bundle-tampered',
      target_ring: 'LAB',
      connectors: { windows: 'intune' },
      evidence_pack: lowRiskEvidence(),
    });
    await statusOf(intent.id, 'COMPLETED');
    const bundle = await bundleOf(intent.id);
    expect(verifyBundle(bundle).ok).toBe(true);

    // A softened scan result in the evidence: the pack no longer hashes to what was assessed.
    const edited = JSON.parse(JSON.stringify(bundle)) as EvidenceBundle & {
      evidence_pack: { content: { scan_decision: { decision: string } } };
    };
    edited.evidence_pack.content.scan_decision.decision = 'EXCEPTION';
    const failed = verifyBundle(edited)
      .checks.filter((check) => !check.ok)
      .map((check) => check.check);
    expect(failed).toEqual(expect.arrayContaining(['bundle_sha256', 'evidence_pack.content_hash']));

    // A rewritten actor in the trail: that event's hash breaks.
    const rewritten = JSON.parse(JSON.stringify(bundle)) as { events: { actor: string; seq: number }[] };
    rewritten.events[0]!.actor = 'someone-else';
    const file = path.join(output, 'tampered.json');
    writeFileSync(file, JSON.stringify(rewritten));
    const cli = await verifyWithCli(file);
    expect(cli.code).toBe(1);
    const report = JSON.parse(cli.out) as { ok: boolean; failed: { check: string }[] };
    expect(report.ok).toBe(false);
    expect(report.failed.map((check) => check.check)).toEqual(
      expect.arrayContaining([`events[seq ${String(rewritten.events[0]!.seq)}].hash`]),
    );
  });

  it('says the workflow history is gone when Temporal no longer holds the workflow, and still verifies', async () => {
    // An intent whose workflow the Temporal service does not hold: what the namespace retention leaves of
    // a workflow closed long ago (deleting one in the dev server takes 15 s or more to show).
    const intent = await api.seedIntent({ status: 'COMPLETED' });
    const bundle = await bundleOf(intent.id);
    expect(bundle.workflow_history).toMatchObject({
      available: false,
      workflow_id: intent.workflowId,
      reason: expect.stringContaining('retention') as string,
    });
    expect(verifyBundle(bundle)).toMatchObject({ ok: true });
    expect(bundle.risk_assessment).toBeNull();
    expect(bundle.risk_model).toBeNull();
  });

  it('is not found for an unknown intent', async () => {
    await auditor
      .get('/api/v1/deployment-intents/00000000-0000-4000-8000-000000000000/evidence-bundle')
      .expect(404);
  });
});
