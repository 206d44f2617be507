import { randomBytes } from 'node:crypto';
import type { TenantStore } from '../../db/tenant-store';
import type { ConnectorCredentialRow } from '../../db/repositories/connector-credentials';
import type { ConnectorType } from '../../policy/connectors';
import { KEY_PREFIXES, hashConnectorKey } from '../middleware/authentication';
import { problems } from '../problem';
import type { Actor } from '../request-context';

/** A connector's key reports for one connector type; a metrics key only reads the tenant's metrics. */
export type CredentialRequest = (
  | { readonly scope: 'connector'; readonly connectorType: ConnectorType; readonly name: string }
  | { readonly scope: 'metrics'; readonly name: string }
) & {
  /** When the key stops working; null or absent: until revoked. */
  readonly expiresAt?: Date | null;
};

/**
 * API keys for machines: 32 random bytes behind a prefix naming their scope, shown once at issue; only
 * their SHA-256 is stored, so a database read never yields a usable key.
 */
export async function issueConnectorCredential(
  store: TenantStore,
  actor: Actor,
  requestId: string | null,
  request: CredentialRequest,
): Promise<{ credential: ConnectorCredentialRow; apiKey: string }> {
  const apiKey = `${KEY_PREFIXES[request.scope]}${randomBytes(32).toString('base64url')}`;
  return store.transaction(async (tx) => {
    const credential = await tx.connectorCredentials.create({
      scope: request.scope,
      connectorType: request.scope === 'connector' ? request.connectorType : null,
      name: request.name,
      keyHash: hashConnectorKey(apiKey),
      createdBy: actor.id,
      expiresAt: request.expiresAt ?? null,
    });
    if (credential === undefined) {
      throw problems.conflict('credential-name-taken', `a connector credential named ${request.name} exists`);
    }
    await tx.events.append({
      eventKey: `connector-credential:${credential.id}:issued`,
      eventType: 'CONNECTOR_CREDENTIAL_ISSUED',
      intentId: null,
      // A credential's events are correlated by its id: issue and revocation line up.
      correlationId: credential.id,
      requestId,
      actor: actor.id,
      payload: {
        credentialId: credential.id,
        scope: credential.scope,
        connectorType: credential.connectorType,
        name: credential.name,
        expiresAt: credential.expiresAt?.toISOString() ?? null,
      },
      occurredAt: credential.createdAt,
    });
    return { credential, apiKey };
  });
}

export async function revokeConnectorCredential(
  store: TenantStore,
  actor: Actor,
  requestId: string | null,
  id: string,
): Promise<ConnectorCredentialRow> {
  return store.transaction(async (tx) => {
    const revoked = await tx.connectorCredentials.revoke(id, new Date());
    if (revoked === undefined) throw problems.notFound(`an active connector credential ${id}`);
    await tx.events.append({
      eventKey: `connector-credential:${revoked.id}:revoked`,
      eventType: 'CONNECTOR_CREDENTIAL_REVOKED',
      intentId: null,
      correlationId: revoked.id,
      requestId,
      actor: actor.id,
      payload: {
        credentialId: revoked.id,
        scope: revoked.scope,
        connectorType: revoked.connectorType,
        name: revoked.name,
      },
    });
    return revoked;
  });
}
