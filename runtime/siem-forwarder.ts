import type * as AzureIdentity from '@azure/identity';
import type { TokenCredential } from '@azure/core-auth';
import type * as MonitorIngestion from '@azure/monitor-ingestion';
import type { LogsIngestionClientOptions } from '@azure/monitor-ingestion';
import type { SiemOutboxRepository } from '../db/repositories/siem-outbox';
import type { ClaimedSiemRecord } from '../db/repositories/siem-outbox';
import { siemRetryDelayMs, utcDay } from '../policy/siem-events';
import type { Logger } from './logger';

/**
 * The Azure SDKs, required only where SIEM forwarding is configured: every worker process imports this
 * module, and loading @azure/identity and @azure/monitor-ingestion costs about 4 MiB of RSS and of heap
 * (docs/benchmarks.md, "Worker RSS at start").
 */
/* eslint-disable @typescript-eslint/no-require-imports -- deferred on purpose, see above */
const monitorIngestion = () => require('@azure/monitor-ingestion') as typeof MonitorIngestion;
const azureIdentity = () => require('@azure/identity') as typeof AzureIdentity;
/* eslint-enable @typescript-eslint/no-require-imports */

/** What the forwarder sends through: `LogsIngestionClient.upload`, or a test's stand-in. */
export interface SiemUploader {
  upload(records: Record<string, unknown>[], signal: AbortSignal): Promise<void>;
}

/** How tests reach a local stand-in for Logs Ingestion: a credential with a static token, an agent trusting its CA. */
export interface LogsIngestionAccess {
  readonly credential?: TokenCredential;
  readonly clientOptions?: LogsIngestionClientOptions;
}

export interface SiemSettings {
  readonly ingestionEndpoint: string;
  readonly ruleId: string;
  readonly stream: string;
}

/**
 * The Azure Monitor Logs Ingestion client for the configured data collection endpoint, rule and stream.
 * The pipeline's own retries are off: the forwarder retries with its own backoff, holding the tenant's
 * later records back, and records the failure where health and metrics see it.
 */
export function logsIngestionUploader(
  settings: SiemSettings,
  access: LogsIngestionAccess = {},
): SiemUploader {
  const client = new (monitorIngestion().LogsIngestionClient)(
    settings.ingestionEndpoint,
    access.credential ?? new (azureIdentity().DefaultAzureCredential)(),
    { ...access.clientOptions, retryOptions: { maxRetries: 0 } },
  );
  return {
    // One request per call: the forwarder keeps batches below the SDK's 1 MB chunk, so the SDK never
    // splits one (its chunks are sent independently, which could deliver a later chunk before an earlier).
    upload: (records, signal) =>
      client.upload(settings.ruleId, settings.stream, records, { maxConcurrency: 1, abortSignal: signal }),
  };
}

export interface SiemForwarderOptions {
  readonly outbox: SiemOutboxRepository;
  readonly uploader: SiemUploader;
  readonly logger: Logger;
  /** Records per upload at most. */
  readonly batchSize: number;
  /** The pause between passes when nothing was due. */
  readonly pollIntervalMs: number;
  /** Backoff of a failed send: doubling from `baseMs` up to `maxMs` (policy/siem-events.ts). */
  readonly retry: { readonly baseMs: number; readonly maxMs: number };
  /** How long a claim holds a tenant's head; an upload is aborted well before it ends. */
  readonly leaseMs: number;
  readonly now?: () => Date;
}

/** The SDK measures a chunk as the JSON of its records; below this, an upload is one request. */
export const MAX_UPLOAD_BYTES = 900_000;

/** What a failed upload said: its HTTP status, and the Retry-After it asked for. */
function failureOf(error: unknown): {
  status: number | undefined;
  retryAfterMs: number | undefined;
  message: string;
} {
  const cause = monitorIngestion().isAggregateLogsUploadError(error)
    ? (error.errors[0]?.cause ?? error)
    : error;
  const rest = cause as {
    statusCode?: unknown;
    response?: { headers?: { get?: (name: string) => string | undefined } };
    message?: unknown;
  };
  const status = typeof rest.statusCode === 'number' ? rest.statusCode : undefined;
  const retryAfter = rest.response?.headers?.get?.('retry-after');
  let retryAfterMs: number | undefined;
  if (retryAfter !== undefined) {
    const seconds = Number(retryAfter);
    retryAfterMs = Number.isFinite(seconds)
      ? seconds * 1000
      : Math.max(Date.parse(retryAfter) - Date.now(), 0) || undefined;
  }
  const message = typeof rest.message === 'string' && rest.message !== '' ? rest.message : String(cause);
  return { status, retryAfterMs, message: status === undefined ? message : `${String(status)}: ${message}` };
}

/** Leading records whose JSON fits in one SDK chunk (at least one). */
function fittingPrefix(records: readonly ClaimedSiemRecord[]): ClaimedSiemRecord[] {
  const batch: ClaimedSiemRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    bytes += Buffer.byteLength(JSON.stringify(record.record));
    if (batch.length > 0 && bytes >= MAX_UPLOAD_BYTES) break;
    batch.push(record);
  }
  return batch;
}

/**
 * Sends the SIEM outbox to Logs Ingestion, in the worker process (docs/audit.md, "SIEM forwarding"): a
 * loop, not a Temporal workflow, so forwarding adds no workflow history per event and keeps going while
 * Temporal is down. Per tenant, records go in outbox order; a failed send holds the tenant's later
 * records back until it succeeds. Nothing here is on the path of an API request or a rollout.
 */
export class SiemForwarder {
  private readonly now: () => Date;
  private running: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private anchoredDay: string | undefined;

  constructor(private readonly options: SiemForwarderOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** Runs passes until `stop()`; a pass that fails (the database is down) is logged and retried later. */
  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      let sent = 0;
      try {
        sent = await this.forwardOnce();
      } catch (error) {
        this.options.logger.warn({ err: error }, 'SIEM forwarding pass failed');
      }
      if (sent === 0) await pause(this.options.pollIntervalMs, signal);
    }
  }

  /** One pass: queues the day's chain anchors (once a day), then one batch per tenant that is due. Returns records sent. */
  async forwardOnce(): Promise<number> {
    const at = this.now();
    const day = utcDay(at);
    if (this.anchoredDay !== day) {
      await this.options.outbox.queueChainAnchors(day, at);
      this.anchoredDay = day;
    }
    let sent = 0;
    for (const tenantId of await this.options.outbox.tenantsWithBacklog()) {
      sent += await this.forwardTenant(tenantId);
    }
    return sent;
  }

  private async forwardTenant(tenantId: string): Promise<number> {
    const claimed = await this.options.outbox.claim(tenantId, this.options.batchSize, this.options.leaseMs);
    if (claimed.length === 0) return 0;
    const batch = fittingPrefix(claimed);
    await this.options.outbox.release(claimed.slice(batch.length).map((row) => row.id));
    const headAttempts = claimed[0]?.attempts ?? 0;
    return this.send(tenantId, batch, headAttempts);
  }

  /** Sends `batch` in order; a 413 halves it. Returns records sent; the first unsent record and its followers wait. */
  private async send(tenantId: string, batch: ClaimedSiemRecord[], headAttempts: number): Promise<number> {
    const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.options.leaseMs / 2)]);
    try {
      await this.options.uploader.upload(
        batch.map((row) => row.record),
        signal,
      );
    } catch (error) {
      const failure = failureOf(error);
      if (failure.status === 413 && batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        const first = await this.send(tenantId, batch.slice(0, half), headAttempts);
        return first < half ? first : first + (await this.send(tenantId, batch.slice(half), headAttempts));
      }
      const delayMs = siemRetryDelayMs(headAttempts + 1, {
        ...this.options.retry,
        ...(failure.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs }),
      });
      await this.options.outbox.markFailed(
        batch.map((row) => row.id),
        failure.message,
        delayMs,
      );
      this.options.logger.warn(
        { tenant: tenantId, records: batch.length, status: failure.status, retryInMs: delayMs, err: error },
        'SIEM upload failed; the tenant’s records wait',
      );
      return 0;
    }
    await this.options.outbox.markSent(batch.map((row) => row.id));
    return batch.length;
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
