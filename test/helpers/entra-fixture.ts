import { randomUUID } from 'node:crypto';
import { createEntraIdentity } from '../../api/identity/entra';
import type { EntraIdentity } from '../../api/identity/entra';
import { loadConfig } from '../../runtime/config';
import type { EntraConfig } from '../../runtime/config';
import { createLogger } from '../../runtime/logger';
import type { DataStore } from '../../db/tenant-store';
import { fetchTrusting, startOpenIdProvider } from './openid-provider';
import type { OpenIdProviderHandle, ProviderAccount } from './openid-provider';
import { createTestCertificates } from './test-ca';
import type { TestCertificates } from './test-ca';
import { TENANT_A } from './harness';

/** EUCORA's application registration at the test provider. */
export const CLIENT_ID = 'eucora-control-plane';
export const CLIENT_SECRET = 'eucora-client-secret-value-7f3a9c';
/** The App ID URI service principals ask tokens for. */
export const API_RESOURCE = 'api://eucora-control-plane';

/** Directory ids: A is tenant A's directory, FOREIGN is linked to no tenant. */
export const DIRECTORY_A = randomUUID();
export const DIRECTORY_FOREIGN = randomUUID();

/** People at the provider, by login name. */
export const ACCOUNTS: Record<string, ProviderAccount> = {
  alice: {
    tid: DIRECTORY_A,
    oid: randomUUID(),
    name: 'Alice Packager',
    preferred_username: 'alice@contoso.example',
    email: 'alice@contoso.example',
    roles: ['EUCORA.Submitter', 'EUCORA.CabMember'],
  },
  dana: {
    tid: DIRECTORY_A,
    oid: randomUUID(),
    name: 'Dana Admin',
    preferred_username: 'dana@contoso.example',
    roles: ['EUCORA.Admin'],
  },
  carol: {
    tid: DIRECTORY_A,
    oid: randomUUID(),
    name: 'Carol NoRole',
    preferred_username: 'carol@contoso.example',
    roles: ['SomeOtherApp.Reader'],
  },
  mallory: {
    tid: DIRECTORY_FOREIGN,
    oid: randomUUID(),
    name: 'Mallory Elsewhere',
    preferred_username: 'mallory@fabrikam.example',
    roles: ['EUCORA.Admin'],
  },
};

/** Applications at the provider that use client credentials (service principals), by client id. */
export const SERVICE_PRINCIPALS = {
  intuneConnector: { roles: ['EUCORA.Connector.Intune'], tid: DIRECTORY_A },
  pipeline: { roles: ['EUCORA.Submitter'], tid: DIRECTORY_A },
  noRoles: { roles: [], tid: DIRECTORY_A },
  confused: { roles: ['EUCORA.Connector.Intune', 'EUCORA.Admin'], tid: DIRECTORY_A },
  foreign: { roles: ['EUCORA.Connector.Intune'], tid: DIRECTORY_FOREIGN },
} as const;
export type ServicePrincipalName = keyof typeof SERVICE_PRINCIPALS;

export interface EntraFixture {
  readonly certificates: TestCertificates;
  readonly provider: OpenIdProviderHandle;
  readonly config: EntraConfig;
  /** `fetch` trusting the test CA, as EUCORA's process would with NODE_EXTRA_CA_CERTS. */
  readonly fetch: typeof fetch;
  identity(): EntraIdentity;
  /** A client-credentials access token for one of SERVICE_PRINCIPALS, optionally for another resource. */
  accessToken(name: ServicePrincipalName, resource?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The OpenID Provider with EUCORA registered at it, and the EntraConfig EUCORA reads from the
 * environment for it: `publicUrl` is EUCORA's origin, whose callback the provider redirects to.
 */
export async function startEntraFixture(
  publicUrl: string,
  extraRedirectUris: readonly string[] = [],
): Promise<EntraFixture> {
  const certificates = createTestCertificates();
  const redirectUri = `${publicUrl}/api/v1/auth/callback`;
  const secrets = new Map(Object.keys(SERVICE_PRINCIPALS).map((name) => [name, `${name}-${randomUUID()}`]));
  const provider = await startOpenIdProvider({
    certificates,
    accounts: ACCOUNTS,
    apiResource: API_RESOURCE,
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [redirectUri, ...extraRedirectUris],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
      ...Object.entries(SERVICE_PRINCIPALS).map(([name, principal]) => ({
        client_id: name,
        client_secret: secrets.get(name) ?? '',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_post',
        tenant_id: principal.tid,
        app_roles: principal.roles,
      })),
    ],
  });
  const config = loadConfig({
    PUBLIC_URL: publicUrl,
    ENTRA_CLIENT_ID: CLIENT_ID,
    ENTRA_CLIENT_SECRET: CLIENT_SECRET,
    ENTRA_AUTHORITY: provider.issuer,
    ENTRA_TENANTS: JSON.stringify({ [TENANT_A]: DIRECTORY_A }),
    ENTRA_API_AUDIENCE: API_RESOURCE,
  }).entra;
  if (config === undefined) throw new Error('Entra ID configuration did not load');
  const fetchIssuer = fetchTrusting(certificates.ca);
  let tokenEndpoint: string | undefined;

  return {
    certificates,
    provider,
    config,
    fetch: fetchIssuer,
    identity: () =>
      createEntraIdentity(config, {
        credentials: () => ({ clientSecret: CLIENT_SECRET, clientCertificate: undefined }),
        logger: createLogger({ level: 'silent' }),
        fetch: fetchIssuer,
      }),
    async accessToken(name, resource) {
      if (tokenEndpoint === undefined) {
        const discovery = await fetchIssuer(`${provider.issuer}/.well-known/openid-configuration`);
        tokenEndpoint = ((await discovery.json()) as { token_endpoint: string }).token_endpoint;
      }
      const secret = secrets.get(name) ?? '';
      const response = await fetchIssuer(tokenEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: name,
          client_secret: secret,
          ...(resource === undefined ? {} : { resource }),
        }).toString(),
      });
      const body = (await response.json()) as { access_token?: string };
      if (body.access_token === undefined) throw new Error(`no access token: ${JSON.stringify(body)}`);
      return body.access_token;
    },
    async close() {
      await provider.close();
      certificates.dispose();
    },
  };
}

/** Links tenant A to its directory, as start-up does from ENTRA_TENANTS. */
export async function linkDirectories(store: DataStore, config: EntraConfig): Promise<void> {
  await store.tenants.synchronise(config.tenants, [], new Date());
}
