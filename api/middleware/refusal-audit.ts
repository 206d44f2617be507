import { randomUUID } from 'node:crypto';
import type { ErrorRequestHandler, Request } from 'express';
import { UNAUTHENTICATED_TENANT } from '../../db/tenant-id';
import type { DataStore } from '../../db/tenant-store';
import type { Logger } from '../../runtime/logger';
import { ProblemError, problems } from '../problem';
import type { RateLimiters } from '../rate-limits';

/** The audit event of every refusal (401, 403); the SIEM forwarder keys on this type. */
export const AUTHZ_DENIED = 'AUTHZ_DENIED';

/** Paths come from the request: kept short so a refusal row stays small whatever was sent. */
const MAX_TEXT = 512;

/** The operation a refusal concerns: its operationId once routed, else the method and path. */
export function operationOf(req: Request): string {
  const operationId: unknown = req.res?.locals.operationId;
  return typeof operationId === 'string' ? operationId : `${req.method} ${req.path}`;
}

/**
 * Records every 401 and 403 as one AUTHZ_DENIED event before the refusal is answered: in the caller's
 * tenant trail, or, for a caller with no identity, under the reserved UNAUTHENTICATED_TENANT. A refused
 * sign-in is that one event too, its subject (person, application, directory, reason) from the error. Each caller
 * (an identity, else a client address) and all anonymous callers together have a refusal budget per window;
 * past it the request is answered 429 and not written, so refusals cannot be turned into a write flood.
 */
export function refusalAudit(options: {
  readonly store: DataStore;
  readonly limits: Pick<RateLimiters, 'admitRefusal'>;
  readonly logger: Logger;
}): ErrorRequestHandler {
  return async (error: unknown, req, _res, next) => {
    if (!(error instanceof ProblemError) || (error.status !== 401 && error.status !== 403)) {
      next(error);
      return;
    }
    const throttled = await options.limits.admitRefusal(req);
    if (throttled !== undefined) {
      next(throttled);
      return;
    }
    const actor = req.actor;
    const subject = error.subject;
    const actorId = subject?.actor ?? actor?.id ?? 'anonymous';
    const operation = operationOf(req).slice(0, MAX_TEXT);
    const reason = (error.detail ?? error.title).slice(0, MAX_TEXT);
    // One row per refusal, under ids the server makes: nothing from the request selects or dedupes it.
    const refusalId = randomUUID();
    try {
      await options.store
        .forTenant(subject?.tenantId ?? actor?.tenantId ?? UNAUTHENTICATED_TENANT)
        .events.append({
          eventKey: `authz-denied:${refusalId}`,
          eventType: AUTHZ_DENIED,
          intentId: null,
          correlationId: refusalId,
          requestId: req.requestId,
          actor: actorId,
          payload: {
            operation,
            status: error.status,
            problemType: error.type,
            reason,
            actorKind: subject?.actorKind ?? actor?.kind ?? 'anonymous',
            method: req.method,
            path: req.path.slice(0, MAX_TEXT),
            clientAddress: req.ip ?? null,
            ...(subject?.signIn === undefined ? {} : { signIn: subject.signIn }),
          },
        });
    } catch (failure) {
      next(
        problems.unavailable(`the refusal of ${operation} could not be recorded; try again shortly`, failure),
      );
      return;
    }
    options.logger.warn(
      { event: AUTHZ_DENIED, operation, status: error.status, actor: actorId, reason },
      'request refused',
    );
    next(error);
  };
}
