import { z } from 'zod';
import type { ConnectorCredentialRow } from '../../db/repositories/connector-credentials';
import { CREDENTIAL_SCOPES } from '../../db/schema';
import { endpoint, roles } from '../endpoint';
import type { Endpoint } from '../endpoint';
import { idParams, isoDate, requireActor } from '../schemas/common';
import { connectorTypeSchema } from '../schemas/connectors';
import { problems } from '../problem';
import { issueConnectorCredential, revokeConnectorCredential } from '../services/connector-credentials';

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
  // The refinement above, as the document states it (scope defaults to connector).
  .meta({
    id: 'ConnectorCredentialRequest',
    oneOf: [
      {
        properties: { scope: { const: 'metrics' } },
        required: ['scope'],
        not: { required: ['connector_type'] },
      },
      { properties: { scope: { const: 'connector' } }, required: ['connector_type'] },
    ],
  });

const credentialFields = {
  id: z.uuid(),
  name: z.string(),
  scope: scopeSchema,
  connector_type: connectorTypeSchema.nullable().describe('null for metrics keys'),
  key_fingerprint: z
    .string()
    .regex(/^[0-9a-f]{12}$/)
    .describe('the first 12 hex digits of the SHA-256 of the key: tells which credential a key you hold is'),
  created_at: z.iso.datetime(),
  expires_at: z.iso.datetime().nullable().describe('null: works until revoked'),
};

const issuedCredentialSchema = z
  .object({
    ...credentialFields,
    api_key: z
      .string()
      .optional()
      .describe(
        'shown this once: send it as `Authorization: Bearer <api_key>`; only its SHA-256 is kept. A replay ' +
          'of the request (Idempotent-Replayed: true) answers the same credential without it, since it is ' +
          'stored nowhere: compare `key_fingerprint` with the key you kept, and if you kept none, revoke ' +
          'this credential and issue another.',
      ),
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
    key_fingerprint: row.keyHash.slice(0, 12),
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
export function connectorCredentialEndpoints(): Endpoint[] {
  return [
    endpoint({
      operationId: 'issueConnectorCredential',
      method: 'post',
      path: '/connector-credentials',
      summary: 'Issue an API key for a connector or a metrics scraper',
      description:
        'The key is in this answer only; it cannot be read back, and a replay with the same Idempotency-Key ' +
        'answers without it (the key is never stored, not even for a replay). Audited.',
      tags: ['Connector credentials'],
      access: roles(),
      idempotency: 'transactional',
      request: { body: issueCredentialSchema },
      responses: { 201: { description: 'Issued', schema: issuedCredentialSchema } },
      errors: [409],
      async handle({ body, actor, requestId, tenantStore }) {
        const caller = requireActor(actor);
        const expiresAt = body.expires_at === undefined ? null : new Date(body.expires_at);
        if (expiresAt !== null && expiresAt.getTime() <= Date.now()) {
          throw problems.validation([{ field: 'expires_at', in: 'body', message: 'must be in the future' }]);
        }
        const { credential, apiKey } = await issueConnectorCredential(
          tenantStore(),
          caller,
          requestId,
          // The schema's refinement guarantees connector_type exactly for connector keys.
          body.scope === 'connector' && body.connector_type !== undefined
            ? { scope: 'connector', connectorType: body.connector_type, name: body.name, expiresAt }
            : { scope: 'metrics', name: body.name, expiresAt },
        );
        const identity = credentialIdentity(credential);
        return { status: 201, body: { ...identity, api_key: apiKey }, replayBody: identity };
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
      async handle({ tenantStore }) {
        const rows = await tenantStore().connectorCredentials.list();
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
      idempotency: 'transactional',
      request: { params: idParams },
      responses: { 204: { description: 'Revoked' } },
      errors: [404],
      async handle({ params, actor, requestId, tenantStore }) {
        const caller = requireActor(actor);
        await revokeConnectorCredential(tenantStore(), caller, requestId, params.id);
        return { status: 204 };
      },
    }),
  ];
}
