import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import {
  MAX_PENDING_WORK_WAIT_SECONDS,
  connectorTypeSchema,
  deploymentStatusAnswerSchema,
  pendingWorkSchema,
} from '../api/schemas/connectors';
import type { PendingDeployment } from '../api/schemas/connectors';
import type { ConnectorType } from '../policy/connectors';
import { parseDuration } from '../policy/duration';

/**
 * A reference connector: polls the control plane for its pending ring deployments and rollbacks (one
 * request, two lists; a long poll that the control plane holds while nothing is open), and reports them
 * done with configured device counts. It installs nothing; a real
 * connector puts its execution plane (Intune, Jamf, ...) where `carryOut` sends its reports.
 */

export type ConnectorLogLine = Record<string, unknown> & { readonly event: string };

export interface ConnectorOptions {
  /** The control plane, e.g. `http://127.0.0.1:8080` (the API is below `/api/v1`). */
  readonly baseUrl: string;
  /** A connector API key (`eucora_ck_…`) issued for `connectorType`. */
  readonly apiKey: string;
  readonly connectorType: ConnectorType;
  readonly successCount: number;
  readonly failureCount: number;
  /** Pause between two reports on one item, and between two polls that found nothing new. */
  readonly intervalMs: number;
  /**
   * Long polling: how long (seconds, 0..30) the control plane may hold a poll that finds nothing open,
   * answering as soon as work is recorded. A poll it held is followed by the next at once, without the
   * interval: an idle connector costs one request per `waitSeconds`, not one per `intervalMs`.
   * 0 polls every `intervalMs`. Default DEFAULT_WAIT_SECONDS; never with `once`.
   */
  readonly waitSeconds?: number;
  /** Interim reports (heartbeats with partial counts) before the final one. */
  readonly interimReports: number;
  /** Carry out what is pending now, then stop. */
  readonly once?: boolean;
  readonly signal?: AbortSignal;
  readonly log?: (line: ConnectorLogLine) => void;
}

export interface ConnectorSummary {
  /** Items this run completed with its final report. */
  readonly completed: number;
  /** Items that finished elsewhere meanwhile (409, 404): left alone. */
  readonly skipped: number;
}

/** An answer the control plane gave with an error status; 400, 401 and 403 mean the setup is wrong. */
export class ControlPlaneError extends Error {
  constructor(
    readonly status: number,
    readonly problemType: string | undefined,
    detail: string,
  ) {
    super(`control plane answered ${String(status)}: ${detail}`);
    this.name = 'ControlPlaneError';
  }

  get fatal(): boolean {
    return this.status === 400 || this.status === 401 || this.status === 403;
  }
}

const problemSchema = z.object({ type: z.string().optional(), detail: z.string().optional() });

const MAX_RETRY_MS = 60_000;
/** How long a poll asks to be held by default: well under the 60 s idle timeout of common proxies. */
export const DEFAULT_WAIT_SECONDS = 20;
/** Sends of one report before the item is left for the next poll: a 503 means "recorded, send it again". */
const REPORT_SENDS = 3;

type ItemResult = 'COMPLETED' | 'SKIPPED' | 'INTERRUPTED' | 'FAILED';

export async function runConnector(options: ConnectorOptions): Promise<ConnectorSummary> {
  const log = options.log ?? (() => undefined);
  const api = new ControlPlane(options);
  let completed = 0;
  let skipped = 0;
  log({ event: 'connector_started', connector_type: options.connectorType, once: options.once === true });

  let failedPolls = 0;
  // Each item is its own execution-plane job, keyed by its ring deployment: a slow one (interim reports,
  // retried sends) never holds back work that appears meanwhile, and a poll starts only what is new.
  const inFlight = new Map<string, Promise<void>>();
  const keyOf = (item: PendingDeployment) => `${item.action}:${item.ring_deployment_id}`;
  // Set by the items' jobs: an object, so the compiler does not assume an await leaves them unchanged.
  const outcome: { failedSince: boolean; fatal?: { readonly error: unknown } } = { failedSince: false };
  const start = (item: PendingDeployment): void => {
    const key = keyOf(item);
    const job = carryOut(api, options, log, item)
      .then(
        (result) => {
          if (result === 'COMPLETED') completed += 1;
          if (result === 'SKIPPED') skipped += 1;
          if (result === 'FAILED') outcome.failedSince = true;
        },
        (error: unknown) => {
          // A refused key or connector type: the connector stops, as a refused poll stops it.
          outcome.fatal ??= { error };
        },
      )
      .finally(() => inFlight.delete(key));
    inFlight.set(key, job);
  };

  // "Carry out what is pending now": a run with `once` never waits for work to appear.
  const waitSeconds = options.once === true ? 0 : (options.waitSeconds ?? DEFAULT_WAIT_SECONDS);
  while (!stopped(options) && outcome.fatal === undefined) {
    let items: PendingDeployment[];
    let held = false;
    try {
      const asked = performance.now();
      items = await api.pendingWork(waitSeconds);
      // An empty answer after at least an interval: the control plane held the poll (it may answer
      // sooner, e.g. when it holds too many polls already, and then the interval applies).
      held = waitSeconds > 0 && items.length === 0 && performance.now() - asked >= options.intervalMs;
      failedPolls = 0;
    } catch (error) {
      if (stopped(options)) break;
      if (options.once === true || (error instanceof ControlPlaneError && error.fatal)) {
        outcome.fatal = { error };
        break;
      }
      failedPolls += 1;
      // Back off while the control plane is away, so a long outage is not a flood of requests and lines.
      const retryMs = Math.min(
        options.intervalMs * 2 ** (failedPolls - 1),
        Math.max(options.intervalMs, MAX_RETRY_MS),
      );
      log({ event: 'poll_failed', level: 'warn', error: messageOf(error), retry_in_ms: retryMs });
      await pause(retryMs, options.signal);
      continue;
    }
    const fresh = items.filter((item) => !inFlight.has(keyOf(item)));
    if (fresh.length > 0) log({ event: 'work_found', count: fresh.length });
    fresh.forEach(start);

    if (options.once === true) break;
    // Nothing new, or a report did not get through: wait before asking again (less when an item ends,
    // since the next step of its rollout is the likely next work). A held poll has waited already.
    if ((fresh.length === 0 && !held) || outcome.failedSince) {
      outcome.failedSince = false;
      await Promise.race([pause(options.intervalMs, options.signal), ...inFlight.values()]);
    }
  }
  // Items in flight end at their next step once the signal has aborted; with --once they are the run.
  await Promise.all(inFlight.values());
  if (outcome.fatal !== undefined) throw outcome.fatal.error;

  log({ event: 'connector_stopped', completed, skipped });
  return { completed, skipped };
}

/** Interim reports with growing partial counts, then the final one. */
async function carryOut(
  api: ControlPlane,
  options: ConnectorOptions,
  log: (line: ConnectorLogLine) => void,
  item: PendingDeployment,
): Promise<ItemResult> {
  const subject = {
    ring_deployment_id: item.ring_deployment_id,
    correlation_id: item.correlation_id,
    intent_id: item.intent_id,
    ring: item.ring,
    action: item.action,
  };
  log({
    event: 'item_started',
    ...subject,
    app: `${item.app_name} ${item.app_version}`,
    status: item.status,
  });
  const steps = options.interimReports + 1;
  for (let step = 1; step <= steps; step += 1) {
    const final = step === steps;
    const counts = {
      success_count: Math.floor((options.successCount * step) / steps),
      failure_count: Math.floor((options.failureCount * step) / steps),
    };
    const sent = await sendReport(api, options, log, item, subject, { ...counts, final });
    if (sent !== 'SENT') return sent;
    if (!final) {
      await pause(options.intervalMs, options.signal);
      if (stopped(options)) return 'INTERRUPTED';
    }
  }
  log({ event: 'item_completed', ...subject });
  return 'COMPLETED';
}

/**
 * Sends one report, and sends the same report again while the control plane answers 503 or cannot be
 * reached: the control plane records a report before it acts on it, so a repeat finishes the job and
 * never counts twice.
 */
async function sendReport(
  api: ControlPlane,
  options: ConnectorOptions,
  log: (line: ConnectorLogLine) => void,
  item: PendingDeployment,
  subject: Record<string, unknown>,
  report: { success_count: number; failure_count: number; final: boolean },
): Promise<'SENT' | ItemResult> {
  // One request id for every send of this report: the control plane's trail shows them as one.
  const requestId = randomUUID();
  for (let send = 1; ; send += 1) {
    try {
      const answer = await api.report(item, report, requestId);
      log({ event: 'report_sent', ...subject, ...report, outcome: answer.outcome });
      return 'SENT';
    } catch (error) {
      if (stopped(options)) return 'INTERRUPTED';
      if (error instanceof ControlPlaneError && (error.status === 409 || error.status === 404)) {
        // Finished meanwhile (deadline passed, aborted, reported by another instance): nothing left to do.
        log({ event: 'item_skipped', ...subject, status: error.status, problem: error.problemType });
        return 'SKIPPED';
      }
      if (error instanceof ControlPlaneError && error.fatal) throw error;
      log({ event: 'report_failed', level: 'warn', ...subject, send, error: messageOf(error) });
      // Still open on the control plane: after the last send, the next poll lists it again.
      if (send >= REPORT_SENDS) return 'FAILED';
      await pause(options.intervalMs * send, options.signal);
      if (stopped(options)) return 'INTERRUPTED';
    }
  }
}

/** The connector endpoints, over global fetch. */
class ControlPlane {
  private readonly base: string;

  constructor(private readonly options: ConnectorOptions) {
    this.base = `${options.baseUrl.replace(/\/+$/, '')}/api/v1`;
  }

  /**
   * Deployments and rollbacks, oldest first: this connector carries out both, so it asks for both at once.
   * With `waitSeconds`, the control plane holds the request while nothing is open.
   */
  async pendingWork(waitSeconds: number): Promise<PendingDeployment[]> {
    const query = new URLSearchParams({
      connector_type: this.options.connectorType,
      ...(waitSeconds > 0 ? { wait: String(waitSeconds) } : {}),
    }).toString();
    const { deployments, rollbacks } = pendingWorkSchema.parse(
      await this.call('GET', `/connectors/pending-work?${query}`, randomUUID()),
    );
    return [...deployments, ...rollbacks].sort((a, b) => a.started_at.localeCompare(b.started_at));
  }

  async report(
    item: PendingDeployment,
    counts: { success_count: number; failure_count: number; final: boolean },
    requestId: string,
  ): Promise<z.infer<typeof deploymentStatusAnswerSchema>> {
    const body = await this.call('POST', '/connectors/update-deployment-status', requestId, {
      ring_deployment_id: item.ring_deployment_id,
      correlation_id: item.correlation_id,
      ring: item.ring,
      connector_type: this.options.connectorType,
      action: item.action,
      connector_object_id: `${this.options.connectorType}:${item.intent_id}:${item.ring}:${item.action}`,
      ...counts,
    });
    return deploymentStatusAnswerSchema.parse(body);
  }

  /** One request; its request id (X-Correlation-ID) finds the call in the control plane's logs and trail. */
  private async call(method: 'GET' | 'POST', path: string, requestId: string, body?: unknown) {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${this.options.apiKey}`,
        Accept: 'application/json',
        'X-Correlation-ID': requestId,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(this.options.signal === undefined ? {} : { signal: this.options.signal }),
    });
    const text = await response.text();
    const parsed: unknown = text === '' ? undefined : JSON.parse(text);
    if (!response.ok) {
      const problem = problemSchema.safeParse(parsed);
      const type = problem.success ? problem.data.type : undefined;
      const detail = (problem.success ? problem.data.detail : undefined) ?? response.statusText;
      throw new ControlPlaneError(response.status, type, detail);
    }
    return parsed;
  }
}

/** Resolves after `ms`, or at once when the signal aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A function, not an inline test: the compiler must not assume an await leaves the signal unchanged. */
function stopped(options: ConnectorOptions): boolean {
  return options.signal?.aborted === true;
}

/** The message, with its cause when there is one (fetch says only "fetch failed"). */
function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
}

// ---- Command line --------------------------------------------------------------------------------

export const USAGE = `usage: npm run connector -- --type <intune|jamf|sccm|landscape|ansible> [options]
  --base-url <url>     control plane (default http://127.0.0.1:8080)
  --api-key <key>      connector API key (default: the EUCORA_CONNECTOR_KEY environment variable)
  --success <n>        devices reported successful per item (default 100)
  --failure <n>        devices reported failed per item (default 0)
  --interval <dur>     pause between reports and between polls that found nothing new, e.g. 2s, 500ms (default 5s)
  --wait <seconds>     long polling: the control plane holds a poll that finds nothing open up to this
                       long, answering as soon as work is recorded; 0 polls every interval (default 20, max 30)
  --interim <n>        interim reports before the final one (default 1)
  --once               carry out what is pending now, then exit
`;

const count = z.coerce.number().int().min(0).max(10_000_000);
const cliSchema = z.object({
  type: connectorTypeSchema,
  'base-url': z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8080'),
  'api-key': z
    .string({ error: 'required (or set EUCORA_CONNECTOR_KEY)' })
    .startsWith('eucora_ck_', 'a connector API key starts with eucora_ck_'),
  success: count.default(100),
  failure: count.default(0),
  interval: z
    .string()
    .default('5s')
    .transform((text, context) => {
      try {
        return parseDuration(text);
      } catch (error) {
        context.addIssue({ code: 'custom', message: messageOf(error) });
        return z.NEVER;
      }
    }),
  interim: z.coerce.number().int().min(0).max(100).default(1),
  wait: z.coerce.number().int().min(0).max(MAX_PENDING_WORK_WAIT_SECONDS).default(DEFAULT_WAIT_SECONDS),
  once: z.boolean().default(false),
});

/** Reads the command line (and EUCORA_CONNECTOR_KEY); throws a readable message when it is wrong. */
export function parseConnectorArguments(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Omit<ConnectorOptions, 'signal' | 'log'> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      type: { type: 'string' },
      'base-url': { type: 'string' },
      'api-key': { type: 'string' },
      success: { type: 'string' },
      failure: { type: 'string' },
      interval: { type: 'string' },
      interim: { type: 'string' },
      wait: { type: 'string' },
      once: { type: 'boolean' },
    },
  });
  const parsed = cliSchema.safeParse({ ...values, 'api-key': values['api-key'] ?? env.EUCORA_CONNECTOR_KEY });
  if (!parsed.success) {
    throw new Error(
      parsed.error.issues
        .map((issue) => `--${issue.path.map(String).join('.')}: ${issue.message}`)
        .join('; '),
    );
  }
  const cli = parsed.data;
  return {
    baseUrl: cli['base-url'],
    apiKey: cli['api-key'],
    connectorType: cli.type,
    successCount: cli.success,
    failureCount: cli.failure,
    intervalMs: cli.interval,
    interimReports: cli.interim,
    waitSeconds: cli.wait,
    once: cli.once,
  };
}

function writeLine(line: ConnectorLogLine): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', ...line })}\n`);
}

async function main(): Promise<void> {
  let options: Omit<ConnectorOptions, 'signal' | 'log'>;
  try {
    options = parseConnectorArguments(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`${messageOf(error)}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      writeLine({ event: 'shutdown_requested', signal });
      stop.abort();
    });
  }
  try {
    await runConnector({ ...options, signal: stop.signal, log: writeLine });
  } catch (error) {
    writeLine({ event: 'connector_failed', level: 'error', error: messageOf(error) });
    process.exitCode = 1;
  }
}

// Imported (by tests, or by another connector) it only exports; run directly it is the CLI.
if (require.main === module) void main();
