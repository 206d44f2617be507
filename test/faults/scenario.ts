import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import pg from 'pg';
import type { RolloutPolicyOverrides } from '../../policy/rollout-policy';
import { TERMINAL_STATUSES } from '../../policy/intent-status';
import { freePort } from '../helpers/free-port';
import { CabActor, ConnectorActor } from './actors';
import type { ConnectorBehaviour } from './actors';
import { checkScenario } from './checks';
import { ControlPlaneProcess, delay } from './infrastructure';
import type { PostgresCluster, RedisServer, TemporalServer } from './infrastructure';
import { ApiClient, Ledger, retrying, submit } from './traffic';
import type { IntentPlan, SubmittedIntent } from './traffic';

/** The private dependencies every scenario runs on; scenarios break and mend them. */
export interface Stack {
  readonly root: string;
  readonly postgres: PostgresCluster;
  readonly redis: RedisServer;
  readonly temporal: TemporalServer;
  readonly temporalClient: () => Promise<Client>;
  readonly workflowBundle: string;
  /** The API and worker entry points, bundled to JavaScript. */
  readonly entries: { readonly api: string; readonly worker: string };
}

export interface ScenarioOptions {
  /** Rollout policy overrides on top of the suite's fast policy (the API is restarted with them). */
  readonly policy?: RolloutPolicyOverrides;
  readonly connector?: Partial<ConnectorBehaviour>;
}

export interface ScenarioResult {
  readonly name: string;
  readonly lost: string[];
  readonly duplicated: string[];
  readonly slowOr5xx: string[];
  readonly refused: string[];
  readonly exits: string[];
  readonly intents: number;
  readonly outageAnswers: Record<string, number>;
  readonly seconds: number;
}

/** Every ring: no soak, one device is enough to judge, deadlines far beyond the run. */
function fastPolicy(overrides: RolloutPolicyOverrides = {}): RolloutPolicyOverrides {
  const ring = { soakMs: 0, minDevices: 1, reportDeadlineMs: 10 * 60_000 };
  return {
    cabTimeoutMs: 10 * 60_000,
    heartbeatTimeoutMs: null,
    rollback: { reportDeadlineMs: 10 * 60_000 },
    ...overrides,
    rings: {
      LAB: { ...ring, ...overrides.rings?.LAB },
      CANARY: { ...ring, ...overrides.rings?.CANARY },
      PILOT: { ...ring, ...overrides.rings?.PILOT },
    },
  };
}

const DEFAULT_CONNECTOR: ConnectorBehaviour = { interimReports: 1, intervalMs: 300, concurrentFinals: 1 };

let planCounter = 0;

/** `count` plans of one kind, each with its own Idempotency-Key. */
export function plans(count: number, shape: Omit<IntentPlan, 'key'>): IntentPlan[] {
  return Array.from({ length: count }, () => {
    planCounter += 1;
    return { ...shape, key: `fault-${String(planCounter)}-${randomUUID().slice(0, 8)}` };
  });
}

/**
 * What every scenario shares: one database on the private cluster, the API and the worker as separate
 * processes, and the clients (a submitter, a CAB member, a connector) over HTTP. Scenarios run one
 * after another; each gets its own ledger and checks only the intents it submitted.
 */
export class World {
  ledger = new Ledger();
  readonly api: ControlPlaneProcess;
  readonly worker: ControlPlaneProcess;
  readonly submitter: ApiClient;
  readonly connector: ConnectorActor;
  readonly cab: CabActor;
  private readonly connectorClient: ApiClient;
  private readonly cabClient: ApiClient;
  private readonly baseEnv: Record<string, string>;

  private constructor(
    readonly stack: Stack,
    private readonly database: string,
    private readonly port: number,
    env: Record<string, string>,
  ) {
    this.baseEnv = env;
    const logDir = path.join(stack.root, 'logs');
    mkdirSync(logDir, { recursive: true });
    this.api = new ControlPlaneProcess(
      'api',
      stack.entries.api,
      env,
      path.join(logDir, 'api.log'),
      () => this.apiAnswers(),
      (restarted) => {
        this.ledger.apiGoesDown();
        restarted.then(
          () => {
            this.ledger.apiComesBack();
          },
          () => undefined, // reported by the process itself
        );
      },
    );
    this.worker = new ControlPlaneProcess(
      'worker',
      stack.entries.worker,
      env,
      path.join(logDir, 'worker.log'),
      (output) => Promise.resolve(output.includes('"msg":"worker running"')),
    );
    const base = () => `http://127.0.0.1:${String(this.port)}`;
    const ledger = () => this.ledger;
    this.submitter = new ApiClient(base, ledger, 'submitter');
    this.connectorClient = new ApiClient(base, ledger, 'connector');
    this.cabClient = new ApiClient(base, ledger, 'cab');
    this.connector = new ConnectorActor(this.connectorClient, DEFAULT_CONNECTOR);
    this.cab = new CabActor(this.cabClient);
  }

  static async start(stack: Stack): Promise<World> {
    const database = 'faults';
    await stack.postgres.createDatabase(database);
    const port = await freePort();
    const env: Record<string, string> = {
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: String(port),
      DEV_LOGIN: 'true',
      SESSION_SECRET: 'fault-suite-session-secret-0123456789abcdef',
      DATABASE_URL: stack.postgres.url(database),
      REDIS_URL: stack.redis.url,
      TEMPORAL_ADDRESS: stack.temporal.address,
      TEMPORAL_TASK_QUEUE: `faults-${randomUUID().slice(0, 8)}`,
      TEMPORAL_WORKFLOW_BUNDLE: stack.workflowBundle,
      RATE_LIMIT_SIGN_IN: '100000/1m',
      RATE_LIMIT_WRITES: '100000/1m',
      RATE_LIMIT_REFUSALS: '100000/1m',
      RATE_LIMIT_ANONYMOUS_REFUSALS: '100000/1m',
      RATE_LIMIT_FAILED_KEYS: '100000/1m',
      IDEMPOTENCY_LEASE: '2s',
      RECONCILER_INTERVAL: '2s',
      RECONCILER_THRESHOLD: '10s',
      ROLLOUT_POLICY: JSON.stringify(fastPolicy()),
    };
    const world = new World(stack, database, port, env);
    // The worker first: it migrates the database, which the API then finds ready.
    await world.worker.start();
    await world.api.start();
    const admin = new ApiClient(
      () => `http://127.0.0.1:${String(port)}`,
      () => world.ledger,
      'admin',
    );
    await admin.signIn('admin@faults.example', ['admin']);
    const key = await retrying('connector credential', async () => {
      const answer = await admin.request('POST', '/connector-credentials', {
        connector_type: 'intune',
        name: 'intune-faults',
      });
      return answer.status === 201 ? (answer.body as { api_key: string }).api_key : undefined;
    });
    world.connectorClient.useApiKey(key);
    await world.submitter.signIn('packager@faults.example', ['submitter']);
    await world.cabClient.signIn('cab@faults.example', ['cab_member']);
    world.connector.start();
    world.cab.start();
    return world;
  }

  private async apiAnswers(): Promise<boolean> {
    try {
      const response = await fetch(`http://127.0.0.1:${String(this.port)}/api/v1/health`, {
        signal: AbortSignal.timeout(2_000),
      });
      return response.status === 200;
    } catch {
      return false;
    }
  }

  /** Restarts the API when a scenario needs another rollout policy than the one it runs with. */
  async usePolicy(policy: RolloutPolicyOverrides | undefined): Promise<void> {
    const wanted = JSON.stringify(fastPolicy(policy));
    if (this.api.env.ROLLOUT_POLICY === wanted) return;
    await this.api.stop();
    this.api.env = { ...this.baseEnv, ROLLOUT_POLICY: wanted };
    await this.api.start();
  }

  /** A query on the suite's database; undefined while the database does not answer. */
  async query<Row extends pg.QueryResultRow>(
    sql: string,
    values: unknown[] = [],
  ): Promise<Row[] | undefined> {
    const client = new pg.Client({
      connectionString: this.stack.postgres.url(this.database),
      connectionTimeoutMillis: 2_000,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return (await client.query<Row>(sql, values)).rows;
    } catch {
      return undefined;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async scenario(name: string, options: ScenarioOptions = {}): Promise<Scenario> {
    await this.usePolicy(options.policy);
    this.ledger = new Ledger();
    this.connector.reset({ ...DEFAULT_CONNECTOR, ...options.connector });
    this.cab.reset();
    return new Scenario(name, this);
  }

  async close(): Promise<void> {
    await this.connector.stop();
    await this.cab.stop();
    await this.api.stop();
    await this.worker.stop();
  }

  databaseUrl(): string {
    return this.stack.postgres.url(this.database);
  }
}

/** One scenario: what it submitted, and the checks on those intents once they ended. */
export class Scenario {
  readonly plans: IntentPlan[] = [];
  readonly submitted: SubmittedIntent[] = [];
  private readonly started = Date.now();
  private readonly pendingSubmissions: Promise<void>[] = [];

  constructor(
    readonly name: string,
    readonly world: World,
  ) {}

  get stack(): Stack {
    return this.world.stack;
  }

  get connector(): ConnectorActor {
    return this.world.connector;
  }

  get cab(): CabActor {
    return this.world.cab;
  }

  get api(): ControlPlaneProcess {
    return this.world.api;
  }

  get worker(): ControlPlaneProcess {
    return this.world.worker;
  }

  /** Submits each plan like a real client (retries under its key until 201), in the background. */
  submit(planned: readonly IntentPlan[]): Promise<void> {
    this.plans.push(...planned);
    const all = Promise.all(
      planned.map(async (plan) => {
        this.submitted.push(await submit(this.world.submitter, plan));
      }),
    ).then(() => undefined);
    this.pendingSubmissions.push(all.catch(() => undefined));
    return all;
  }

  private keys(): string[] {
    return this.plans.map((plan) => plan.key);
  }

  /** Waits until `sql` (one row, column n; $1 is this scenario's keys) reaches `atLeast`. */
  async waitFor(what: string, sql: string, atLeast: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const rows = await this.world.query<{ n: string }>(sql, [this.keys()]);
      if (rows !== undefined && Number(rows[0]?.n ?? 0) >= atLeast) return;
      await delay(200);
    }
    throw new Error(`${this.name}: timed out waiting for ${what}`);
  }

  /** Ring deployments of this scenario's intents waiting for the connector (PENDING or IN_PROGRESS). */
  async waitForOpenRings(count: number, kind: 'DEPLOY' | 'ROLLBACK' = 'DEPLOY'): Promise<void> {
    await this.waitFor(
      `${String(count)} open ${kind} rings`,
      `select count(*) as n from ring_deployments r join deployment_intents i on i.id = r.intent_id
        where i.idempotency_key = any($1) and r.kind = '${kind}' and r.status in ('PENDING','IN_PROGRESS')`,
      count,
    );
  }

  async waitForCabRequests(count: number): Promise<void> {
    await this.waitFor(
      `${String(count)} CAB requests`,
      `select count(*) as n from cab_approvals c join deployment_intents i on i.id = c.intent_id
        where i.idempotency_key = any($1) and c.state = 'PENDING'`,
      count,
    );
  }

  /** Stops a dependency for `ms` (running `during` once it is down), then starts it again. */
  async outage(
    what: string,
    stop: () => Promise<void>,
    start: () => Promise<void>,
    ms: number,
    during: () => void = () => undefined,
  ): Promise<void> {
    this.world.ledger.outageBegins(what);
    await stop();
    during();
    await delay(ms);
    await start();
    this.world.ledger.outageEnds();
  }

  async killApi(downMs: number): Promise<void> {
    this.world.ledger.apiGoesDown();
    await this.api.kill();
    await delay(downMs);
    await this.api.start();
    this.world.ledger.apiComesBack();
  }

  /** Waits for every submission and every intent to end, then checks what is left. */
  async finish(failure?: unknown, timeoutMs = 90_000): Promise<ScenarioResult> {
    const deadline = Date.now() + timeoutMs;
    const stuck: string[] =
      failure === undefined
        ? []
        : [`the scenario failed: ${failure instanceof Error ? failure.message : JSON.stringify(failure)}`];
    this.connector.resume();
    this.cab.resume();
    const submitted = await Promise.race([
      Promise.all(this.pendingSubmissions).then(() => true),
      delay(timeoutMs).then(() => false),
    ]);
    if (!submitted) stuck.push('submissions did not finish');
    const terminal = TERMINAL_STATUSES.map((status) => `'${status}'`).join(',');
    // Every intent of the scenario's keys ended (a key with no intent is the checks' business).
    try {
      await this.waitFor(
        'every intent to end',
        `select (count(*) filter (where status not in (${terminal})) = 0)::int as n from deployment_intents
          where idempotency_key = any($1)`,
        1,
        Math.max(1_000, deadline - Date.now()),
      );
    } catch (error) {
      stuck.push(error instanceof Error ? error.message : String(error));
    }

    const db = new pg.Client({ connectionString: this.world.databaseUrl() });
    await db.connect();
    const temporal = await this.stack.temporalClient();
    let findings;
    try {
      findings = await checkScenario({
        db,
        temporal,
        plans: this.plans,
        since: new Date(this.started),
        acknowledged: this.connector.acknowledged,
      });
    } finally {
      await db.end();
      await temporal.connection.close();
    }
    const exits = [
      ...this.api.unplannedExitsSince(this.started),
      ...this.worker.unplannedExitsSince(this.started),
    ].map((exit) => `${exit.name} exited (code ${String(exit.code)}, signal ${String(exit.signal)})`);
    const refused = [
      ...this.connector.refused.map(
        (r) =>
          `report ${r.ringDeploymentId.slice(0, 8)} final=${String(r.final)} → ${String(r.status)} ${String(r.problemType)}`,
      ),
      ...this.cab.refused.map(
        (r) => `CAB decision ${r.intentId.slice(0, 8)} → ${String(r.status)} ${String(r.problemType)}`,
      ),
    ];
    return {
      name: this.name,
      lost: [...stuck, ...findings.lost],
      duplicated: findings.duplicated,
      slowOr5xx: this.world.ledger.violations(),
      refused,
      exits,
      intents: this.plans.length,
      outageAnswers: this.world.ledger.outageAnswers(),
      seconds: Math.round((Date.now() - this.started) / 100) / 10,
    };
  }
}
