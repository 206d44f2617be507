import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { runWithCorrelationId } from '../../runtime/correlation';

export const CORRELATION_HEADER = 'X-Correlation-ID';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/**
 * Takes the caller's correlation id when it is a UUID (anything else could smuggle text into logs),
 * otherwise makes one; echoes it on the response and binds it to every log line of the request.
 */
export function correlationId(): RequestHandler {
  return (req, res, next) => {
    const offered = req.get(CORRELATION_HEADER);
    const id = offered !== undefined && UUID.test(offered) ? offered.toLowerCase() : randomUUID();
    req.correlationId = id;
    res.setHeader(CORRELATION_HEADER, id);
    runWithCorrelationId(id, next);
  };
}
