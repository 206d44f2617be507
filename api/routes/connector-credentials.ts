import { z } from 'zod';
import type { ConnectorCredentialRow } from '../../db/repositories/connector-credentials';
import { CREDENTIAL_SCOPES } from '../../db/schema';
import { endpoint, roles } from '../endpoint';
import type { Endpoint } from '../endpoint';
import { idParams, isoDate, requireActor } from '../schemas/common';
import { connectorTypeSchema } from '../schemas/connectors';
import { problems } from '../problem';
import { issueConnectorCredential, revokeConnectorCredential } from '../services/connector-credentials';
import type { RouteDependencies } from './dependencies';

const scopeSchema = z
  .enum(CREDENTIAL_SCOPES)
  .describe(
    '`connector` (the default): reports for `connector_type` at the connector endpoints. ' +
      '`metrics`: reads this tenant’s `/metrics` only, for a Prometheus scrape job.',
  );

const issueCredentialSchema = z
  .strictObject({
    scope: scopeSchema.default('connector'),
    connector_type: connectorTypeSchema
      .optional()
      .describe('required for connector keys, absent for metrics keys'),
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits and . _ - only, 1 to 100')
      .describe('unique within the tenant; audit entries name the connector or scraper by it'),
    expires_at: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('when the key stops working (answered 401 like a revoked one); absent: until revoked'),
  })
  .superRefine((body, ctx) => {
    if (body.scope === 'connector' && body.connector_type === undefined) {
      ctx.addIssue({ code: 'custom', path: ['connector_type'], message: 'required for a connector key' });
    }
    if (body.scope === 'metrics' && body.connector_type !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['connector_type'],
        message: 'a metrics key has no connector type',
      });
    }
  })
  .meta({ id: 'ConnectorCredentialRequest' });

const credentialFields = {
  id: z.uuid(),
  name: z.string(),
  scope: scopeSchema,
  connector_type: connectorTypeSchema.nullable().describe('null for metrics keys'),
  created_at: z.iso.datetime(),
  expires_at: z.iso.datetime().nullable().describe('null: works until revoked'),
};

const issuedCredentialSchema = z
  .object({
    ...credentialFields,
    api_key: z
      .string()
      .describe('shown this once: send it as `Authorization: Bearer <api_key>`; only its SHA-256 is kept'),
  })
  .meta({ id: 'IssuedConnectorCredential' });

const credentialSchema = z
  .object({
    ...credentialFields,
    created_by: z.string(),
    last_used_at: z.iso.datetime().nullable().describe('to the minute'),
    revoked_at: z.iso.datetime().nullable(),
  })
  .meta({ id: 'ConnectorCredential' });

const credentialListSchema = z
  .object({ items: z.array(credentialSchema) })
  .meta({ id: 'ConnectorCredentialList' });

/** The fields the issue answer and the listing share. */
function credentialIdentity(row: ConnectorCredentialRow) {
  return {
    id: row.id,
    name: row.name,
    scope: row.scope,
    connector_type: row.connectorType === null ? null : connectorTypeSchema.parse(row.connectorType),
    created_at: row.createdAt.toISOString(),
    expires_at: isoDate(row.expiresAt),
  };
}

function credentialBody(row: ConnectorCredentialRow): z.infer<typeof credentialSchema> {
  return {
    ...credentialIdentity(row),
    created_by: row.createdBy,
    last_used_at: isoDate(row.lastUsedAt),
    revoked_at: isoDate(row.revokedAt),
  };
}

/**
 * Admin-only issue, listing and revocation of API keys for machines (connectors and metrics scrapers);
 * the service audits each change.
 */
export function connectorCredentialEndpoints(deps: RouteDependencies): Endpoint[] {
  return [
    endpoint({
      operationId: 'issueConnectorCredential',
      method: 'post',
      path: '/connector-credentials',
      summary: 'Issue an API key for a connector or a metrics scraper',
      description: 'The key is in this answer only; it cannot be read back. Audited.',
      tags: ['Connector credentials'],
      access: roles(),
      request: { body: issueCredentialSchema },
      responses: { 201: { description: 'Issued', schema: issuedCredentialSchema } },
      errors: [409],
      async handle({ body, actor, requestId }) {
        const caller = requireActor(actor);
        const expiresAt = body.expires_at === undefined ? null : new Date(body.expires_at);
        if (expiresAt !== null && expiresAt.getTime() <= Date.now()) {
          throw problems.validation([{ field: 'expires_at', in: 'body', message: 'must be in the future' }]);
        }
        const { credential, apiKey } = await issueConnectorCredential(
          deps.store.forTenant(caller.tenantId),
          caller,
          requestId,
          // The schema's refinement guarantees connector_type exactly for connector keys.
          body.scope === 'connector' && body.connector_type !== undefined
            ? { scope: 'connector', connectorType: body.connector_type, name: body.name, expiresAt }
            : { scope: 'metrics', name: body.name, expiresAt },
        );
        return { status: 201, body: { ...credentialIdentity(credential), api_key: apiKey } };
      },
    }),
    endpoint({
      operationId: 'listConnectorCredentials',
      method: 'get',
      path: '/connector-credentials',
      summary: 'API credentials of the tenant, revoked ones included (never their keys)',
      tags: ['Connector credentials'],
      access: roles(),
      responses: { 200: { description: 'Oldest first', schema: credentialListSchema } },
      async handle({ actor }) {
        const caller = requireActor(actor);
        const rows = await deps.store.forTenant(caller.tenantId).connectorCredentials.list();
        return { status: 200, body: { items: rows.map(credentialBody) } };
      },
    }),
    endpoint({
      operationId: 'revokeConnectorCredential',
      method: 'delete',
      path: '/connector-credentials/{id}',
      summary: 'Revoke an API key',
      description: 'From now on the key is answered with 401. Audited.',
      tags: ['Connector credentials'],
      access: roles(),
      request: { params: idParams },
      responses: { 204: { description: 'Revoked' } },
      errors: [404],
      async handle({ params, actor, requestId }) {
        const caller = requireActor(actor);
        await revokeConnectorCredential(deps.store.forTenant(caller.tenantId), caller, requestId, params.id);
        return { status: 204 };
      },
    }),
  ];
}
