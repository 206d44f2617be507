import { randomBytes } from 'node:crypto';
import type { TenantStore } from '../../db/tenant-store';
import type { ConnectorCredentialRow } from '../../db/repositories/connector-credentials';
import type { ConnectorType } from '../../policy/connectors';
import { CONNECTOR_KEY_PREFIX, hashConnectorKey } from '../middleware/authentication';
import { problems } from '../problem';
import type { Actor } from '../request-context';

/**
 * Connector API keys: 32 random bytes, shown once at issue; only their SHA-256 is stored, so a
 * database read never yields a usable key.
 */
export async function issueConnectorCredential(
  store: TenantStore,
  actor: Actor,
  correlationId: string,
  request: { connectorType: ConnectorType; name: string },
): Promise<{ credential: ConnectorCredentialRow; apiKey: string }> {
  const apiKey = `${CONNECTOR_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return store.transaction(async (tx) => {
    const credential = await tx.connectorCredentials.create({
      connectorType: request.connectorType,
      name: request.name,
      keyHash: hashConnectorKey(apiKey),
      createdBy: actor.id,
    });
    if (credential === undefined) {
      throw problems.conflict('credential-name-taken', `a connector credential named ${request.name} exists`);
    }
    await tx.events.append({
      eventKey: `connector-credential:${credential.id}:issued`,
      eventType: 'CONNECTOR_CREDENTIAL_ISSUED',
      intentId: null,
      correlationId,
      actor: actor.id,
      payload: {
        credentialId: credential.id,
        connectorType: credential.connectorType,
        name: credential.name,
      },
      occurredAt: credential.createdAt,
    });
    return { credential, apiKey };
  });
}

export async function revokeConnectorCredential(
  store: TenantStore,
  actor: Actor,
  correlationId: string,
  id: string,
): Promise<ConnectorCredentialRow> {
  return store.transaction(async (tx) => {
    const revoked = await tx.connectorCredentials.revoke(id, new Date());
    if (revoked === undefined) throw problems.notFound(`an active connector credential ${id}`);
    await tx.events.append({
      eventKey: `connector-credential:${revoked.id}:revoked`,
      eventType: 'CONNECTOR_CREDENTIAL_REVOKED',
      intentId: null,
      correlationId,
      actor: actor.id,
      payload: { credentialId: revoked.id, connectorType: revoked.connectorType, name: revoked.name },
    });
    return revoked;
  });
}
