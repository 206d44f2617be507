import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Request } from 'express';
import { asTenantId } from '../../db/tenant-id';
import type { DataStore } from '../../db/tenant-store';
import { sameOriginPath } from '../../policy/return-to';
import { nonBlankText, text } from '../../policy/text';
import { anyAuthenticated, endpoint, publicAccess } from '../endpoint';
import type { Endpoint } from '../endpoint';
import type { EntraIdentity } from '../identity/entra';
import { problems } from '../problem';
import { ROLES } from '../request-context';
import type { SignInService, SignedInUser } from '../services/sign-in';
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

const signInOptionsSchema = z
  .object({
    dev_login: z.boolean().describe('whether `POST /auth/dev-login` exists (never in production)'),
    entra: z
      .object({ login_url: z.literal('/api/v1/auth/login').describe('send the browser here to sign in') })
      .nullable()
      .describe('Entra ID sign-in, or null when it is not configured'),
  })
  .meta({ id: 'SignInOptions' });

const devLoginSchema = z
  .strictObject({
    username: z
      .string()
      .regex(/^[A-Za-z0-9._@+-]{1,128}$/, 'letters, digits and . _ @ + - only, at most 128'),
    display_name: nonBlankText(200).optional(),
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

const signInStartQuery = z.strictObject({
  return_to: text()
    .max(2048)
    .optional()
    .describe('a path on this origin to land on after signing in, e.g. `/console/cab`; default `/`'),
});

/** What the provider sends back (RFC 6749 §4.1.2); providers add their own parameters, which are ignored. */
const callbackQuery = z.object({
  code: text().min(1).max(4096).optional(),
  state: text().min(1).max(512).optional(),
  error: text().max(256).optional(),
  error_description: text().max(4096).optional(),
});

const codeRedemptionSchema = z
  .strictObject({
    code: text().min(1).max(4096).describe('the authorization code the provider sent the front end'),
    code_verifier: text()
      .min(43)
      .max(128)
      .optional()
      .describe('the PKCE verifier the front end used, if it sent a code challenge'),
    nonce: text()
      .min(1)
      .max(512)
      .optional()
      .describe('the nonce the front end sent in its authorization request; required when it sent one'),
    redirect_uri: z
      .url()
      .max(2048)
      .pipe(text())
      .describe('the redirect URI the code was issued for; it must be on this origin'),
  })
  .meta({ id: 'CodeRedemption' });

const PENDING_SIGN_IN_TTL_MS = 10 * 60_000;
/** Sign-ins one browser may have open at once (tabs); the oldest is dropped beyond that. */
const MAX_PENDING_SIGN_INS = 5;

function actorBody(user: SignedInUser) {
  return {
    id: user.id,
    display_name: user.displayName,
    tenant_id: user.tenantId,
    kind: 'user' as const,
    roles: user.roles,
  };
}

/** Takes (and so uses up) the pending sign-in a callback's state names, if it is this browser's and fresh. */
function takePendingSignIn(req: Request, state: string | undefined) {
  const pending = req.session.signIns ?? {};
  const entry = state === undefined ? undefined : pending[state];
  if (state !== undefined && entry !== undefined) {
    req.session.signIns = Object.fromEntries(Object.entries(pending).filter(([key]) => key !== state));
  }
  if (entry === undefined || Date.now() - entry.startedAt > PENDING_SIGN_IN_TTL_MS) return undefined;
  return entry;
}

const redirectHeaders = {
  Location: { description: 'where the browser goes next', schema: { type: 'string' as const } },
};

function entraEndpoints(options: {
  entra: EntraIdentity;
  signIn: SignInService;
  publicUrl: string;
}): Endpoint[] {
  const { entra, signIn, publicUrl } = options;
  const origin = new URL(publicUrl).origin;
  return [
    endpoint({
      operationId: 'beginSignIn',
      method: 'get',
      path: '/auth/login',
      summary: 'Sign in with Entra ID (redirects to the identity provider)',
      description:
        'Starts the authorization code flow with PKCE: keeps state, nonce and the code verifier in the ' +
        'session and redirects the browser to Entra ID, which sends it back to `/auth/callback`.',
      tags: ['Auth'],
      access: publicAccess,
      rateLimit: 'sign-in',
      request: { query: signInStartQuery },
      responses: { 302: { description: 'To the identity provider', headers: redirectHeaders } },
      errors: [503],
      async handle({ query, req, requestId }) {
        const returnTo = query.return_to === undefined ? '/' : sameOriginPath(query.return_to, origin);
        if (returnTo === undefined) {
          throw await signIn.refuse('return_to_not_same_origin', {
            requestId,
            status: 400,
            detail: 'return_to must be a path on this origin',
          });
        }
        let begun;
        try {
          begun = await entra.signIn.begin();
        } catch (error) {
          return signIn.failure(error, requestId);
        }
        const { state, nonce, codeVerifier } = begun.pending;
        const open = Object.entries(req.session.signIns ?? {})
          .filter(([, entry]) => Date.now() - entry.startedAt <= PENDING_SIGN_IN_TTL_MS)
          .slice(-(MAX_PENDING_SIGN_INS - 1));
        req.session.signIns = {
          ...Object.fromEntries(open),
          [state]: { nonce, codeVerifier, returnTo, startedAt: Date.now() },
        };
        // Nobody is signed in yet: the session (cookie and store entry) lives only as long as the sign-in
        // may take, and signing in replaces it with a new one of the full idle timeout.
        if (req.session.user === undefined) req.session.cookie.maxAge = PENDING_SIGN_IN_TTL_MS;
        return { status: 302, headers: { Location: begun.url, 'Cache-Control': 'no-store' } };
      },
    }),
    endpoint({
      operationId: 'completeSignIn',
      method: 'get',
      path: '/auth/callback',
      summary: 'Where Entra ID sends the browser back (redirects to return_to)',
      description:
        'Checks the state against the session, redeems the code, verifies the ID token (issuer, audience, ' +
        'expiry, nonce, directory), maps the directory to a tenant and the app roles to roles, starts a ' +
        'fresh session and redirects to the `return_to` given at `/auth/login`. Every refusal is recorded ' +
        'as SIGN_IN_FAILED: 400 for a state this browser did not start (or already used), 401 when the ' +
        'provider or the token is refused, 403 for an unknown directory or no app role.',
      tags: ['Auth'],
      access: publicAccess,
      request: { query: callbackQuery },
      responses: { 302: { description: 'Signed in: to return_to', headers: redirectHeaders } },
      errors: [401, 403, 503],
      async handle({ query, req, requestId }) {
        const pending = takePendingSignIn(req, query.state);
        if (pending === undefined) {
          throw await signIn.refuse(query.state === undefined ? 'missing_state' : 'unknown_state', {
            requestId,
            status: 400,
            detail: 'this sign-in was not started in this browser, expired, or was already completed',
          });
        }
        if (query.error !== undefined || query.code === undefined) {
          const providerError = /^[a-z_]{1,64}$/.test(query.error ?? '') ? query.error : 'invalid';
          throw await signIn.refuse('provider_error', {
            requestId,
            extra: {
              provider_error:
                query.code === undefined && query.error === undefined ? 'no_code' : providerError,
            },
          });
        }
        let person;
        try {
          person = await entra.signIn.redeem({
            code: query.code,
            redirectUri: entra.config.redirectUri,
            codeVerifier: pending.codeVerifier,
            nonce: pending.nonce,
          });
        } catch (error) {
          return signIn.failure(error, requestId);
        }
        const user = await signIn.admitPerson(person, requestId, 'entra_redirect');
        await startUserSession(req, {
          tenantId: user.tenantId,
          id: user.id,
          displayName: user.displayName,
          roles: user.roles,
        });
        return { status: 302, headers: { Location: pending.returnTo, 'Cache-Control': 'no-store' } };
      },
    }),
    endpoint({
      operationId: 'redeemSignInCode',
      method: 'post',
      path: '/auth/login',
      summary: 'Sign in with an authorization code a front end obtained from Entra ID',
      description:
        'For a single-page front end that runs the redirect itself (with its own state, nonce and PKCE) ' +
        'and hands the code over: EUCORA redeems it as a confidential client, verifies the ID token and ' +
        'starts a session. The redirect URI must be on this origin and registered for the application.',
      tags: ['Auth'],
      access: publicAccess,
      rateLimit: 'sign-in',
      request: { body: codeRedemptionSchema },
      responses: { 200: { description: 'Signed in', schema: actorSchema } },
      errors: [401, 403, 503],
      async handle({ body, req, requestId }) {
        if (new URL(body.redirect_uri).origin !== origin) {
          throw await signIn.refuse('redirect_uri_not_same_origin', {
            requestId,
            status: 400,
            detail: 'redirect_uri must be on this origin',
          });
        }
        let person;
        try {
          person = await entra.signIn.redeem({
            code: body.code,
            redirectUri: body.redirect_uri,
            ...(body.code_verifier === undefined ? {} : { codeVerifier: body.code_verifier }),
            ...(body.nonce === undefined ? {} : { nonce: body.nonce }),
          });
        } catch (error) {
          return signIn.failure(error, requestId);
        }
        const user = await signIn.admitPerson(person, requestId, 'entra_code');
        await startUserSession(req, {
          tenantId: user.tenantId,
          id: user.id,
          displayName: user.displayName,
          roles: user.roles,
        });
        return { status: 200, body: actorBody(user), headers: { 'Cache-Control': 'no-store' } };
      },
    }),
  ];
}

export function authEndpoints(options: {
  store: DataStore;
  signIn: SignInService;
  entra: EntraIdentity | undefined;
  publicUrl: string;
  devLogin: boolean;
  defaultTenantId: string;
}): Endpoint[] {
  const { signIn } = options;
  const endpoints: Endpoint[] = [
    endpoint({
      operationId: 'getSignInOptions',
      method: 'get',
      path: '/auth/options',
      summary: 'How people can sign in here',
      description: 'Public: the console asks it before showing a sign-in page.',
      tags: ['Auth'],
      access: publicAccess,
      responses: { 200: { description: 'The sign-in methods on offer', schema: signInOptionsSchema } },
      handle() {
        return Promise.resolve({
          status: 200,
          body: {
            dev_login: options.devLogin,
            entra: options.entra === undefined ? null : { login_url: '/api/v1/auth/login' as const },
          },
        });
      },
    }),
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
      description:
        'Deletes the session from the session store (Redis in production); the cookie is worthless after it.',
      tags: ['Auth'],
      access: publicAccess,
      responses: { 204: { description: 'Signed out' } },
      async handle({ req, requestId }) {
        const user = req.session.user;
        if (user !== undefined) {
          await signIn.record(asTenantId(user.tenantId), 'SIGNED_OUT', {
            actor: user.id,
            requestId,
            payload: {},
          });
        }
        await endUserSession(req);
        return { status: 204 };
      },
    }),
  ];
  if (options.entra !== undefined) {
    endpoints.push(...entraEndpoints({ entra: options.entra, signIn, publicUrl: options.publicUrl }));
  }
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
        const signInId = randomUUID();
        await scope.events.append({
          eventKey: `dev-login:${signInId}`,
          eventType: 'DEV_LOGIN',
          intentId: null,
          correlationId: signInId,
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
