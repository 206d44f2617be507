import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { DataStore } from '../../db/tenant-store';
import { asTenantId } from '../../db/tenant-id';
import { isConnectorType } from '../../policy/connectors';
import { problems } from '../problem';
import { ROLES } from '../request-context';
import type { Role } from '../request-context';

export const CONNECTOR_KEY_PREFIX = 'eucora_ck_';

export function hashConnectorKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function knownRoles(values: readonly string[]): Role[] {
  return values.filter((value): value is Role => (ROLES as readonly string[]).includes(value));
}

/**
 * Establishes `req.actor`: a connector by its API key (`Authorization: Bearer eucora_ck_…`), or a user
 * by the session. Says nothing about what the actor may do: each endpoint declares that.
 */
export function authentication(store: DataStore): RequestHandler {
  return async (req, _res, next) => {
    const header = req.get('authorization');
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      const key = match?.[1];
      if (key?.startsWith(CONNECTOR_KEY_PREFIX) !== true) {
        throw problems.unauthenticated('the Authorization header carries no connector API key');
      }
      const credential = await store.findConnectorCredential(hashConnectorKey(key));
      if (credential === undefined || !isConnectorType(credential.connectorType)) {
        throw problems.unauthenticated('the connector API key is unknown or revoked');
      }
      const tenantId = asTenantId(credential.tenantId);
      await store.forTenant(tenantId).connectorCredentials.recordUse(credential, new Date());
      req.actor = {
        tenantId,
        id: `connector:${credential.name}`,
        displayName: credential.name,
        roles: ['connector'],
        kind: 'connector',
        connectorType: credential.connectorType,
      };
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
