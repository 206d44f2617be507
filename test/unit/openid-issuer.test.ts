import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { KeyLike } from 'jose';
import { IssuerUnavailableError, OpenIdIssuer, TokenRefusedError } from '../../api/identity/openid-issuer';
import { looksLikeJwt } from '../../api/identity/service-principals';

const DIRECTORY = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const ISSUER_TEMPLATE = 'https://login.microsoftonline.com/{tenantid}/v2.0';
const DISCOVERY = 'https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration';
const JWKS = 'https://login.microsoftonline.com/organizations/discovery/v2.0/keys';

interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyLike;
  readonly jwk: Record<string, unknown>;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

/** Entra's multi-tenant discovery document and a key set the test controls, served by a fake fetch. */
function provider(published: SigningKey[]) {
  const calls: string[] = [];
  const fetch = (input: string | URL | Request) => {
    const url = input instanceof Request ? input.url : input.toString();
    calls.push(url);
    if (url === DISCOVERY) {
      return Promise.resolve(
        Response.json({
          issuer: ISSUER_TEMPLATE,
          authorization_endpoint: 'https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize',
          token_endpoint: 'https://login.microsoftonline.com/organizations/oauth2/v2.0/token',
          jwks_uri: JWKS,
        }),
      );
    }
    if (url === JWKS) return Promise.resolve(Response.json({ keys: published.map((key) => key.jwk) }));
    return Promise.resolve(new Response('not found', { status: 404 }));
  };
  return { fetch, calls, published };
}

function token(key: SigningKey, claims: Record<string, unknown> = {}, lifetime = '1h') {
  const { iss = `https://login.microsoftonline.com/${DIRECTORY}/v2.0`, ...rest } = claims;
  return new SignJWT({ tid: DIRECTORY, nonce: 'n-1', ...rest })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid })
    .setIssuer(String(iss))
    .setAudience('eucora')
    .setSubject('subject-1')
    .setIssuedAt()
    .setExpirationTime(lifetime)
    .sign(key.privateKey);
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TokenRefusedError) return error.reason;
    throw error;
  }
  throw new Error('the token was accepted');
}

describe('OpenIdIssuer: tokens verified with jose against the provider’s keys', () => {
  let key: SigningKey;
  beforeAll(async () => {
    key = await signingKey('key-1');
  });

  it('accepts a token from the directory it names, against Entra’s {tenantid} issuer template', async () => {
    const issuer = new OpenIdIssuer({ discoveryUrl: DISCOVERY, fetch: provider([key]).fetch });
    const claims = await issuer.verify(await token(key), { audience: 'eucora', nonce: 'n-1' });
    expect(claims).toMatchObject({ tid: DIRECTORY, sub: 'subject-1' });
    expect(await issuer.expectedIssuer(DIRECTORY)).toBe(
      `https://login.microsoftonline.com/${DIRECTORY}/v2.0`,
    );
  });

  it.each([
    ['another audience', { audience: 'someone-else' }, {}, 'wrong_audience'],
    [
      'another directory’s issuer',
      {},
      { iss: 'https://login.microsoftonline.com/other/v2.0' },
      'wrong_issuer',
    ],
    ['another nonce', { nonce: 'n-2' }, {}, 'nonce_mismatch'],
    ['no tid', {}, { tid: undefined }, 'missing_tenant'],
    ['not yet valid', {}, { nbf: Math.floor(Date.now() / 1000) + 3600 }, 'not_yet_valid'],
  ])('refuses a token with %s', async (_case, expectation, claims, reason) => {
    const issuer = new OpenIdIssuer({ discoveryUrl: DISCOVERY, fetch: provider([key]).fetch });
    const signed = await token(key, claims);
    expect(await refusal(issuer.verify(signed, { audience: 'eucora', ...expectation }))).toBe(reason);
  });

  it('refuses an expired token, garbage, and a token signed by a key the provider never published', async () => {
    const issuer = new OpenIdIssuer({ discoveryUrl: DISCOVERY, fetch: provider([key]).fetch });
    const expired = await new SignJWT({ tid: DIRECTORY })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid })
      .setIssuer(`https://login.microsoftonline.com/${DIRECTORY}/v2.0`)
      .setAudience('eucora')
      .setSubject('s')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(key.privateKey);
    expect(await refusal(issuer.verify(expired, { audience: 'eucora' }))).toBe('expired');
    expect(await refusal(issuer.verify('not.a.jwt', { audience: 'eucora' }))).toBe('malformed');
    const stranger = await signingKey('key-1');
    expect(await refusal(issuer.verify(await token(stranger), { audience: 'eucora' }))).toBe('bad_signature');
    const unknownKid = await signingKey('key-unknown');
    expect(await refusal(issuer.verify(await token(unknownKid), { audience: 'eucora' }))).toBe(
      'unknown_signing_key',
    );
  });

  it('reloads the key set for an unknown key id (rollover), at most every 30 seconds', async () => {
    const idp = provider([key]);
    const issuer = new OpenIdIssuer({ discoveryUrl: DISCOVERY, fetch: idp.fetch });
    await issuer.verify(await token(key), { audience: 'eucora', nonce: 'n-1' });
    const rolled = await signingKey('key-2');
    idp.published.push(rolled);
    // Just loaded: an unknown key id does not make every forged token fetch the key set again.
    expect(await refusal(issuer.verify(await token(rolled), { audience: 'eucora' }))).toBe(
      'unknown_signing_key',
    );
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now + 31_000);
    try {
      await expect(issuer.verify(await token(rolled), { audience: 'eucora' })).resolves.toMatchObject({
        tid: DIRECTORY,
      });
    } finally {
      clock.mockRestore();
    }
    expect(idp.calls.filter((url) => url === JWKS)).toHaveLength(2);
  });

  it.each([
    ['unreachable', () => Promise.reject(new TypeError('fetch failed'))],
    ['answering 500', () => Promise.resolve(new Response('oops', { status: 500 }))],
    ['answering HTML', () => Promise.resolve(new Response('<html>', { status: 200 }))],
    ['answering a list', () => Promise.resolve(Response.json([1]))],
    ['without endpoints', () => Promise.resolve(Response.json({ issuer: 'x' }))],
  ])(
    'is unavailable (a 503, not a refusal) when discovery is %s, and tries again next time',
    async (_case, answer) => {
      let calls = 0;
      const fetch = (() => {
        calls += 1;
        return answer();
      }) as unknown as typeof globalThis.fetch;
      const issuer = new OpenIdIssuer({ discoveryUrl: DISCOVERY, fetch });
      await expect(issuer.metadata()).rejects.toBeInstanceOf(IssuerUnavailableError);
      await expect(issuer.metadata()).rejects.toBeInstanceOf(IssuerUnavailableError);
      expect(calls).toBe(2);
    },
  );

  it('is unavailable when the key set cannot be read', async () => {
    const broken = ((input: string | URL) =>
      input.toString() === JWKS
        ? Promise.resolve(Response.json({ keys: 'none' }))
        : provider([key]).fetch(input)) as typeof globalThis.fetch;
    const issuer = new OpenIdIssuer({ discoveryUrl: DISCOVERY, fetch: broken });
    await expect(issuer.verify(await token(key), { audience: 'eucora' })).rejects.toBeInstanceOf(
      IssuerUnavailableError,
    );
  });

  it('tells a JWT from an EUCORA API key', () => {
    expect(looksLikeJwt('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln')).toBe(true);
    expect(looksLikeJwt('eucora_ck_abcdef')).toBe(false);
    expect(looksLikeJwt('a.b')).toBe(false);
  });
});
