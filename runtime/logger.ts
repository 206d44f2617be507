import { DrizzleQueryError } from 'drizzle-orm';
import pino from 'pino';
import type { Logger } from 'pino';
import { currentLogContext } from './correlation';

export type { Logger } from 'pino';

/** Paths never written to a log line, whatever logs them. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.secret',
  '*.apiKey',
  '*.api_key',
  '*.token',
  '*.clientSecret',
  '*.sessionSecret',
];

/** Fields of driver errors worth a log line; a server's `detail` and a query's parameters are not (they quote values). */
const SAFE_ERROR_FIELDS = [
  'code',
  'details',
  'severity',
  'constraint',
  'table',
  'column',
  'routine',
  'status',
];

/**
 * The `err` of a log line: class, message, code, stack and cause chain. A failed query keeps its SQL
 * (placeholders only) and loses its parameters, which can be secrets (key hashes) or personal data.
 */
export function serializeError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error)) return error;
  const safeMessage = error instanceof DrizzleQueryError ? `Failed query: ${error.query}` : error.message;
  const serialized: Record<string, unknown> = {
    type: error.name,
    message: safeMessage,
    stack: error.stack?.replace(error.message, safeMessage),
  };
  for (const field of SAFE_ERROR_FIELDS) {
    const value: unknown = (error as unknown as Record<string, unknown>)[field];
    if (typeof value === 'string' || typeof value === 'number') serialized[field] = value;
  }
  if (error.cause !== undefined && depth < 5) serialized.cause = serializeError(error.cause, depth + 1);
  return serialized;
}

/** JSON logs; every line carries the request id and the intent's correlation id of the work it belongs to. */
export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'eucora' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: { err: serializeError },
      mixin() {
        return { ...currentLogContext() };
      },
    },
    options.destination,
  );
}
