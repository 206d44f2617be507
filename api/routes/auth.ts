import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { asTenantId } from '../../db/tenant-id';
import type { DataStore } from '../../db/tenant-store';
import { anyAuthenticated, endpoint, publicAccess } from '../endpoint';
import type { Endpoint } from '../endpoint';
import { problems } from '../problem';
import { ROLES } from '../request-context';
import { endUserSession, startUserSession } from '../session';

export const actorSchema = z
  .object({
    id: z.string(),
    display_name: z.string(),
    tenant_id: z.string(),
    kind: z.enum(['user', 'connector', 'service']),
    roles: z.array(z.enum(ROLES)),
    connector_type: z.string().optional(),
  })
  .meta({ id: 'Actor' });

const devLoginSchema = z
  .strictObject({
    username: z
      .string()
      .regex(/^[A-Za-z0-9._@+-]{1,128}$/, 'letters, digits and . _ @ + - only, at most 128'),
    display_name: z.string().trim().min(1).max(200).optional(),
    roles: z
      .array(z.enum(ROLES).exclude(['connector', 'metrics_reader']))
      .min(1)
      .max(5),
    tenant_id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/)
      .optional(),
  })
  .meta({ id: 'DevLogin' });

export function authEndpoints(options: {
  store: DataStore;
  devLogin: boolean;
  defaultTenantId: string;
}): Endpoint[] {
  const endpoints: Endpoint[] = [
    endpoint({
      operationId: 'getCurrentActor',
      method: 'get',
      path: '/auth/me',
      summary: 'Who the caller is',
      tags: ['Auth'],
      access: anyAuthenticated,
      responses: { 200: { description: 'The authenticated caller', schema: actorSchema } },
      handle({ actor }) {
        if (actor === undefined) throw problems.unauthenticated();
        return Promise.resolve({
          status: 200,
          body: {
            id: actor.id,
            display_name: actor.displayName,
            tenant_id: actor.tenantId,
            kind: actor.kind,
            roles: actor.roles,
            ...(actor.connectorType === undefined ? {} : { connector_type: actor.connectorType }),
          },
        });
      },
    }),
    endpoint({
      operationId: 'logout',
      method: 'post',
      path: '/auth/logout',
      summary: 'End the session',
      tags: ['Auth'],
      access: publicAccess,
      responses: { 204: { description: 'Signed out' } },
      async handle({ req }) {
        await endUserSession(req);
        return { status: 204 };
      },
    }),
  ];
  if (!options.devLogin) return endpoints;
  return [
    ...endpoints,
    endpoint({
      operationId: 'devLogin',
      method: 'post',
      path: '/auth/dev-login',
      summary: 'Development sign-in (refused in production)',
      description:
        'Signs in as any user with any roles, without a password. Exists only when DEV_LOGIN is on, ' +
        'which configuration refuses when NODE_ENV=production.',
      tags: ['Auth'],
      access: publicAccess,
      rateLimit: 'sign-in',
      request: { body: devLoginSchema },
      responses: { 200: { description: 'Signed in', schema: actorSchema } },
      async handle({ body, req, requestId }) {
        const tenantId = asTenantId(body.tenant_id ?? options.defaultTenantId);
        const displayName = body.display_name ?? body.username;
        await startUserSession(req, { tenantId, id: body.username, displayName, roles: body.roles });
        const scope = options.store.forTenant(tenantId);
        const at = new Date();
        await scope.users.upsert({ subject: body.username, displayName, roles: body.roles, at });
        // Each sign-in is its own event: its key is the server's, never the caller's request id.
        const signIn = randomUUID();
        await scope.events.append({
          eventKey: `dev-login:${signIn}`,
          eventType: 'DEV_LOGIN',
          intentId: null,
          correlationId: signIn,
          requestId,
          actor: body.username,
          payload: { roles: body.roles },
          occurredAt: at,
        });
        return {
          status: 200,
          body: {
            id: body.username,
            display_name: displayName,
            tenant_id: tenantId,
            kind: 'user',
            roles: body.roles,
          },
        };
      },
    }),
  ];
}
