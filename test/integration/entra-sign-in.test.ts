import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, generateKeyPair } from 'jose';
import request from 'supertest';
import { createEntraIdentity } from '../../api/identity/entra';
import { IssuerUnavailableError } from '../../api/identity/openid-issuer';
import { createLogger } from '../../runtime/logger';
import { UNLIMITED } from '../../api/rate-limits';
import { UNAUTHENTICATED_TENANT, asTenantId } from '../../db/tenant-id';
import type { TenantId } from '../../db/tenant-id';
import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';
import {
  ACCOUNTS,
  CLIENT_ID,
  DIRECTORY_FOREIGN,
  linkDirectories,
  startEntraFixture,
} from '../helpers/entra-fixture';
import type { EntraFixture } from '../helpers/entra-fixture';
import { TENANT_A } from '../helpers/harness';
import { ProviderUserAgent } from '../helpers/provider-user-agent';

/** The harness app's origin (ApiHarness serves it as http://127.0.0.1). */
const ORIGIN = 'http://127.0.0.1';
/** A front end's own redirect URI, registered at the provider, for the code-redemption endpoint. */
const SPA_REDIRECT = `${ORIGIN}/console/signed-in`;

let entra: EntraFixture;
let api: ApiHarness;

beforeAll(async () => {
  entra = await startEntraFixture(ORIGIN, [SPA_REDIRECT]);
  // Sessions in Redis, as in production: the tests look at what the store keeps.
  api = await ApiHarness.start({
    session: { redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    overrides: { entra: entra.identity() },
  });
  await linkDirectories(api.db.store, entra.config);
}, 120_000);

afterAll(async () => {
  // Either may be missing when beforeAll failed half-way.
  await (api as ApiHarness | undefined)?.close();
  await (entra as EntraFixture | undefined)?.close();
});

afterEach(async () => {
  await entra.provider.reset();
});

function cookieOf(response: request.Response): string | undefined {
  const header = response.headers['set-cookie'] as unknown as string[] | undefined;
  return header?.find((cookie) => cookie.startsWith('eucora.sid='))?.split(';')[0];
}

/** GET /auth/login in this browser: the provider URL it redirects to. */
async function beginSignIn(browser: Agent, returnTo?: string): Promise<string> {
  const response = await browser
    .get('/api/v1/auth/login')
    .query(returnTo === undefined ? {} : { return_to: returnTo })
    .expect(302);
  return response.headers.location!;
}

/** The person signs in and consents at the provider; the callback path (with code and state) it sends back. */
async function atProvider(authorizationUrl: string, login: string): Promise<string> {
  const agent = new ProviderUserAgent(entra.fetch, new URL(entra.provider.issuer).origin);
  const back = await agent.signIn(authorizationUrl, login);
  expect(back.origin).toBe(ORIGIN);
  return `${back.pathname}${back.search}`;
}

async function events(tenantId: TenantId, eventType: string) {
  const page = await api.db.store.forTenant(tenantId).events.list({ eventType }, { limit: 200 });
  return page.items;
}

async function lastEvent(tenantId: TenantId, eventType: string) {
  const all = await events(tenantId, eventType);
  return all[all.length - 1];
}

/**
 * The refusal record of one request (found by its X-Correlation-ID), wherever it was written: exactly one.
 * A 401 or 403 is an AUTHZ_DENIED whose `signIn` says why the sign-in failed; a 400 is a SIGN_IN_FAILED.
 */
async function theRefusal(requestId: string) {
  const found = [];
  for (const tenantId of [UNAUTHENTICATED_TENANT, TENANT_A]) {
    const page = await api.db.store.forTenant(tenantId).events.list({ requestId }, { limit: 10 });
    for (const event of page.items) {
      if (event.eventType === 'AUTHZ_DENIED' || event.eventType === 'SIGN_IN_FAILED') {
        found.push({
          tenant: tenantId,
          eventType: event.eventType,
          actor: event.actor,
          payload: event.payload,
        });
      }
    }
  }
  expect(found).toHaveLength(1);
  return found[0];
}

/** A fresh request id to send as X-Correlation-ID (a UUID, or the API makes its own). */
const rid = (): string => randomUUID();

describe('Entra ID sign-in through the authorization code flow', () => {
  it('signs a person in: login and consent at the provider, callback, a fresh session, /auth/me', async () => {
    const browser = api.anonymous();
    const authorizationUrl = await beginSignIn(browser, '/console/cab?tab=pending');
    const url = new URL(authorizationUrl);
    expect(url.origin).toBe(new URL(entra.provider.issuer).origin);
    expect(url.searchParams.get('client_id')).toBe(CLIENT_ID);
    expect(url.searchParams.get('response_mode')).toBe('query');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const callback = await atProvider(authorizationUrl, 'alice');
    const before = await browser.get('/api/v1/auth/me').expect(401);
    const landed = await browser.get(callback).expect(302);
    expect(landed.headers.location).toBe('/console/cab?tab=pending');
    // The session id changes at sign-in: one planted before it is worth nothing after.
    expect(cookieOf(landed)).toBeDefined();
    expect(cookieOf(landed)).not.toBe(cookieOf(before));

    const me = await browser.get('/api/v1/auth/me').expect(200);
    expect(me.body).toEqual({
      id: ACCOUNTS.alice!.oid,
      display_name: 'Alice Packager',
      tenant_id: TENANT_A,
      kind: 'user',
      roles: ['submitter', 'cab_member'],
    });
    const user = await api.tenant().users.get(ACCOUNTS.alice!.oid);
    expect(user).toMatchObject({ displayName: 'Alice Packager', email: 'alice@contoso.example' });
    expect(await lastEvent(asTenantId(TENANT_A), 'SIGNED_IN')).toMatchObject({
      actor: ACCOUNTS.alice!.oid,
      payload: { method: 'entra_redirect', roles: ['submitter', 'cab_member'] },
    });
    // The person acts with their roles: a submitter may read intents.
    await browser.get('/api/v1/deployment-intents').expect(200);
  });

  it('keeps a sign-in in progress in a short-lived session that signs nobody in', async () => {
    const browser = api.anonymous();
    const started = await browser.get('/api/v1/auth/login').expect(302);
    const pendingTtl = await api.sessionTtlSeconds(started.headers['set-cookie']);
    // State, nonce and verifier live ten minutes in the store, not the thirty of a signed-in session.
    expect(pendingTtl).toBeGreaterThan(0);
    expect(pendingTtl).toBeLessThanOrEqual(600);
    const expires = /Expires=([^;]+)/.exec(String(started.headers['set-cookie']))?.[1];
    expect(Date.parse(expires ?? '') - Date.now()).toBeLessThanOrEqual(600_000);
    await browser.get('/api/v1/auth/me').expect(401);

    const landed = await browser.get(await atProvider(started.headers.location!, 'alice')).expect(302);
    expect(await api.sessionTtlSeconds(landed.headers['set-cookie'])).toBeGreaterThan(600);
    // The pending session is gone with the sign-in (a new session id), not left to linger.
    expect(await api.sessionTtlSeconds(started.headers['set-cookie'])).toBeUndefined();
  });

  it('lands on / when no return_to is given', async () => {
    const browser = api.anonymous();
    const callback = await atProvider(await beginSignIn(browser), 'alice');
    const landed = await browser.get(callback).expect(302);
    expect(landed.headers.location).toBe('/');
  });

  it('signs out: SIGNED_OUT recorded, the session deleted from the store, the old cookie worthless', async () => {
    const browser = api.anonymous();
    const landed = await browser.get(await atProvider(await beginSignIn(browser), 'alice')).expect(302);
    const cookie = cookieOf(landed)!;
    await browser.post('/api/v1/auth/logout').send({}).expect(204);
    expect(await lastEvent(asTenantId(TENANT_A), 'SIGNED_OUT')).toMatchObject({ actor: ACCOUNTS.alice!.oid });
    // Replaying the cookie of the ended session (as a thief would) finds nothing in the store.
    await request(api.app).get('/api/v1/auth/me').set('Cookie', cookie).expect(401);
  });

  it('refuses a callback whose state this browser never started: 400 and SIGN_IN_FAILED', async () => {
    const victim = api.anonymous();
    const callback = await atProvider(await beginSignIn(victim), 'alice');
    // Another browser (a forged link) presents the victim's callback.
    const other = api.anonymous();
    const id = rid();
    const refused = await other.get(callback).set('X-Correlation-ID', id).expect(400);
    expect(refused.body).toMatchObject({ type: expect.stringContaining('sign-in-refused') as string });
    expect(await theRefusal(id)).toMatchObject({
      tenant: UNAUTHENTICATED_TENANT,
      eventType: 'SIGN_IN_FAILED',
      payload: { reason: 'unknown_state' },
    });
    await other.get('/api/v1/auth/me').expect(401);
  });

  it('refuses a callback without state, and a state that was tampered with', async () => {
    const browser = api.anonymous();
    const callback = await atProvider(await beginSignIn(browser), 'alice');
    const tampered = callback.replace(/state=[^&]+/, 'state=forged-state-value');
    const tamperedId = rid();
    await browser.get(tampered).set('X-Correlation-ID', tamperedId).expect(400);
    const missingId = rid();
    await browser.get('/api/v1/auth/callback?code=abc').set('X-Correlation-ID', missingId).expect(400);
    expect(await theRefusal(tamperedId)).toMatchObject({ payload: { reason: 'unknown_state' } });
    expect(await theRefusal(missingId)).toMatchObject({
      tenant: UNAUTHENTICATED_TENANT,
      payload: { reason: 'missing_state' },
    });
  });

  it('refuses a state used once already: 400, the second use is recorded', async () => {
    const browser = api.anonymous();
    const callback = await atProvider(await beginSignIn(browser), 'alice');
    await browser.get(callback).expect(302);
    const id = rid();
    await browser.get(callback).set('X-Correlation-ID', id).expect(400);
    expect(await theRefusal(id)).toMatchObject({ payload: { reason: 'unknown_state' } });
  });

  it('refuses a replayed authorization code: the provider rejects it, 401 code_rejected', async () => {
    const browser = api.anonymous();
    const first = await atProvider(await beginSignIn(browser), 'alice');
    await browser.get(first).expect(302);
    const code = new URL(first, ORIGIN).searchParams.get('code')!;
    // A second sign-in in the same browser, answered with the first one's code.
    const state = new URL(await beginSignIn(browser)).searchParams.get('state')!;
    const id = rid();
    const replay = await browser
      .get('/api/v1/auth/callback')
      .query({ code, state })
      .set('X-Correlation-ID', id)
      .expect(401);
    expect(replay.body).toMatchObject({ detail: 'sign-in refused: code rejected' });
    // The browser is still signed in from the first sign-in: the refusal is its person's, in their tenant.
    expect(await theRefusal(id)).toMatchObject({
      tenant: TENANT_A,
      eventType: 'AUTHZ_DENIED',
      actor: ACCOUNTS.alice!.oid,
      payload: {
        operation: 'completeSignIn',
        status: 401,
        signIn: { reason: 'code_rejected', provider_error: 'invalid_grant' },
      },
    });
  });

  it('refuses an ID token minted for another application: 401 wrong_audience', async () => {
    const browser = api.anonymous();
    const callback = await atProvider(await beginSignIn(browser), 'alice');
    await entra.provider.setQuirks({ idTokenAudience: 'some-other-application' });
    const id = rid();
    await browser.get(callback).set('X-Correlation-ID', id).expect(401);
    expect(await theRefusal(id)).toMatchObject({
      eventType: 'AUTHZ_DENIED',
      payload: { status: 401, signIn: { reason: 'wrong_audience' } },
    });
    await browser.get('/api/v1/auth/me').expect(401);
  });

  it('refuses an expired ID token (the provider’s clock is two hours behind): 401 expired', async () => {
    const browser = api.anonymous();
    const callback = await atProvider(await beginSignIn(browser), 'alice');
    await entra.provider.setQuirks({ clockOffsetSeconds: -2 * 3600 });
    const id = rid();
    await browser.get(callback).set('X-Correlation-ID', id).expect(401);
    expect(await theRefusal(id)).toMatchObject({ payload: { status: 401, signIn: { reason: 'expired' } } });
  });

  it('refuses a person whose directory no tenant trusts: 403, recorded with the directory id', async () => {
    const browser = api.anonymous();
    const callback = await atProvider(await beginSignIn(browser), 'mallory');
    const id = rid();
    const refused = await browser.get(callback).set('X-Correlation-ID', id).expect(403);
    expect((refused.body as { detail: string }).detail).toBe(
      'your directory is not linked to a EUCORA tenant',
    );
    expect(await theRefusal(id)).toMatchObject({
      tenant: UNAUTHENTICATED_TENANT,
      eventType: 'AUTHZ_DENIED',
      actor: ACCOUNTS.mallory!.oid,
      payload: {
        operation: 'completeSignIn',
        status: 403,
        signIn: { reason: 'unknown_tenant', entra_tenant_id: DIRECTORY_FOREIGN },
      },
    });
    await browser.get('/api/v1/auth/me').expect(401);
  });

  it('refuses a person without a EUCORA app role: 403, recorded in their tenant', async () => {
    const browser = api.anonymous();
    const callback = await atProvider(await beginSignIn(browser), 'carol');
    const id = rid();
    await browser.get(callback).set('X-Correlation-ID', id).expect(403);
    expect(await theRefusal(id)).toMatchObject({
      tenant: TENANT_A,
      eventType: 'AUTHZ_DENIED',
      actor: ACCOUNTS.carol!.oid,
      payload: { status: 403, signIn: { reason: 'no_app_role' } },
    });
    await browser.get('/api/v1/auth/me').expect(401);
  });

  it('refuses the provider’s error answer (the person cancelled): 401 provider_error', async () => {
    const browser = api.anonymous();
    const state = new URL(await beginSignIn(browser)).searchParams.get('state')!;
    const id = rid();
    await browser
      .get('/api/v1/auth/callback')
      .query({ state, error: 'access_denied', error_description: 'the user cancelled' })
      .set('X-Correlation-ID', id)
      .expect(401);
    expect(await theRefusal(id)).toMatchObject({
      payload: { signIn: { reason: 'provider_error', provider_error: 'access_denied' } },
    });
  });

  it.each([
    ['another origin', 'https://evil.example/console'],
    ['a scheme-relative URL', '//evil.example/console'],
    ['a backslash browsers read as a slash', '/\\evil.example/console'],
    ['a script URL', 'javascript:alert(1)'],
    ['a relative path', 'console'],
  ])('refuses a return_to that is %s: 400 and SIGN_IN_FAILED, no redirect', async (_case, returnTo) => {
    const id = rid();
    const refused = await api
      .anonymous()
      .get('/api/v1/auth/login')
      .query({ return_to: returnTo })
      .set('X-Correlation-ID', id)
      .expect(400);
    expect(refused.headers.location).toBeUndefined();
    expect(await theRefusal(id)).toMatchObject({
      tenant: UNAUTHENTICATED_TENANT,
      eventType: 'SIGN_IN_FAILED',
      payload: { reason: 'return_to_not_same_origin' },
    });
  });
});

describe('POST /auth/login: a front end hands EUCORA the code it obtained', () => {
  /** What a single-page front end does: its own authorization request with PKCE, then the code. */
  async function codeForFrontEnd(login: string) {
    const verifier = randomBytes(32).toString('base64url');
    const nonce = randomBytes(16).toString('base64url');
    const discovery = await entra.fetch(`${entra.provider.issuer}/.well-known/openid-configuration`);
    const { authorization_endpoint } = (await discovery.json()) as { authorization_endpoint: string };
    const url = new URL(authorization_endpoint);
    url.search = new URLSearchParams({
      client_id: CLIENT_ID,
      response_type: 'code',
      redirect_uri: SPA_REDIRECT,
      scope: 'openid profile email',
      state: randomBytes(16).toString('base64url'),
      nonce,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    const back = new URL(await atProvider(url.toString(), login), ORIGIN);
    return { code: back.searchParams.get('code')!, verifier, nonce };
  }

  it('redeems the code, verifies the ID token and starts a session', async () => {
    const { code, verifier, nonce } = await codeForFrontEnd('alice');
    const browser = api.anonymous();
    const signedIn = await browser
      .post('/api/v1/auth/login')
      .send({ code, code_verifier: verifier, nonce, redirect_uri: SPA_REDIRECT })
      .expect(200);
    expect(signedIn.body).toMatchObject({ id: ACCOUNTS.alice!.oid, roles: ['submitter', 'cab_member'] });
    await browser.get('/api/v1/auth/me').expect(200);
    expect(await lastEvent(asTenantId(TENANT_A), 'SIGNED_IN')).toMatchObject({
      payload: { method: 'entra_code' },
    });
  });

  it('refuses a redirect URI on another origin, and a code redeemed twice', async () => {
    const { code, verifier, nonce } = await codeForFrontEnd('alice');
    const elsewhere = rid();
    await api
      .anonymous()
      .post('/api/v1/auth/login')
      .set('X-Correlation-ID', elsewhere)
      .send({ code, code_verifier: verifier, redirect_uri: 'https://evil.example/cb' })
      .expect(400);
    expect(await theRefusal(elsewhere)).toMatchObject({
      eventType: 'SIGN_IN_FAILED',
      payload: { reason: 'redirect_uri_not_same_origin' },
    });
    const body = { code, code_verifier: verifier, nonce, redirect_uri: SPA_REDIRECT };
    await api.anonymous().post('/api/v1/auth/login').send(body).expect(200);
    const twice = rid();
    await api.anonymous().post('/api/v1/auth/login').set('X-Correlation-ID', twice).send(body).expect(401);
    expect(await theRefusal(twice)).toMatchObject({
      payload: { operation: 'redeemSignInCode', signIn: { reason: 'code_rejected' } },
    });
  });

  it('refuses a code without its PKCE verifier, and an ID token whose nonce is not the one sent', async () => {
    const withoutVerifier = await codeForFrontEnd('alice');
    const noVerifier = rid();
    await api
      .anonymous()
      .post('/api/v1/auth/login')
      .set('X-Correlation-ID', noVerifier)
      .send({ code: withoutVerifier.code, nonce: withoutVerifier.nonce, redirect_uri: SPA_REDIRECT })
      .expect(401);
    expect(await theRefusal(noVerifier)).toMatchObject({ payload: { signIn: { reason: 'code_rejected' } } });
    const { code, verifier } = await codeForFrontEnd('alice');
    const wrongNonce = rid();
    await api
      .anonymous()
      .post('/api/v1/auth/login')
      .set('X-Correlation-ID', wrongNonce)
      .send({ code, code_verifier: verifier, nonce: 'not-the-nonce-sent', redirect_uri: SPA_REDIRECT })
      .expect(401);
    expect(await theRefusal(wrongNonce)).toMatchObject({ payload: { signIn: { reason: 'nonce_mismatch' } } });
  });
});

describe('service principals: Entra client-credentials access tokens as Bearer', () => {
  function bearer(token: string) {
    const agent = api.anonymous();
    agent.set('Authorization', `Bearer ${token}`);
    return agent;
  }

  it('lets a connector application report as its connector type, and nothing else', async () => {
    const connector = bearer(await entra.accessToken('intuneConnector'));
    const me = await connector.get('/api/v1/auth/me').expect(200);
    expect(me.body).toEqual({
      id: 'entra-app:intuneConnector',
      display_name: 'intuneConnector',
      tenant_id: TENANT_A,
      kind: 'connector',
      roles: ['connector'],
      connector_type: 'intune',
    });
    await connector.get('/api/v1/connectors/pending-deployments?connector_type=intune').expect(200);
    await connector.get('/api/v1/connectors/pending-deployments?connector_type=jamf').expect(403);
    await connector.get('/api/v1/deployment-intents').expect(403);
  });

  it('lets an automation application act with the EUCORA roles its app roles map to', async () => {
    const pipeline = bearer(await entra.accessToken('pipeline'));
    const me = await pipeline.get('/api/v1/auth/me').expect(200);
    expect(me.body).toMatchObject({ kind: 'service', roles: ['submitter'] });
    await pipeline.get('/api/v1/deployment-intents').expect(200);
    await pipeline.get('/api/v1/connectors/pending-deployments?connector_type=intune').expect(403);
  });

  it('refuses a token issued for another API: 401 wrong_audience', async () => {
    const token = await entra.accessToken('intuneConnector', 'api://someone-elses-api');
    const id = rid();
    await bearer(token).get('/api/v1/auth/me').set('X-Correlation-ID', id).expect(401);
    expect(await theRefusal(id)).toMatchObject({
      tenant: UNAUTHENTICATED_TENANT,
      eventType: 'AUTHZ_DENIED',
      payload: {
        operation: 'getCurrentActor',
        status: 401,
        signIn: { reason: 'wrong_audience', credential: 'entra_access_token' },
      },
    });
  });

  it('refuses an expired token: 401 expired', async () => {
    await entra.provider.setQuirks({ clockOffsetSeconds: -2 * 3600 });
    const token = await entra.accessToken('intuneConnector');
    const id = rid();
    await bearer(token).get('/api/v1/auth/me').set('X-Correlation-ID', id).expect(401);
    expect(await theRefusal(id)).toMatchObject({ payload: { signIn: { reason: 'expired' } } });
  });

  it('refuses a token whose signature is not the provider’s: 401 bad_signature', async () => {
    const [header, payload] = (await entra.accessToken('intuneConnector')).split('.');
    const forged = `${header!}.${payload!}.${randomBytes(256).toString('base64url')}`;
    const id = rid();
    await bearer(forged).get('/api/v1/auth/me').set('X-Correlation-ID', id).expect(401);
    expect(await theRefusal(id)).toMatchObject({ payload: { signIn: { reason: 'bad_signature' } } });
  });

  it('refuses an application from a directory no tenant trusts: 403 unknown_tenant', async () => {
    const id = rid();
    await bearer(await entra.accessToken('foreign'))
      .get('/api/v1/auth/me')
      .set('X-Correlation-ID', id)
      .expect(403);
    expect(await theRefusal(id)).toMatchObject({
      tenant: UNAUTHENTICATED_TENANT,
      actor: 'entra-app:foreign',
      payload: { status: 403, signIn: { reason: 'unknown_tenant', entra_tenant_id: DIRECTORY_FOREIGN } },
    });
  });

  it.each([
    ['noRoles', 'no_app_role'],
    ['confused', 'ambiguous_app_roles'],
  ] as const)('refuses the %s application: 403 %s, recorded in its tenant', async (name, reason) => {
    const id = rid();
    await bearer(await entra.accessToken(name))
      .get('/api/v1/auth/me')
      .set('X-Correlation-ID', id)
      .expect(403);
    expect(await theRefusal(id)).toMatchObject({
      tenant: TENANT_A,
      eventType: 'AUTHZ_DENIED',
      actor: `entra-app:${name}`,
      payload: { status: 403, signIn: { reason, credential: 'entra_access_token' } },
    });
  });
});

describe('GET /auth/options', () => {
  it('offers Entra ID and, outside production, the dev login', async () => {
    const options = await api.anonymous().get('/api/v1/auth/options').expect(200);
    expect(options.body).toEqual({ dev_login: true, entra: { login_url: '/api/v1/auth/login' } });
  });
});

describe('the sign-in rate limit', () => {
  it('counts Entra sign-ins, by redirect and by code redemption, against the per-address budget', async () => {
    const limited = await ApiHarness.start({
      overrides: {
        entra: entra.identity(),
        rateLimits: { ...UNLIMITED, signIn: { limit: 2, windowMs: 60_000 } },
        rateLimitPrefix: `eucora-test:${randomUUID()}:rl:`,
      },
    });
    try {
      const from = (address: string) =>
        limited.anonymous().get('/api/v1/auth/login').set('X-Forwarded-For', address);
      await from('203.0.113.60').expect(302);
      await from('203.0.113.60').expect(302);
      const refused = await from('203.0.113.60').expect(429);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      // Handing a code over is a sign-in attempt too: the same address is refused before any code is redeemed.
      await limited
        .anonymous()
        .post('/api/v1/auth/login')
        .set('X-Forwarded-For', '203.0.113.60')
        .send({ code: 'a-code', code_verifier: 'v'.repeat(43), redirect_uri: SPA_REDIRECT })
        .expect(429);
      // Another address has its own budget.
      await from('203.0.113.61').expect(302);
      expect(limited.contractViolations()).toEqual([]);
    } finally {
      await limited.close();
    }
  });
});

describe('when the identity provider cannot be reached', () => {
  it('answers a sign-in that needs it with 503, and records no refusal (nobody did anything wrong)', async () => {
    const browser = api.anonymous();
    const callback = await atProvider(await beginSignIn(browser), 'alice');
    const refusals = async () =>
      (await events(UNAUTHENTICATED_TENANT, 'SIGN_IN_FAILED')).length +
      (await events(UNAUTHENTICATED_TENANT, 'AUTHZ_DENIED')).length;
    const refusalsBefore = await refusals();
    await entra.provider.close();
    const unavailable = await browser.get(callback).expect(503);
    expect(unavailable.body).toMatchObject({
      type: expect.stringContaining('service-unavailable') as string,
    });
    expect(await refusals()).toBe(refusalsBefore);
  });

  it('answers 503 when its discovery document cannot be fetched', async () => {
    const unreachable = createEntraIdentity(
      { ...entra.config, authority: 'https://127.0.0.1:9/nowhere' },
      {
        credentials: () => ({ clientSecret: 'x', clientCertificate: undefined }),
        logger: createLogger({ level: 'silent' }),
        fetch: entra.fetch,
      },
    );
    await expect(unreachable.signIn.begin()).rejects.toBeInstanceOf(IssuerUnavailableError);
    await expect(unreachable.servicePrincipals.verify(await signedElsewhere())).rejects.toBeInstanceOf(
      IssuerUnavailableError,
    );
  });
});

/** A well-formed JWT with a tid, signed by nobody the provider knows. */
async function signedElsewhere(): Promise<string> {
  const { privateKey } = await generateKeyPair('RS256');
  return new SignJWT({ tid: DIRECTORY_FOREIGN })
    .setProtectedHeader({ alg: 'RS256' })
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(privateKey);
}

describe('the contract', () => {
  it('every answer above matches the served OpenAPI document', () => {
    expect(api.contractViolations()).toEqual([]);
  });
});
