import { randomUUID } from 'node:crypto';
import type { EvidencePack } from '../../policy/evidence-pack';
import { highRiskEvidence, lowRiskEvidence } from '../fixtures/evidence';
import { delay } from './infrastructure';

/**
 * Real clients of the API over HTTP: people signed in with session cookies (submitters, CAB members),
 * and a connector with its API key. Every request is timed and kept in a ledger, so a scenario can
 * tell what a client saw while a dependency was down.
 */

/** A request is given up (and counted slow) after this long. */
const REQUEST_TIMEOUT_MS = 20_000;
/** The bound on a client-visible failure while a dependency is down. */
export const FAST_FAILURE_MS = 3_000;

export interface Exchange {
  readonly who: string;
  readonly method: string;
  readonly path: string;
  readonly startedAt: number;
  readonly ms: number;
  /** 0 when no answer came (connection refused or reset, timeout). */
  readonly status: number;
  readonly problemType: string | undefined;
  readonly error: string | undefined;
}

interface Window {
  readonly what: string;
  readonly from: number;
  to: number | undefined;
}

/** Every exchange of a scenario, and when a dependency (or the API itself) was down. */
export class Ledger {
  readonly exchanges: Exchange[] = [];
  private readonly outages: Window[] = [];
  private readonly apiDown: Window[] = [];

  outageBegins(what: string): void {
    this.outages.push({ what, from: Date.now(), to: undefined });
  }

  outageEnds(): void {
    for (const window of this.outages) window.to ??= Date.now();
  }

  apiGoesDown(): void {
    this.apiDown.push({ what: 'api', from: Date.now(), to: undefined });
  }

  apiComesBack(): void {
    for (const window of this.apiDown) window.to ??= Date.now();
  }

  private within(windows: readonly Window[], exchange: Exchange, graceMs: number): boolean {
    const end = exchange.startedAt + exchange.ms;
    return windows.some((w) => exchange.startedAt <= (w.to ?? Infinity) + graceMs && end >= w.from);
  }

  /**
   * What clients must never see: a 5xx other than 503, a 503 that took more than 3 s, a failure that
   * took more than 3 s while a dependency was down (a hang), a sign-in refused because a dependency
   * was down, and a dropped connection while the API was up. A request that succeeded after waiting out
   * the outage was still a hang; only a submission may take longer (it waits for its risk score).
   */
  violations(): string[] {
    const found: string[] = [];
    for (const e of this.exchanges) {
      const label = `${e.who} ${e.method} ${e.path} → ${e.status === 0 ? (e.error ?? 'no answer') : String(e.status)} in ${String(e.ms)} ms`;
      const duringOutage = this.within(this.outages, e, 0);
      // Only a submission may succeed slowly: it waits up to 10 s for its risk score by design.
      const succeeded = e.status >= 200 && e.status < 300 && e.path === '/deployment-intents';
      if (e.status >= 500 && e.status !== 503) found.push(`${label} (${e.problemType ?? 'no problem type'})`);
      else if (e.status === 503 && e.ms > FAST_FAILURE_MS) found.push(`${label}: a slow 503`);
      else if (duringOutage && !succeeded && e.ms > FAST_FAILURE_MS)
        found.push(`${label}: hung during the outage`);
      else if (duringOutage && e.status === 401) found.push(`${label}: a sign-in refused for an outage`);
      else if (e.status === 0 && !this.within(this.apiDown, e, 1_000)) {
        found.push(`${label}: no answer while the API was up`);
      }
    }
    return found;
  }

  /** Answers given while a dependency was down, by status: evidence that the outage was met. */
  outageAnswers(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const e of this.exchanges) {
      if (!this.within(this.outages, e, 0)) continue;
      const key = String(e.status);
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  }
}

export interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Headers | undefined;
}

/** One HTTP client: a person with a session cookie, or a connector with an API key. */
export class ApiClient {
  private cookies = new Map<string, string>();

  constructor(
    private readonly baseUrl: () => string,
    /** The current scenario's ledger. */
    private readonly ledger: () => Ledger,
    readonly who: string,
  ) {}

  private bearer: string | undefined;

  /** Authenticates with an API key (a connector) instead of a session cookie. */
  useApiKey(key: string): void {
    this.bearer = key;
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const started = Date.now();
    const requestHeaders: Record<string, string> = { ...headers, 'X-Correlation-ID': randomUUID() };
    if (body !== undefined) requestHeaders['Content-Type'] = 'application/json';
    if (this.bearer !== undefined) requestHeaders.Authorization = `Bearer ${this.bearer}`;
    if (this.cookies.size > 0) {
      requestHeaders.Cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    }
    let status = 0;
    let parsed: unknown = undefined;
    let responseHeaders: Headers | undefined;
    let error: string | undefined;
    try {
      const response = await fetch(`${this.baseUrl()}/api/v1${path}`, {
        method,
        headers: requestHeaders,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      status = response.status;
      responseHeaders = response.headers;
      for (const cookie of response.headers.getSetCookie()) {
        const [pair] = cookie.split(';');
        const at = pair?.indexOf('=') ?? -1;
        if (pair !== undefined && at > 0) this.cookies.set(pair.slice(0, at), pair.slice(at + 1));
      }
      const text = await response.text();
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        parsed = text;
      }
    } catch (caught) {
      const cause = (caught as { cause?: { code?: string } }).cause;
      error = cause?.code ?? (caught instanceof Error ? caught.name : String(caught));
    }
    const problemType =
      status >= 400 && typeof parsed === 'object' && parsed !== null && 'type' in parsed
        ? String(parsed.type).replace(/^.*\//, '')
        : undefined;
    this.ledger().exchanges.push({
      who: this.who,
      method,
      path: path.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, ':id'),
      startedAt: started,
      ms: Date.now() - started,
      status,
      problemType,
      error,
    });
    return { status, body: parsed, headers: responseHeaders };
  }

  async signIn(username: string, roles: readonly string[]): Promise<void> {
    await retrying(`${username} sign-in`, async () => {
      const answer = await this.request('POST', '/auth/dev-login', { username, roles });
      return answer.status === 200 ? true : undefined;
    });
  }
}

/** Retries like a real client: after a 503, a 409 in-progress, or no answer, until `deadlineMs`. */
export async function retrying<T>(
  what: string,
  attempt: () => Promise<T | undefined>,
  deadlineMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (let tries = 1; ; tries += 1) {
    const result = await attempt();
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new Error(`${what}: no success after ${String(tries)} tries`);
    await delay(Math.min(250 * tries, 1_000));
  }
}

/** Answers a client retries with the same request: the server is (or was) unavailable. */
export function retryable(answer: Answer): boolean {
  if (answer.status === 0 || answer.status === 503) return true;
  const type = (answer.body as { type?: string } | undefined)?.type ?? '';
  return answer.status === 409 && type.endsWith('idempotency-key-in-progress');
}

export type RiskLevel = 'low' | 'high';

export interface IntentPlan {
  readonly key: string;
  readonly risk: RiskLevel;
  readonly targetRing: 'LAB' | 'CANARY' | 'PILOT';
  /** The ring whose gate fails (the connector reports half its devices failed): the rollout rolls back. */
  readonly failingRing?: 'CANARY' | 'PILOT';
  readonly expected: 'COMPLETED' | 'ROLLED_BACK';
}

export interface SubmittedIntent {
  readonly plan: IntentPlan;
  readonly intentId: string;
  readonly correlationId: string;
}

function evidenceFor(plan: IntentPlan, index: number): EvidencePack {
  // A distinct artifact per intent keeps each evidence pack (and its event) the intent's own.
  const artifact_hash = index.toString(16).padStart(64, plan.risk === 'low' ? 'a' : 'b');
  return plan.risk === 'low' ? lowRiskEvidence({ artifact_hash }) : highRiskEvidence({ artifact_hash });
}

let submissionIndex = 0;

/** The submission body of a plan: the app name carries what the connector should report. */
export function submissionBody(plan: IntentPlan) {
  submissionIndex += 1;
  return {
    app_name: plan.failingRing === undefined ? 'FaultApp' : `FaultApp-fail-${plan.failingRing}`,
    version: `1.0.${String(submissionIndex)}`,
    target_ring: plan.targetRing,
    connectors: { windows: 'intune' },
    evidence_pack: evidenceFor(plan, submissionIndex),
  };
}

/** Submits under the plan's Idempotency-Key until the API answers 201 (retrying 503s and silence). */
export async function submit(client: ApiClient, plan: IntentPlan): Promise<SubmittedIntent> {
  const body = submissionBody(plan);
  return retrying(`submission ${plan.key}`, async () => {
    const answer = await client.request('POST', '/deployment-intents', body, { 'Idempotency-Key': plan.key });
    if (answer.status === 201) {
      const created = answer.body as { id: string; correlation_id: string };
      return { plan, intentId: created.id, correlationId: created.correlation_id };
    }
    if (retryable(answer)) return undefined;
    throw new Error(
      `submission ${plan.key} refused: ${String(answer.status)} ${JSON.stringify(answer.body)}`,
    );
  });
}
