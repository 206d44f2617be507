import type { EntraConfig } from '../../runtime/config';
import { TokenRefusedError } from './openid-issuer';
import type { OpenIdIssuer } from './openid-issuer';

/** An application that presented an app-only (client-credentials) access token EUCORA verified. */
export interface VerifiedServicePrincipal {
  readonly entraTenantId: string;
  /** The application (client) id: `azp` in Entra v2 tokens, `appid` in v1, `client_id` in RFC 9068 tokens. */
  readonly appId: string;
  readonly rolesClaim: unknown;
}

/** A JWT, as opposed to an EUCORA API key: three base64url parts. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

/**
 * Verifies service principals' access tokens (`Authorization: Bearer <JWT>`) with `jose` against the
 * issuer's signing keys: signature, issuer, audience (EUCORA's API), lifetime and directory. Only
 * app-only tokens are accepted: a token acting for a person (`scp`) is refused, people sign in.
 */
export class ServicePrincipalVerifier {
  constructor(
    private readonly config: Pick<EntraConfig, 'apiAudiences'>,
    private readonly issuer: OpenIdIssuer,
  ) {}

  async verify(token: string): Promise<VerifiedServicePrincipal> {
    const claims = await this.issuer.verify(token, { audience: this.config.apiAudiences });
    if (claims.scp !== undefined) throw new TokenRefusedError('not_an_app_token');
    const appId = [claims.azp, claims.appid, claims.client_id, claims.sub].find(
      (value): value is string => typeof value === 'string' && value !== '',
    );
    if (appId === undefined) throw new TokenRefusedError('malformed');
    return { entraTenantId: claims.tid.toLowerCase(), appId: appId.slice(0, 200), rolesClaim: claims.roles };
  }
}
