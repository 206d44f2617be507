import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { DataStore } from '../../db/tenant-store';
import { asTenantId } from '../../db/tenant-id';
import { CREDENTIAL_SCOPES } from '../../db/schema';
import type { CredentialScope } from '../../db/schema';
import { isConnectorType } from '../../policy/connectors';
import { looksLikeJwt } from '../identity/service-principals';
import { ProblemError } from '../problem';
import type { KeyFailureLimit } from '../rate-limits';
import { ROLES } from '../request-context';
import type { Role } from '../request-context';
import type { SignInService } from '../services/sign-in';

export const CONNECTOR_KEY_PREFIX = 'eucora_ck_';
export const METRICS_KEY_PREFIX = 'eucora_mk_';
/** The prefix of each scope's keys: readable in a config file, and matchable by secret scanners. */
export const KEY_PREFIXES: Record<CredentialScope, string> = {
  connector: CONNECTOR_KEY_PREFIX,
  metrics: METRICS_KEY_PREFIX,
};

function operationKey(method: string, path: string): string {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
  return `${method.toUpperCase()} ${trimmed}`;
}

/** The keys `authentication` recognises public operations by (HEAD with each GET); paths without parameters. */
export function publicOperationKeys(
  operations: readonly { readonly method: string; readonly path: string; readonly public: boolean }[],
): ReadonlySet<string> {
  const keys = new Set<string>();
  for (const operation of operations) {
    if (!operation.public) continue;
    if (operation.path.includes('{'))
      throw new Error(`public operation ${operation.path} has path parameters`);
    keys.add(operationKey(operation.method, operation.path));
    if (operation.method.toLowerCase() === 'get') keys.add(operationKey('head', operation.path));
  }
  return keys;
}

/**
 * Whether a request authenticates with its Authorization header (an API key or a token) rather than a
 * session: it carries one, to an operation that is not public. Such a request never reads the session,
 * so the session middleware is not run for it at all (`sessionUnlessCredential`).
 */
export function presentsCredential(req: Request, publicOperations: ReadonlySet<string>): boolean {
  return req.get('authorization') !== undefined && !publicOperations.has(operationKey(req.method, req.path));
}

/** The session middleware, for the requests that may use a session (see `presentsCredential`). */
export function sessionUnlessCredential(
  sessions: RequestHandler,
  publicOperations: ReadonlySet<string>,
): RequestHandler {
  return (req, res, next) => {
    if (presentsCredential(req, publicOperations)) {
      next();
      return;
    }
    void sessions(req, res, next);
  };
}

export function hashConnectorKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function scopeOfKey(key: string | undefined): CredentialScope | undefined {
  return key === undefined
    ? undefined
    : CREDENTIAL_SCOPES.find((scope) => key.startsWith(KEY_PREFIXES[scope]));
}

function knownRoles(values: readonly string[]): Role[] {
  return values.filter((value): value is Role => (ROLES as readonly string[]).includes(value));
}

/**
 * Establishes `req.actor`: a connector or a metrics scraper by its API key (`Authorization: Bearer
 * eucora_ck_…` or `eucora_mk_…`), a service principal by its Entra ID access token (`Bearer <JWT>`), or a
 * user by the session. Says nothing about what the actor may do: each endpoint declares that. A key that
 * fails leaves `req.authenticationFailure`, a token that fails `req.authenticationRefusal` (401, or 403 for
 * a directory or app roles EUCORA does not accept), for the operation to answer with (and audit once,
 * under its operationId); a client or key prefix with too many failures is answered 429 before its key is
 * even looked up.
 */
export function authentication(
  store: DataStore,
  keyFailures: KeyFailureLimit,
  signIn: SignInService,
  /** `METHOD /path` (below /api/v1) of the operations anyone may call: see `publicOperationKeys`. */
  publicOperations: ReadonlySet<string> = new Set(),
): RequestHandler {
  return async (req, _res, next) => {
    // A public operation needs no credential, so it reads none: an unrelated Authorization header (a load
    // balancer's, a gateway's) is neither checked nor counted as a failed key, and cannot turn it into a 401.
    const header = presentsCredential(req, publicOperations) ? req.get('authorization') : undefined;
    if (header !== undefined) {
      const throttled = await keyFailures.refusal(req);
      if (throttled !== undefined) throw throttled;
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      const key = match?.[1];
      const scope = scopeOfKey(key);
      if (key !== undefined && scope === undefined && looksLikeJwt(key)) {
        try {
          req.actor = await signIn.servicePrincipal(key, req.requestId);
        } catch (error) {
          if (!(error instanceof ProblemError) || (error.status !== 401 && error.status !== 403)) throw error;
          if (error.status === 401) await keyFailures.recordFailure(req);
          req.authenticationRefusal = error;
        }
        next();
        return;
      }
      const credential =
        key === undefined || scope === undefined
          ? undefined
          : await store.findConnectorCredential(hashConnectorKey(key));
      if (credential?.scope !== scope || credential === undefined) {
        await keyFailures.recordFailure(req);
        req.authenticationFailure =
          scope === undefined
            ? 'the Authorization header carries no EUCORA API key'
            : 'the API key is unknown, expired or revoked';
        next();
        return;
      }
      const tenantId = asTenantId(credential.tenantId);
      const common = { tenantId, displayName: credential.name };
      if (credential.scope === 'metrics') {
        req.actor = {
          ...common,
          id: `metrics:${credential.name}`,
          roles: ['metrics_reader'],
          kind: 'service',
        };
      } else if (credential.connectorType !== null && isConnectorType(credential.connectorType)) {
        req.actor = {
          ...common,
          id: `connector:${credential.name}`,
          roles: ['connector'],
          kind: 'connector',
          connectorType: credential.connectorType,
        };
      } else {
        await keyFailures.recordFailure(req);
        req.authenticationFailure = 'the API key is unknown or revoked';
        next();
        return;
      }
      await store.forTenant(tenantId).connectorCredentials.recordUse(credential, new Date());
      next();
      return;
    }
    const user = req.session.user;
    if (user !== undefined) {
      req.actor = {
        tenantId: asTenantId(user.tenantId),
        id: user.id,
        displayName: user.displayName,
        roles: knownRoles(user.roles),
        kind: 'user',
      };
    }
    next();
  };
}
