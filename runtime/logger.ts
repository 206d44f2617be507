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

/** JSON logs; every line carries the request id and the intent's correlation id of the work it belongs to. */
export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'eucora' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      mixin() {
        return { ...currentLogContext() };
      },
    },
    options.destination,
  );
}
