import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { AuthError, ConfidentialClientApplication, LogLevel, ProtocolMode } from '@azure/msal-node';
import type { Configuration } from '@azure/msal-node';
import type { EntraConfig } from '../../runtime/config';
import type { Logger } from '../../runtime/logger';
import { FetchNetworkClient } from './msal-network';
import { IssuerUnavailableError, TokenRefusedError } from './openid-issuer';
import type { OpenIdIssuer, TokenRefusal } from './openid-issuer';

/** What EUCORA proves itself to Entra ID with: a client secret, or a certificate (PEM: key and certificate). */
export interface EntraCredentials {
  readonly clientSecret: string | undefined;
  readonly clientCertificate: string | undefined;
}

/** What the session keeps between the redirect to the provider and the callback; single use. */
export interface PendingSignIn {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
}

/** A person the provider vouched for, from a verified ID token. */
export interface VerifiedPerson {
  readonly entraTenantId: string;
  /** Entra's object id (`oid`), stable across renames; `sub` for providers without one. */
  readonly subject: string;
  readonly displayName: string;
  readonly email: string | undefined;
  /** The raw app-role claim; mapping it to EUCORA roles is policy's job. */
  readonly rolesClaim: unknown;
}

/** Reasons a sign-in fails beyond the token itself; recorded in SIGN_IN_FAILED. */
export type SignInRefusal = TokenRefusal | 'code_rejected' | 'provider_error';

export class SignInRefusedError extends Error {
  constructor(
    readonly reason: SignInRefusal,
    /** The provider's error code (e.g. `invalid_grant`), never its description, which may echo input. */
    readonly providerError?: string,
  ) {
    super(`sign-in refused: ${reason}`);
    this.name = 'SignInRefusedError';
  }
}

const SCOPES = ['openid', 'profile', 'email'];

function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

function pemBlocks(pem: string, label: string): string[] {
  const pattern = new RegExp(`-----BEGIN ${label}-----[\\s\\S]+?-----END ${label}-----`, 'g');
  return pem.match(pattern) ?? [];
}

/** MSAL's certificate credential from one PEM holding the private key and the certificate (Key Vault's PEM form). */
function certificateCredential(pem: string) {
  const [privateKey] = [...pemBlocks(pem, 'PRIVATE KEY'), ...pemBlocks(pem, 'RSA PRIVATE KEY')];
  const [certificate] = pemBlocks(pem, 'CERTIFICATE');
  if (privateKey === undefined || certificate === undefined) {
    throw new Error('the Entra client certificate must hold a PEM private key and a PEM certificate');
  }
  return {
    thumbprintSha256: new X509Certificate(certificate).fingerprint256.replaceAll(':', ''),
    privateKey,
    x5c: certificate,
  };
}

/** The OpenID configuration URL of an authority: Entra keeps its v2.0 endpoints under `/v2.0`. */
export function discoveryUrlOf(config: Pick<EntraConfig, 'authority' | 'protocol'>): string {
  return config.protocol === 'entra'
    ? `${config.authority}/v2.0/.well-known/openid-configuration`
    : `${config.authority}/.well-known/openid-configuration`;
}

/**
 * People's sign-in with Entra ID: the authorization code flow with PKCE through MSAL's
 * ConfidentialClientApplication, and a verified ID token at the end. MSAL redeems the code (and checks
 * the nonce); EUCORA verifies the ID token itself with the provider's keys, so its issuer, audience,
 * lifetime and directory are checked whatever MSAL does.
 */
export class EntraSignIn {
  private msal: Promise<ConfidentialClientApplication> | undefined;

  constructor(
    private readonly config: EntraConfig,
    readonly issuer: OpenIdIssuer,
    private readonly deps: {
      readonly fetch: typeof fetch;
      readonly credentials: () => EntraCredentials;
      readonly logger: Logger;
      readonly timeoutMs?: number;
    },
  ) {}

  /** Drops the MSAL client built with the previous credentials (Key Vault rotated them). */
  credentialsChanged(): void {
    this.msal = undefined;
  }

  /** The provider's authorization URL for a new sign-in, and what the session must keep until the callback. */
  async begin(): Promise<{ url: string; pending: PendingSignIn }> {
    const pending: PendingSignIn = {
      state: randomToken(),
      nonce: randomToken(),
      codeVerifier: randomToken(),
    };
    const msal = await this.client();
    const url = await this.msalCall(() =>
      msal.getAuthCodeUrl({
        scopes: SCOPES,
        redirectUri: this.config.redirectUri,
        state: pending.state,
        nonce: pending.nonce,
        codeChallenge: createHash('sha256').update(pending.codeVerifier).digest('base64url'),
        codeChallengeMethod: 'S256',
        // A form_post callback would be a cross-site POST, which the SameSite=Lax session cookie misses.
        responseMode: 'query',
      }),
    );
    return { url, pending };
  }

  /** Redeems an authorization code and verifies the ID token it yields. */
  async redeem(input: {
    readonly code: string;
    readonly redirectUri: string;
    readonly codeVerifier?: string;
    readonly nonce?: string;
  }): Promise<VerifiedPerson> {
    const msal = await this.client();
    const result = await this.msalCall(() =>
      msal.acquireTokenByCode({
        code: input.code,
        scopes: SCOPES,
        redirectUri: input.redirectUri,
        ...(input.codeVerifier === undefined ? {} : { codeVerifier: input.codeVerifier }),
        ...(input.nonce === undefined ? {} : { nonce: input.nonce }),
      }),
    );
    // EUCORA keeps no provider tokens: the session is its own. Nothing accumulates in MSAL's cache.
    if (result.account !== null) await msal.getTokenCache().removeAccount(result.account);
    if (result.idToken === '') throw new SignInRefusedError('malformed');
    const claims = await this.issuer.verify(result.idToken, {
      audience: this.config.clientId,
      ...(input.nonce === undefined ? {} : { nonce: input.nonce }),
    });
    const subject = typeof claims.oid === 'string' && claims.oid !== '' ? claims.oid : claims.sub;
    if (subject === undefined) throw new SignInRefusedError('malformed');
    const name = [claims.name, claims.preferred_username, subject].find(
      (value): value is string => typeof value === 'string' && value.trim() !== '',
    );
    return {
      entraTenantId: claims.tid.toLowerCase(),
      subject,
      displayName: (name ?? subject).slice(0, 200),
      email: typeof claims.email === 'string' ? claims.email : undefined,
      rolesClaim: claims.roles,
    };
  }

  private client(): Promise<ConfidentialClientApplication> {
    this.msal ??= this.buildClient().catch((error: unknown) => {
      this.msal = undefined;
      throw error;
    });
    return this.msal;
  }

  private async buildClient(): Promise<ConfidentialClientApplication> {
    const metadata = await this.issuer.metadata();
    const { clientSecret, clientCertificate } = this.deps.credentials();
    const logger = this.deps.logger;
    const configuration: Configuration = {
      auth: {
        clientId: this.config.clientId,
        authority: this.config.authority,
        // The discovery document EUCORA fetched: MSAL need not fetch it again.
        authorityMetadata: JSON.stringify(metadata.document),
        ...(this.config.protocol === 'oidc'
          ? { knownAuthorities: [new URL(this.config.authority).host] }
          : {}),
        ...(clientCertificate === undefined
          ? { clientSecret: clientSecret ?? '' }
          : { clientCertificate: certificateCredential(clientCertificate) }),
      },
      system: {
        protocolMode: this.config.protocol === 'oidc' ? ProtocolMode.OIDC : ProtocolMode.AAD,
        networkClient: new FetchNetworkClient(this.deps.fetch, this.deps.timeoutMs ?? 10_000),
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: LogLevel.Warning,
          loggerCallback: (level, message) => {
            if (level <= LogLevel.Warning) logger.warn({ msal: message }, 'MSAL');
          },
        },
      },
    };
    return new ConfidentialClientApplication(configuration);
  }

  /** MSAL's errors in EUCORA's words: the provider refused (the caller's problem) or was unreachable (503). */
  private async msalCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof TokenRefusedError || error instanceof IssuerUnavailableError) throw error;
      if (error instanceof AuthError) {
        if (error.errorCode === 'nonce_mismatch') throw new SignInRefusedError('nonce_mismatch');
        if (error.errorCode === 'network_error' || error.errorCode === 'endpoints_resolution_error') {
          throw new IssuerUnavailableError('token endpoint not reachable');
        }
        if (error.name === 'ServerError') {
          const code = /^[a-z_]{1,64}$/.test(error.errorCode) ? error.errorCode : 'unknown';
          if (code === 'invalid_grant') throw new SignInRefusedError('code_rejected', code);
          // The provider refused EUCORA's own credential: the operator's to fix, not the person's fault.
          if (code === 'invalid_client' || code === 'unauthorized_client') {
            throw new IssuerUnavailableError(`the provider refused EUCORA's client credential (${code})`);
          }
          if (code === 'temporarily_unavailable' || code === 'server_error') {
            throw new IssuerUnavailableError(`token endpoint answered ${code}`);
          }
          throw new SignInRefusedError('provider_error', code);
        }
        throw new SignInRefusedError('provider_error', 'client_error');
      }
      // A fetch that failed (connection refused, timeout) or a body that was not JSON.
      throw new IssuerUnavailableError('token endpoint not reachable');
    }
  }
}
