import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { SiemOutboxRepository } from '../../db/repositories/siem-outbox';
import { createLogger } from '../../runtime/logger';
import { SiemForwarder, logsIngestionUploader } from '../../runtime/siem-forwarder';
import type { LogsIngestionAccess } from '../../runtime/siem-forwarder';
import type { TestCertificates } from './test-ca';

const ACCESS_TOKEN = 'monitor-access-token-for-tests';
export const FAKE_RULE_ID = 'dcr-00000000000000000000000000000000';
export const FAKE_STREAM = 'Custom-EucoraAudit_CL';

/** An answer the endpoint gives instead of 204: a status (with Retry-After seconds for 429), or a refused connection. */
export type IngestionFault =
  | { readonly status: 413 | 500 | 503 }
  | { readonly status: 429; readonly retryAfterSeconds: number }
  | { readonly refuse: true }
  /** The records arrive (and count as received) but no answer ever comes: the sender dies or times out waiting. */
  | { readonly stall: true };

export interface FakeLogsIngestion {
  readonly endpoint: string;
  /** Every record accepted (204), in the order they arrived. */
  readonly received: Record<string, unknown>[];
  /** Every upload call: the records it carried and the status answered (0: connection refused, -1: no answer). */
  readonly calls: { readonly records: number; readonly status: number }[];
  /** Faults to answer, one per call, before answering normally again. */
  readonly faults: IngestionFault[];
  /** While set, every call gets this fault. */
  outage: IngestionFault | undefined;
  /** Uploads of more records than this are answered 413 (the payload is too large). */
  maxRecordsPerCall: number;
  readonly access: LogsIngestionAccess;
  close(): Promise<void>;
}

/**
 * Azure Monitor Logs Ingestion has no local emulator. This is a local HTTPS endpoint implementing the
 * documented upload call the real `@azure/monitor-ingestion` client makes:
 * `POST {endpoint}/dataCollectionRules/{ruleId}/streams/{stream}?api-version=2023-01-01` with a bearer
 * token and a gzip-compressed JSON array, answered `204 No Content`; on demand it answers 413 (payload
 * too large), 429 with `Retry-After`, 500 or 503, or drops the connection.
 */
export async function startFakeLogsIngestion(certificates: TestCertificates): Promise<FakeLogsIngestion> {
  const received: Record<string, unknown>[] = [];
  const calls: { records: number; status: number }[] = [];
  const state = {
    faults: [] as IngestionFault[],
    outage: undefined as IngestionFault | undefined,
    maxRecordsPerCall: Number.POSITIVE_INFINITY,
  };
  const sockets = new Set<Socket>();

  const server = https.createServer({ key: certificates.key, cert: certificates.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://ingestion.local');
      const json = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(body === undefined ? undefined : JSON.stringify(body));
      };
      const path = `/dataCollectionRules/${FAKE_RULE_ID}/streams/${FAKE_STREAM}`;
      if (req.method !== 'POST' || decodeURIComponent(url.pathname) !== path) {
        json(404, { error: { code: 'NotFound', message: `no stream at ${url.pathname}` } });
        return;
      }
      if (url.searchParams.get('api-version') !== '2023-01-01') {
        json(400, { error: { code: 'InvalidApiVersion', message: 'api-version 2023-01-01 expected' } });
        return;
      }
      if (req.headers.authorization !== `Bearer ${ACCESS_TOKEN}`) {
        json(401, { error: { code: 'InvalidToken', message: 'bearer token missing or wrong' } });
        return;
      }
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const records = JSON.parse(body.toString('utf8')) as unknown;
      if (!Array.isArray(records)) {
        json(400, { error: { code: 'InvalidPayload', message: 'a JSON array expected' } });
        return;
      }
      const fault = state.faults.shift() ?? state.outage;
      if (fault !== undefined && 'refuse' in fault) {
        calls.push({ records: records.length, status: 0 });
        req.socket.destroy();
        return;
      }
      if (fault !== undefined && 'stall' in fault) {
        calls.push({ records: records.length, status: -1 });
        received.push(...(records as Record<string, unknown>[]));
        return;
      }
      let status = fault?.status ?? 204;
      if (status === 204 && records.length > state.maxRecordsPerCall) status = 413;
      calls.push({ records: records.length, status });
      if (status === 204) {
        received.push(...(records as Record<string, unknown>[]));
        res.writeHead(204);
        res.end();
        return;
      }
      json(
        status,
        { error: { code: `Status${String(status)}`, message: `the endpoint answers ${String(status)}` } },
        fault !== undefined && 'retryAfterSeconds' in fault
          ? { 'retry-after': String(fault.retryAfterSeconds) }
          : {},
      );
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `https://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  const agent = new https.Agent({ ca: certificates.ca });

  return Object.assign(state, {
    endpoint,
    received,
    calls,
    access: {
      credential: {
        getToken: () => Promise.resolve({ token: ACCESS_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }),
      },
      clientOptions: { agent },
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        for (const socket of sockets) socket.destroy();
      }),
  });
}

/** The static token the fake endpoint accepts (for a child process that builds its own credential). */
export const FAKE_INGESTION_TOKEN = ACCESS_TOKEN;

/** A forwarder of `outbox` to this endpoint, polling and retrying quickly as tests want it. */
export function forwarderTo(
  ingestion: FakeLogsIngestion,
  outbox: SiemOutboxRepository,
  options: { readonly batchSize?: number; readonly retry?: { baseMs: number; maxMs: number } } = {},
): SiemForwarder {
  return new SiemForwarder({
    outbox,
    uploader: logsIngestionUploader(
      { ingestionEndpoint: ingestion.endpoint, ruleId: FAKE_RULE_ID, stream: FAKE_STREAM },
      ingestion.access,
    ),
    logger: createLogger({ level: 'silent' }),
    batchSize: options.batchSize ?? 100,
    pollIntervalMs: 20,
    retry: options.retry ?? { baseMs: 1, maxMs: 1 },
    leaseMs: 60_000,
  });
}
