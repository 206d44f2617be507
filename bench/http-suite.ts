import { createHash } from 'node:crypto';
import { lowRiskEvidence } from '../test/fixtures/evidence';
import { runLoad } from './load';
import type { BenchResult } from './result';

export interface HttpSuiteSize {
  readonly concurrency: number;
  readonly health: { readonly warmup: number; readonly requests: number };
  readonly riskEvaluate: { readonly warmup: number; readonly requests: number };
  readonly createIntent: { readonly warmup: number; readonly requests: number };
  readonly listIntents: { readonly warmup: number; readonly requests: number };
  /** Budget of each scenario; a scenario that runs out stops early and says so (truncated). */
  readonly scenarioBudgetMs: number;
  readonly createIntentBudgetMs: number;
  readonly requestTimeoutMs: number;
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

/** A loopback HTTP client that carries one session cookie. */
export class ApiClient {
  private cookie: string | undefined;

  constructor(
    private readonly apiUrl: string,
    private readonly timeoutMs: number,
  ) {}

  async send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> {
    const response = await fetch(`${this.apiUrl}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.cookie === undefined ? {} : { cookie: this.cookie }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  }

  /** Signs in through the dev login and keeps the session cookie for every later request. */
  async signIn(username: string, roles: readonly string[]): Promise<void> {
    const response = await fetch(`${this.apiUrl}/auth/dev-login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, roles }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    await response.arrayBuffer();
    const session = response.headers
      .getSetCookie()
      .map((header) => header.split(';')[0] ?? '')
      .find((pair) => pair.startsWith('eucora.sid='));
    if (response.status !== 200 || session === undefined) {
      throw new Error(`dev login failed with status ${String(response.status)}`);
    }
    this.cookie = session;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Every submission has its own evidence (its own artifact), as real packagers' submissions do. */
function intentBody(index: number) {
  return {
    app_name: '7-Zip',
    version: `24.08.${String(index)}`,
    target_ring: 'LAB',
    connectors: { windows: 'intune' },
    evidence_pack: lowRiskEvidence({
      artifact_hash: createHash('sha256')
        .update(`bench-artifact-${String(index)}`)
        .digest('hex'),
    }),
  };
}

const RISK_EVALUATION = {
  evidence_pack: lowRiskEvidence(),
  target_ring: 'GLOBAL',
  connectors: { windows: 'intune', macos: 'jamf', linux: 'landscape' },
  target_device_count: 5_000,
};

/** The API over loopback, one scenario after the other, every one bounded in count and time. */
export async function runHttpSuite(
  apiUrl: string,
  size: HttpSuiteSize,
  progress: (line: string) => void,
): Promise<BenchResult[]> {
  const anonymous = new ApiClient(apiUrl, size.requestTimeoutMs);
  const packager = new ApiClient(apiUrl, size.requestTimeoutMs);
  await packager.signIn('bench.packager@example.com', ['submitter', 'auditor']);
  const common = { concurrency: size.concurrency, timeBudgetMs: size.scenarioBudgetMs };
  const results: BenchResult[] = [];

  progress(`GET /health: ${String(size.health.requests)} requests`);
  results.push(
    await runLoad({
      name: 'http.get_health',
      ...common,
      ...size.health,
      send: async () => (await anonymous.send('GET', '/health')).status === 200,
      note: 'GET /api/v1/health, anonymous: pings PGlite, the session store and the Temporal frontend',
    }),
  );

  progress(`POST /risk/evaluate: ${String(size.riskEvaluate.requests)} requests`);
  results.push(
    await runLoad({
      name: 'http.post_risk_evaluate',
      ...common,
      ...size.riskEvaluate,
      send: async () => (await packager.send('POST', '/risk/evaluate', RISK_EVALUATION)).status === 200,
      note: 'POST /api/v1/risk/evaluate: inline low-risk pack, GLOBAL, three connectors; nothing stored',
    }),
  );

  progress(`POST /deployment-intents: ${String(size.createIntent.requests)} intents`);
  let created = 0;
  results.push(
    await runLoad({
      name: 'http.post_deployment_intent',
      ...common,
      timeBudgetMs: size.createIntentBudgetMs,
      ...size.createIntent,
      send: async (index) => {
        const answer = await packager.send('POST', '/deployment-intents', intentBody(index));
        if (answer.status !== 201) return false;
        created++;
        // A null risk means the workflow did not assess it in time: the request did not do its whole job.
        return isRecord(answer.body) && answer.body.risk !== null;
      },
      note:
        'POST /api/v1/deployment-intents end to end: evidence stored, intent row and event, workflow ' +
        'started, answer after the workflow risk assessment (errors count a missing assessment too)',
    }),
  );

  const expectedItems = Math.min(50, created);
  progress(`GET /deployment-intents?limit=50 over ${String(created)} intents`);
  results.push(
    await runLoad({
      name: 'http.get_deployment_intents',
      ...common,
      ...size.listIntents,
      send: async () => {
        const answer = await packager.send('GET', '/deployment-intents?limit=50');
        return (
          answer.status === 200 &&
          isRecord(answer.body) &&
          Array.isArray(answer.body.items) &&
          answer.body.items.length === expectedItems
        );
      },
      note: `GET /api/v1/deployment-intents?limit=50 with ${String(created)} intents stored (${String(expectedItems)} per page)`,
    }),
  );
  return results;
}
