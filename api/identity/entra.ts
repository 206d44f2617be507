import type { EntraConfig } from '../../runtime/config';
import type { Logger } from '../../runtime/logger';
import { EntraSignIn, discoveryUrlOf } from './entra-sign-in';
import type { EntraCredentials } from './entra-sign-in';
import { OpenIdIssuer } from './openid-issuer';
import { ServicePrincipalVerifier } from './service-principals';

/** Entra ID for the API: people's sign-in and service principals' tokens, against one issuer. */
export interface EntraIdentity {
  readonly config: EntraConfig;
  readonly signIn: EntraSignIn;
  readonly servicePrincipals: ServicePrincipalVerifier;
}

export function createEntraIdentity(
  config: EntraConfig,
  deps: {
    readonly credentials: () => EntraCredentials;
    readonly logger: Logger;
    /** How the provider is reached; the platform's fetch unless a test trusts its own CA. */
    readonly fetch?: typeof fetch;
  },
): EntraIdentity {
  const fetchIssuer = deps.fetch ?? globalThis.fetch;
  const issuer = new OpenIdIssuer({ discoveryUrl: discoveryUrlOf(config), fetch: fetchIssuer });
  return {
    config,
    signIn: new EntraSignIn(config, issuer, {
      fetch: fetchIssuer,
      credentials: deps.credentials,
      logger: deps.logger,
    }),
    servicePrincipals: new ServicePrincipalVerifier(config, issuer),
  };
}
