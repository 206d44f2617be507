import { createLocalJWKSet, decodeJwt, errors, jwtVerify } from 'jose';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';

/** Why a token was refused: the reason recorded in the audit trail (never the token). */
export type TokenRefusal =
  | 'malformed'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_audience'
  | 'wrong_issuer'
  | 'bad_signature'
  | 'unknown_signing_key'
  | 'nonce_mismatch'
  | 'missing_tenant'
  | 'not_an_app_token';

export class TokenRefusedError extends Error {
  constructor(readonly reason: TokenRefusal) {
    super(`token refused: ${reason}`);
    this.name = 'TokenRefusedError';
  }
}

/** The identity provider did not answer (or answered nonsense): a 503 for the caller, not their fault. */
export class IssuerUnavailableError extends Error {
  constructor(readonly what: string) {
    super(`the identity provider is unavailable (${what})`);
    this.name = 'IssuerUnavailableError';
  }
}

/** The parts of the provider's OpenID configuration EUCORA uses; `document` is handed to MSAL as is. */
export interface IssuerMetadata {
  /** May hold Entra's `{tenantid}` placeholder (multi-tenant authorities). */
  readonly issuer: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly jwksUri: string;
  readonly document: Readonly<Record<string, unknown>>;
}

export interface OpenIdIssuerOptions {
  /** `<authority>/.well-known/openid-configuration`, or Entra's `<authority>/v2.0/.well-known/…`. */
  readonly discoveryUrl: string;
  /** The platform's fetch; tests pass one that trusts their CA. */
  readonly fetch: typeof fetch;
  readonly timeoutMs?: number;
  /** Seconds of clock difference tolerated on exp, nbf and iat. */
  readonly clockToleranceSeconds?: number;
}

/** Signing algorithms accepted: asymmetric only, so a token can never be "signed" with a public key as secret. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];
/** A key id the cached key set does not know triggers one reload, at most this often (key rollover). */
const JWKS_RELOAD_COOLDOWN_MS = 30_000;
const JWKS_MAX_AGE_MS = 3_600_000;

function isString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

/**
 * One OpenID Provider: its discovery document and signing keys (cached, reloaded on an unknown key id),
 * and verification of the JWTs it issues with `jose`: signature, issuer, audience, lifetime, nonce and
 * the directory (`tid`) claim.
 */
export class OpenIdIssuer {
  private metadataPromise: Promise<IssuerMetadata> | undefined;
  private keys: { resolve: JWTVerifyGetKey; loadedAt: number } | undefined;
  private keysLoading: Promise<JWTVerifyGetKey> | undefined;

  constructor(private readonly options: OpenIdIssuerOptions) {}

  /** The discovery document, fetched once; a failed fetch is retried by the next caller. */
  metadata(): Promise<IssuerMetadata> {
    this.metadataPromise ??= this.discover().catch((error: unknown) => {
      this.metadataPromise = undefined;
      throw error;
    });
    return this.metadataPromise;
  }

  /** The issuer a token from directory `tid` must name (Entra's multi-tenant issuer is a template). */
  async expectedIssuer(tid: string): Promise<string> {
    const { issuer } = await this.metadata();
    return issuer.replace('{tenantid}', tid);
  }

  /**
   * Verifies a JWT this provider issued and returns its claims. Throws TokenRefusedError with the reason,
   * or IssuerUnavailableError when the provider's keys cannot be fetched.
   */
  async verify(
    token: string,
    expected: { audience: string | readonly string[]; nonce?: string },
  ): Promise<Readonly<Record<string, unknown>> & { readonly tid: string; readonly sub?: string }> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw new TokenRefusedError('malformed');
    }
    const tid = unverified.tid;
    if (!isString(tid)) throw new TokenRefusedError('missing_tenant');
    const issuer = await this.expectedIssuer(tid);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (header, jws) => this.resolveKey(header, jws), {
        issuer,
        audience: [...(typeof expected.audience === 'string' ? [expected.audience] : expected.audience)],
        algorithms: ALGORITHMS,
        clockTolerance: this.options.clockToleranceSeconds ?? 60,
        requiredClaims: ['exp', 'iat', 'sub'],
      }));
    } catch (error) {
      throw refusalOf(error);
    }
    if (expected.nonce !== undefined && payload.nonce !== expected.nonce) {
      throw new TokenRefusedError('nonce_mismatch');
    }
    return { ...payload, tid };
  }

  private async resolveKey(...args: Parameters<JWTVerifyGetKey>) {
    const now = Date.now();
    if (this.keys === undefined || now - this.keys.loadedAt > JWKS_MAX_AGE_MS) await this.loadKeys();
    try {
      return await (this.keys as { resolve: JWTVerifyGetKey }).resolve(...args);
    } catch (error) {
      const stale = this.keys !== undefined && now - this.keys.loadedAt > JWKS_RELOAD_COOLDOWN_MS;
      if (!(error instanceof errors.JWKSNoMatchingKey) || !stale) throw error;
      await this.loadKeys();
      return (this.keys as { resolve: JWTVerifyGetKey }).resolve(...args);
    }
  }

  private async loadKeys(): Promise<void> {
    this.keysLoading ??= (async () => {
      const { jwksUri } = await this.metadata();
      const document = await this.getJson(jwksUri, 'signing keys');
      try {
        return createLocalJWKSet(document as unknown as Parameters<typeof createLocalJWKSet>[0]);
      } catch {
        throw new IssuerUnavailableError('signing keys are not a JSON Web Key Set');
      }
    })().finally(() => {
      this.keysLoading = undefined;
    });
    this.keys = { resolve: await this.keysLoading, loadedAt: Date.now() };
  }

  private async discover(): Promise<IssuerMetadata> {
    const document = await this.getJson(this.options.discoveryUrl, 'OpenID configuration');
    const { issuer, authorization_endpoint, token_endpoint, jwks_uri } = document;
    if (
      !isString(issuer) ||
      !isString(authorization_endpoint) ||
      !isString(token_endpoint) ||
      !isString(jwks_uri)
    ) {
      throw new IssuerUnavailableError('OpenID configuration lacks an endpoint');
    }
    return {
      issuer,
      authorizationEndpoint: authorization_endpoint,
      tokenEndpoint: token_endpoint,
      jwksUri: jwks_uri,
      document,
    };
  }

  private async getJson(url: string, what: string): Promise<Record<string, unknown>> {
    let response: Response;
    try {
      response = await this.options.fetch(url, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
      });
    } catch {
      throw new IssuerUnavailableError(`${what} not reachable`);
    }
    if (!response.ok) throw new IssuerUnavailableError(`${what} answered ${String(response.status)}`);
    try {
      const body: unknown = await response.json();
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('not an object');
      return body as Record<string, unknown>;
    } catch {
      throw new IssuerUnavailableError(`${what} is not a JSON object`);
    }
  }
}

function refusalOf(error: unknown): Error {
  if (error instanceof IssuerUnavailableError) return error;
  if (error instanceof errors.JWTExpired) return new TokenRefusedError('expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return new TokenRefusedError('wrong_audience');
    if (error.claim === 'iss') return new TokenRefusedError('wrong_issuer');
    if (error.claim === 'nbf' || error.claim === 'iat') return new TokenRefusedError('not_yet_valid');
    return new TokenRefusedError('malformed');
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return new TokenRefusedError('bad_signature');
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return new TokenRefusedError('unknown_signing_key');
  }
  return new TokenRefusedError('malformed');
}
