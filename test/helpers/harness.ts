import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Worker } from '@temporalio/worker';
import { asTenantId } from '../../db/tenant-id';
import { DataStore } from '../../db/tenant-store';
import type { TenantStore } from '../../db/tenant-store';
import type { RingDeploymentRow } from '../../db/repositories/ring-deployments';
import type { RingDeploymentKind } from '../../db/schema';
import { ConnectorReportService } from '../../api/services/connector-reports';
import { IntentService } from '../../api/services/intents';
import type { IntentSubmission } from '../../api/services/intents';
import type { Actor } from '../../api/request-context';
import type { ConnectorType } from '../../policy/connectors';
import type { Ring } from '../../policy/rings';
import { defaultRolloutPolicy, mergeRolloutPolicy } from '../../policy/rollout-policy';
import type { RolloutPolicy, RolloutPolicyOverrides } from '../../policy/rollout-policy';
import { createLogger } from '../../runtime/logger';
import { createDeploymentWorker } from '../../runtime/deployment-worker';
import type { CabDecision } from '../../policy/cab-decision';
import type { CabVerdict, IntentOutcome, IntentState } from '../../workflows/definitions';
import { cabDecisionUpdate, intentStateQuery } from '../../workflows/definitions';
import { createTestDatabase, defaultDatabaseKind } from './database';
import type { DatabaseKind, TestDatabase } from './database';
import { lowRiskEvidence } from '../fixtures/evidence';

export const HISTORIES_DIR = path.resolve(__dirname, '../fixtures/histories');

export const TENANT_A = asTenantId('tenant-a');
export const TENANT_B = asTenantId('tenant-b');

export function user(id: string, roles: Actor['roles'] = ['submitter'], tenantId = TENANT_A): Actor {
  return { tenantId, id, displayName: id, roles, kind: 'user' };
}

export const SUBMITTER = user('packager@example.com', ['submitter']);
export const CAB_MEMBER = user('cab.chair@example.com', ['cab_member']);

/** Rollouts that finish in seconds: no soak, one device enough, generous report deadlines. */
export function fastPolicy(overrides: RolloutPolicyOverrides = {}): RolloutPolicy {
  const rings = Object.fromEntries(
    (['LAB', 'CANARY', 'PILOT', 'DEPARTMENT', 'GLOBAL'] as const).map((ring) => [
      ring,
      { soakMs: 0, minDevices: 1, reportDeadlineMs: 60_000, ...overrides.rings?.[ring] },
    ]),
  );
  return mergeRolloutPolicy(defaultRolloutPolicy(), {
    cabTimeoutMs: 60_000,
    heartbeatTimeoutMs: null,
    ...overrides,
    rings,
    rollback: { reportDeadlineMs: 60_000, ...overrides.rollback },
  });
}

export function submission(overrides: Partial<IntentSubmission> = {}): IntentSubmission {
  return {
    appName: '7-Zip',
    version: '24.08',
    targetRing: 'GLOBAL',
    connectors: { windows: 'intune' },
    evidencePack: lowRiskEvidence(),
    ...overrides,
  };
}

export interface TemporalWorkerHandle {
  readonly client: Client;
  readonly taskQueue: string;
  start(): Promise<void>;
  /** Stops the worker (as a crash would, mid-rollout) without touching the server or the database. */
  stopWorker(): Promise<void>;
  close(): Promise<void>;
}

export async function startTemporalWorker(db: TestDatabase, taskQueue = `eucora-test-${randomUUID()}`) {
  const address = process.env.EUCORA_TEST_TEMPORAL_ADDRESS;
  const bundle = process.env.EUCORA_TEST_WORKFLOW_BUNDLE;
  if (address === undefined || bundle === undefined) throw new Error('jest globalSetup did not run');
  const logger = createLogger({ level: 'silent' });
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection });
  let native: NativeConnection | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;

  const handle: TemporalWorkerHandle = {
    client,
    taskQueue,
    async start() {
      native = await NativeConnection.connect({ address });
      worker = await createDeploymentWorker({
        connection: native,
        namespace: 'default',
        taskQueue,
        dependencies: { store: db.store, logger },
        // Intents recorded without their input (before migration 0003) would start with this policy.
        reconciler: { client, rolloutPolicy: defaultRolloutPolicy() },
        workflowBundlePath: bundle,
        workerOptions: { shutdownGraceTime: '1 second' },
      });
      running = worker.run();
    },
    async stopWorker() {
      worker?.shutdown();
      await running;
      await native?.close();
      worker = undefined;
      native = undefined;
    },
    async close() {
      await handle.stopWorker();
      await clientConnection.close();
    },
  };
  await handle.start();
  return handle;
}

/** Waits for a condition that an asynchronous system reaches; tests only, never in shipped code. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A workflow test bed: a fresh database, a real worker on the shared dev server, the services. */
export class Harness {
  readonly tenant: TenantStore;
  readonly intents: IntentService;
  readonly reports: ConnectorReportService;

  private constructor(
    readonly db: TestDatabase,
    readonly temporal: TemporalWorkerHandle,
    readonly policy: RolloutPolicy,
  ) {
    this.tenant = db.store.forTenant(TENANT_A);
    const logger = createLogger({ level: 'silent' });
    this.intents = new IntentService({
      client: temporal.client,
      taskQueue: temporal.taskQueue,
      rolloutPolicy: policy,
      logger,
    });
    this.reports = new ConnectorReportService(temporal.client);
  }

  static async start(
    policy: RolloutPolicy = fastPolicy(),
    kind: DatabaseKind = defaultDatabaseKind(),
    options: { readonly siemOutbox?: boolean } = {},
  ): Promise<Harness> {
    const created = await createTestDatabase(kind);
    // As a worker with SIEM_* configured: privileged events are queued in the outbox as they are appended.
    const db =
      options.siemOutbox === true
        ? { ...created, store: new DataStore(created.handle.db, { siemOutbox: true }) }
        : created;
    const temporal = await startTemporalWorker(db);
    return new Harness(db, temporal, policy);
  }

  withPolicy(policy: RolloutPolicy): IntentService {
    return new IntentService({
      client: this.temporal.client,
      taskQueue: this.temporal.taskQueue,
      rolloutPolicy: policy,
      logger: createLogger({ level: 'silent' }),
    });
  }

  async close(): Promise<void> {
    await this.temporal.close();
    await this.db.drop();
  }

  async submit(overrides: Partial<IntentSubmission> = {}, service: IntentService = this.intents) {
    return service.submit(this.tenant, SUBMITTER, randomUUID(), submission(overrides), undefined);
  }

  handle(workflowId: string) {
    return this.temporal.client.workflow.getHandle(workflowId);
  }

  async state(workflowId: string): Promise<IntentState> {
    return this.handle(workflowId).query(intentStateQuery);
  }

  async result(workflowId: string): Promise<IntentOutcome> {
    return this.handle(workflowId).result() as Promise<IntentOutcome>;
  }

  /** Waits until the workflow reports the given status. */
  async reachStatus(workflowId: string, status: IntentState['status']): Promise<IntentState> {
    return eventually(async () => {
      const state = await this.state(workflowId);
      return state.status === status ? state : undefined;
    }, `status ${status}`);
  }

  /** Waits for the open deployment (or rollback) of a ring for a connector. */
  async pending(
    intentId: string,
    ring: Ring,
    kind: RingDeploymentKind = 'DEPLOY',
    connectorType: ConnectorType = 'intune',
  ): Promise<RingDeploymentRow> {
    return eventually(async () => {
      const rows = await this.tenant.ringDeployments.forIntent(intentId);
      return rows.find(
        (row) =>
          row.ring === ring &&
          row.kind === kind &&
          row.connectorType === connectorType &&
          (row.status === 'PENDING' || row.status === 'IN_PROGRESS'),
      );
    }, `pending ${kind} of ${ring}`);
  }

  /** Plays the connector: waits for the ring's pending work and reports its final counts. */
  async complete(
    intent: { id: string; correlationId: string },
    ring: Ring,
    counts: { success: number; failure: number },
    kind: RingDeploymentKind = 'DEPLOY',
    connectorType: ConnectorType = 'intune',
  ) {
    await this.pending(intent.id, ring, kind, connectorType);
    return this.reports.report(
      this.tenant,
      {
        correlationId: intent.correlationId,
        ring,
        connectorType,
        kind,
        connectorObjectId: `${connectorType}-${ring}`,
        successCount: counts.success,
        failureCount: counts.failure,
        final: true,
      },
      `connector:${connectorType}`,
    );
  }

  /** Delivers a CAB decision through the workflow update, as the API does. */
  async decide(workflowId: string, decision: Partial<CabDecision> = {}): Promise<CabVerdict> {
    return this.handle(workflowId).executeUpdate(cabDecisionUpdate, {
      args: [{ decision: 'APPROVED', approverId: CAB_MEMBER.id, ...decision }],
    });
  }

  /**
   * With EUCORA_RECORD_HISTORIES=1, saves the workflow's history for the replay test
   * (test/integration/workflow-replay.test.ts), which fails CI when a change breaks determinism.
   */
  recordHistory(name: string, workflowId: string): void {
    if (process.env.EUCORA_RECORD_HISTORIES !== '1' || this.db.kind !== 'pglite') return;
    // The CLI writes the proto3 JSON that historyFromJSON reads back.
    const cli = process.env.EUCORA_TEST_TEMPORAL_CLI ?? 'temporal';
    const address = process.env.EUCORA_TEST_TEMPORAL_ADDRESS ?? '';
    const shown = spawnSync(cli, ['workflow', 'show', '-w', workflowId, '--address', address, '-o', 'json'], {
      encoding: 'utf8',
    });
    if (shown.status !== 0) throw new Error(`temporal workflow show failed: ${shown.stderr}`);
    const file = path.join(HISTORIES_DIR, `${name}.json`);
    writeFileSync(file, shown.stdout);
    // Formatted as the lint step expects, so a re-recording is ready to commit.
    spawnSync(process.execPath, [require.resolve('prettier/bin/prettier.cjs'), '--write', file]);
  }

  async eventTypes(intentId: string): Promise<string[]> {
    const page = await this.tenant.events.list({ intentId }, { limit: 500 });
    return page.items.map((event) => event.eventType);
  }
}
