import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { runWithRequestId } from '../../runtime/correlation';

/** The header a caller names its request with; the seed's name for it, kept for its scripts. */
export const REQUEST_ID_HEADER = 'X-Correlation-ID';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/**
 * The request id: the caller's X-Correlation-ID when it is a UUID (anything else could smuggle text into
 * logs), otherwise a fresh one. It traces the request (logs, `request_id` on the events it causes) and
 * never selects or deduplicates anything: an intent's correlation id is the server's own.
 */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const offered = req.get(REQUEST_ID_HEADER);
    const id = offered !== undefined && UUID.test(offered) ? offered.toLowerCase() : randomUUID();
    req.requestId = id;
    res.setHeader(REQUEST_ID_HEADER, id);
    runWithRequestId(id, next);
  };
}
