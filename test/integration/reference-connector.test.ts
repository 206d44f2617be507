import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  ControlPlaneError,
  parseConnectorArguments,
  runConnector,
} from '../../connector/reference-connector';
import type { ConnectorLogLine, ConnectorOptions } from '../../connector/reference-connector';
import type { DeploymentIntentRow } from '../../db/repositories/deployment-intents';
import type { RingDeploymentKind } from '../../db/schema';
import type { ConnectorType, Platform } from '../../policy/connectors';
import type { IntentStatus } from '../../policy/intent-status';
import { RINGS } from '../../policy/rings';
import type { Ring } from '../../policy/rings';
import type { RolloutPolicy } from '../../policy/rollout-policy';
import type { IntentOutcome } from '../../workflows/definitions';
import { ApiHarness } from '../helpers/api';
import { eventually, fastPolicy } from '../helpers/harness';

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const SCRIPT = path.join(ROOT, 'connector', 'reference-connector.ts');

interface ScriptRun {
  readonly code: number | null;
  readonly lines: ConnectorLogLine[];
  readonly stderr: string;
}

describe('reference connector against the real API over HTTP', () => {
  let api: ApiHarness;
  let server: http.Server;
  let baseUrl: string;
  /** What reached the server: path, correlation id and whether a bearer key came along. */
  const seen: { method: string; url: string; correlationId: string | undefined; bearer: boolean }[] = [];
  /** Reports the server turns away with 503 before the API sees them, as an overloaded proxy would. */
  let failReports = 0;

  beforeAll(async () => {
    api = await ApiHarness.start();
    server = http.createServer((req, res) => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        correlationId: req.headers['x-correlation-id'] as string | undefined,
        bearer: req.headers.authorization?.startsWith('Bearer eucora_ck_') === true,
      });
      if (failReports > 0 && req.method === 'POST') {
        failReports -= 1;
        res.writeHead(503, { 'Content-Type': 'application/problem+json' });
        res.end(JSON.stringify({ type: 'https://eucora.dev/problems/service-unavailable', status: 503 }));
        return;
      }
      api.app(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  async function submitIntent(
    connectors: Partial<Record<Platform, ConnectorType>>,
    policy: RolloutPolicy = fastPolicy(),
  ): Promise<DeploymentIntentRow> {
    const { intent, risk } = await api.submit({ connectors }, policy);
    expect(risk?.requiresCab).toBe(false);
    return intent;
  }

  async function awaitOpen(intent: DeploymentIntentRow, ring: Ring, kind: RingDeploymentKind = 'DEPLOY') {
    return eventually(async () => {
      const rows = await api.tenant().ringDeployments.forIntent(intent.id);
      return rows.find(
        (row) =>
          row.ring === ring &&
          row.kind === kind &&
          (row.status === 'PENDING' || row.status === 'IN_PROGRESS'),
      );
    }, `open ${kind} of ${ring}`);
  }

  async function awaitIntentStatus(intent: DeploymentIntentRow, status: IntentStatus) {
    return eventually(async () => {
      const row = await api.tenant().intents.get(intent.id);
      return row?.status === status ? row : undefined;
    }, `intent ${status}`);
  }

  async function options(
    connectorType: ConnectorType,
    overrides: Partial<ConnectorOptions> = {},
  ): Promise<ConnectorOptions & { lines: ConnectorLogLine[] }> {
    const { apiKey } = await api.connector(connectorType);
    const lines: ConnectorLogLine[] = [];
    return {
      baseUrl,
      apiKey,
      connectorType,
      successCount: 120,
      failureCount: 0,
      intervalMs: 50,
      interimReports: 1,
      log: (line) => lines.push(line),
      lines,
      ...overrides,
    };
  }

  /**
   * Runs the connector as a program: through the `tsx` binary, as `npm run connector` does, or with
   * `node --import tsx` when the test signals it (the tsx binary relays signals to its child with a
   * 30 ms handshake, which a loaded test machine can miss).
   */
  function runScript(args: string[], env: Record<string, string>, stopAfter?: string): Promise<ScriptRun> {
    return new Promise((resolve, reject) => {
      // Jest's NODE_OPTIONS (vm modules) are not the script's business.
      const childEnv = { ...process.env, ...env };
      delete childEnv.NODE_OPTIONS;
      const child =
        stopAfter === undefined
          ? spawn(TSX, [SCRIPT, ...args], { cwd: ROOT, env: childEnv })
          : spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], { cwd: ROOT, env: childEnv });
      let stdout = '';
      let stderr = '';
      let signalled = false;
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        // Once: a second SIGTERM would find no handler and kill the process outright.
        if (!signalled && stopAfter !== undefined && stdout.includes(`"event":"${stopAfter}"`)) {
          signalled = true;
          child.kill('SIGTERM');
        }
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.on('error', reject);
      child.on('close', (code) => {
        const lines = stdout
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as ConnectorLogLine);
        resolve({ code, lines, stderr });
      });
    });
  }

  it('carries a low-risk intent through all five rings to COMPLETED, heartbeating each ring first', async () => {
    const intent = await submitIntent({ windows: 'intune' });
    const stop = new AbortController();
    const connector = await options('intune', { once: false, signal: stop.signal });
    const running = runConnector(connector);

    const outcome = (await api.temporal.client.workflow
      .getHandle(intent.workflowId)
      .result()) as IntentOutcome;
    stop.abort();
    const summary = await running;

    expect(outcome).toEqual({
      status: 'COMPLETED',
      completedRings: [...RINGS],
      rolledBackRings: [],
      failure: null,
    });
    expect(summary).toEqual({ completed: 5, skipped: 0 });
    const reports = connector.lines.filter((line) => line.event === 'report_sent');
    expect(reports.map((line) => [line.ring, line.final, line.success_count, line.outcome])).toEqual(
      RINGS.flatMap((ring) => [
        [ring, false, 60, 'HEARTBEAT_RECORDED'],
        [ring, true, 120, 'COMPLETED'],
      ]),
    );
    expect(connector.lines.at(-1)).toEqual({ event: 'connector_stopped', completed: 5, skipped: 0 });

    const rows = await api.tenant().ringDeployments.forIntent(intent.id);
    expect(rows.map((row) => [row.ring, row.status, row.outcome, row.successCount])).toEqual(
      RINGS.map((ring) => [ring, 'REPORTED', 'SUCCEEDED', 120]),
    );
    // Every report carried the connector's key and a request id of its own (X-Correlation-ID).
    const posts = seen.filter((request) => request.url.endsWith('/update-deployment-status'));
    expect(posts).toHaveLength(10);
    expect(
      posts.every((request) => /^[0-9a-f-]{36}$/.test(request.correlationId ?? '') && request.bearer),
    ).toBe(true);
    expect(new Set(posts.map((request) => request.correlationId)).size).toBe(10);
    // Long polls (wait=20, the default): held while nothing was open, answered when the next ring was.
    const polls = seen.filter((request) => request.url.includes('/pending-work?connector_type=intune'));
    expect(polls.length).toBeGreaterThan(0);
    expect(polls.every((request) => request.url.endsWith('&wait=20'))).toBe(true);
    expect(polls.every((request) => /^[0-9a-f-]{36}$/.test(request.correlationId ?? ''))).toBe(true);
  });

  it('with once, carries out what is pending now and returns', async () => {
    const intent = await submitIntent({ linux: 'landscape' });
    await awaitOpen(intent, 'LAB');
    const connector = await options('landscape', { once: true, interimReports: 0 });

    expect(await runConnector(connector)).toEqual({ completed: 1, skipped: 0 });

    await awaitOpen(intent, 'CANARY');
    const rows = await api.tenant().ringDeployments.forIntent(intent.id);
    expect(rows.map((row) => [row.ring, row.status])).toEqual([
      ['LAB', 'REPORTED'],
      ['CANARY', 'PENDING'],
    ]);
    expect(connector.lines.map((line) => line.event)).toEqual([
      'connector_started',
      'work_found',
      'item_started',
      'report_sent',
      'item_completed',
      'connector_stopped',
    ]);
  });

  it('carries out work that appears while another item is still reporting, without waiting for it', async () => {
    const slow = await submitIntent({ linux: 'ansible' });
    await awaitOpen(slow, 'LAB');
    const stop = new AbortController();
    // Four interim reports a second apart: the slow item takes four seconds.
    const connector = await options('ansible', { interimReports: 4, intervalMs: 1_000, signal: stop.signal });
    const run = runConnector(connector);
    await eventually(
      () =>
        Promise.resolve(
          connector.lines.find((line) => line.event === 'report_sent' && line.intent_id === slow.id),
        ),
      'the slow item reporting',
    );
    const quick = await submitIntent({ linux: 'ansible' });
    await awaitOpen(quick, 'LAB');
    // The new item is started by a poll while the slow one is between its reports.
    await eventually(
      () =>
        Promise.resolve(
          connector.lines.find((line) => line.event === 'item_started' && line.intent_id === quick.id),
        ),
      'the new item started',
    );
    const slowDone = connector.lines.some(
      (line) => line.event === 'item_completed' && line.intent_id === slow.id,
    );
    expect(slowDone).toBe(false);
    stop.abort();
    await run;

    // Leave nothing open for the tests after this one: a quick connector finishes both rollouts.
    const finish = new AbortController();
    const finisher = runConnector(
      await options('ansible', { interimReports: 0, intervalMs: 20, signal: finish.signal }),
    );
    await awaitIntentStatus(slow, 'COMPLETED');
    await awaitIntentStatus(quick, 'COMPLETED');
    finish.abort();
    await finisher;
  });

  it('moves on after a 409 when a ring finished meanwhile, then carries out its rollback', async () => {
    const intent = await submitIntent(
      { windows: 'sccm' },
      fastPolicy({ rings: { LAB: { reportDeadlineMs: 2_500 } } }),
    );
    await awaitOpen(intent, 'LAB');
    const stop = new AbortController();
    // The pause between the interim and the final report outlasts LAB's report deadline.
    const connector = await options('sccm', { intervalMs: 4_000, signal: stop.signal });
    const running = runConnector(connector);

    await awaitIntentStatus(intent, 'ROLLED_BACK');
    stop.abort();
    expect(await running).toEqual({ completed: 1, skipped: 1 });
    expect(connector.lines).toContainEqual(
      expect.objectContaining({ event: 'item_skipped', ring: 'LAB', action: 'DEPLOY', status: 409 }),
    );
    expect(connector.lines).toContainEqual(
      expect.objectContaining({ event: 'item_completed', ring: 'LAB', action: 'ROLLBACK' }),
    );
  });

  it('sends a report that got a 503 again, under the same request id, after a pause', async () => {
    const intent = await submitIntent({ windows: 'intune' });
    await awaitOpen(intent, 'LAB');
    const postsBefore = seen.filter((request) => request.method === 'POST').length;
    const stop = new AbortController();
    const connector = await options('intune', {
      interimReports: 0,
      signal: stop.signal,
      log: (line) => {
        connector.lines.push(line);
        if (line.event === 'item_completed') stop.abort();
      },
    });
    failReports = 1;
    expect(await runConnector(connector)).toEqual({ completed: 1, skipped: 0 });
    expect(connector.lines.map((line) => line.event)).toEqual(
      expect.arrayContaining(['report_failed', 'item_completed']),
    );
    expect(connector.lines.find((line) => line.event === 'report_failed')).toMatchObject({
      ring: 'LAB',
      send: 1,
      error: expect.stringContaining('503') as string,
    });
    const [refused, accepted] = seen.filter((request) => request.method === 'POST').slice(postsBefore);
    expect(accepted?.correlationId).toBe(refused?.correlationId);
    await awaitOpen(intent, 'CANARY');
  });

  it('stops at once, before reporting further, when its signal aborts during a pause', async () => {
    const intent = await submitIntent({ macos: 'jamf' });
    await awaitOpen(intent, 'LAB');
    const stop = new AbortController();
    const connector = await options('jamf', {
      intervalMs: 60_000,
      signal: stop.signal,
      log: (line) => {
        connector.lines.push(line);
        if (line.event === 'report_sent') stop.abort();
      },
    });
    const summary = await runConnector(connector);
    expect(summary).toEqual({ completed: 0, skipped: 0 });
    const lab = await awaitOpen(intent, 'LAB');
    expect(lab).toMatchObject({ status: 'IN_PROGRESS', successCount: 60 });
  });

  it('fails fast on a key the control plane refuses, and on a connector type that is not its own', async () => {
    const unknownKey = runConnector({
      baseUrl,
      apiKey: 'eucora_ck_this-key-was-never-issued',
      connectorType: 'intune',
      successCount: 1,
      failureCount: 0,
      intervalMs: 10,
      interimReports: 0,
    });
    await expect(unknownKey).rejects.toMatchObject({ status: 401, fatal: true });
    await expect(unknownKey).rejects.toBeInstanceOf(ControlPlaneError);

    const { apiKey } = await api.connector('ansible');
    await expect(
      runConnector({
        baseUrl,
        apiKey,
        connectorType: 'intune',
        successCount: 1,
        failureCount: 0,
        intervalMs: 10,
        interimReports: 0,
      }),
    ).rejects.toMatchObject({ status: 403 });
  });

  it('keeps polling, backing off, while the control plane cannot be reached', async () => {
    const stop = new AbortController();
    const lines: ConnectorLogLine[] = [];
    const running = runConnector({
      baseUrl: 'http://127.0.0.1:1',
      apiKey: 'eucora_ck_unused',
      connectorType: 'intune',
      successCount: 1,
      failureCount: 0,
      intervalMs: 20,
      interimReports: 0,
      signal: stop.signal,
      log: (line) => {
        lines.push(line);
        if (lines.filter((l) => l.event === 'poll_failed').length === 3) stop.abort();
      },
    });
    expect(await running).toEqual({ completed: 0, skipped: 0 });
    expect(lines.filter((l) => l.event === 'poll_failed').map((l) => l.retry_in_ms)).toEqual([20, 40, 80]);
  });

  describe('as a script (npm run connector)', () => {
    it('with --once, reports what is pending as JSON lines on stdout and exits 0', async () => {
      const intent = await submitIntent({ windows: 'ansible' });
      await awaitOpen(intent, 'LAB');
      const { apiKey } = await api.connector('ansible');
      const run = await runScript(
        ['--type', 'ansible', '--base-url', baseUrl, '--success', '7', '--interval', '10ms', '--once'],
        { EUCORA_CONNECTOR_KEY: apiKey },
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.lines.every((line) => typeof line.time === 'string' && typeof line.level === 'string')).toBe(
        true,
      );
      expect(run.lines.filter((line) => line.event === 'report_sent')).toEqual([
        expect.objectContaining({ ring: 'LAB', final: false, success_count: 3 }),
        expect.objectContaining({ ring: 'LAB', final: true, success_count: 7, outcome: 'COMPLETED' }),
      ]);
      await awaitOpen(intent, 'CANARY');
    });

    it('runs until SIGTERM and then stops cleanly', async () => {
      const { apiKey } = await api.connector('intune');
      const run = await runScript(
        ['--type', 'intune', '--base-url', baseUrl, '--api-key', apiKey, '--interval', '50ms'],
        {},
        'connector_started',
      );
      expect(run.code).toBe(0);
      expect(run.lines.map((line) => line.event)).toEqual(
        expect.arrayContaining(['connector_started', 'shutdown_requested', 'connector_stopped']),
      );
      expect(run.lines.at(-1)).toMatchObject({ event: 'connector_stopped' });
    });

    it('refuses a bad command line with exit code 2 and the usage on stderr', async () => {
      const run = await runScript(['--type', 'teams', '--interval', 'soon'], { EUCORA_CONNECTOR_KEY: '' });
      expect(run.code).toBe(2);
      expect(run.lines).toEqual([]);
      expect(run.stderr).toContain('--type');
      expect(run.stderr).toContain('--interval: "soon" is not a duration');
      expect(run.stderr).toContain('usage: npm run connector');
    });

    it('exits 1 with a connector_failed line when the key is refused', async () => {
      const run = await runScript(
        ['--type', 'intune', '--base-url', baseUrl, '--api-key', 'eucora_ck_revoked-or-never-issued'],
        {},
      );
      expect(run.code).toBe(1);
      expect(run.lines.at(-1)).toMatchObject({ event: 'connector_failed', level: 'error' });
    });
  });

  it('reads its options from the command line and EUCORA_CONNECTOR_KEY', () => {
    expect(
      parseConnectorArguments(['--type', 'jamf', '--interval', '1m30s', '--interim', '3'], {
        EUCORA_CONNECTOR_KEY: 'eucora_ck_from-env',
      }),
    ).toEqual({
      baseUrl: 'http://127.0.0.1:8080',
      apiKey: 'eucora_ck_from-env',
      connectorType: 'jamf',
      successCount: 100,
      failureCount: 0,
      intervalMs: 90_000,
      interimReports: 3,
      waitSeconds: 20,
      once: false,
    });
    expect(
      parseConnectorArguments(['--type', 'jamf', '--wait', '0'], { EUCORA_CONNECTOR_KEY: 'eucora_ck_x' }),
    ).toMatchObject({ waitSeconds: 0 });
    expect(() =>
      parseConnectorArguments(['--type', 'jamf', '--wait', '31'], { EUCORA_CONNECTOR_KEY: 'eucora_ck_x' }),
    ).toThrow(/--wait/);
    expect(() => parseConnectorArguments(['--type', 'jamf'], {})).toThrow(
      '--api-key: required (or set EUCORA_CONNECTOR_KEY)',
    );
    expect(() =>
      parseConnectorArguments(['--type', 'jamf', '--colour'], { EUCORA_CONNECTOR_KEY: 'x' }),
    ).toThrow(/colour/);
  });
});
