import { randomUUID } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { KeyVaultAccess } from '../../runtime/secrets';
import type { TestCertificates } from './test-ca';

/** The directory Key Vault's challenge names; the credential is asked for a token there. */
export const VAULT_DIRECTORY = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const ACCESS_TOKEN = `kv-access-token-${randomUUID()}`;

export interface FakeKeyVault {
  readonly url: string;
  /** Secrets by name; change them to rotate. */
  readonly secrets: Map<string, string>;
  /** Every request, in order: the path and whether it carried the expected bearer token. */
  readonly requests: { readonly path: string; readonly authorized: boolean }[];
  /** Scopes and directory the SDK asked the credential for. */
  readonly tokenRequests: { readonly scopes: string[]; readonly tenantId: string | undefined }[];
  /** How EUCORA reaches this vault: a credential that hands out its token, and an agent trusting the CA. */
  readonly access: KeyVaultAccess;
  /** While set, every secret read answers this status (an outage, a permission removed). */
  failWith: number | undefined;
  close(): Promise<void>;
}

/**
 * Azure Key Vault has no local emulator. This is a local HTTPS endpoint implementing the secrets REST
 * calls the real `@azure/keyvault-secrets` client makes (`GET /secrets/{name}/{version}?api-version=…`),
 * including Key Vault's bearer challenge: a request without a token is answered 401 with
 * `WWW-Authenticate: Bearer authorization="…/<directory>", resource="https://vault.azure.net"`, after which
 * the SDK asks its credential for a token for that resource and directory and repeats the request.
 */
export async function startFakeKeyVault(certificates: TestCertificates): Promise<FakeKeyVault> {
  const secrets = new Map<string, string>();
  const requests: { path: string; authorized: boolean }[] = [];
  const tokenRequests: { scopes: string[]; tenantId: string | undefined }[] = [];
  const vault: { failWith: number | undefined } = { failWith: undefined };

  const server = https.createServer({ key: certificates.key, cert: certificates.cert }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://vault.local');
    const authorized = req.headers.authorization === `Bearer ${ACCESS_TOKEN}`;
    requests.push({ path: url.pathname, authorized });
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(body));
    };
    if (!url.searchParams.has('api-version')) {
      json(400, { error: { code: 'MissingApiVersionParameter', message: 'api-version is required' } });
      return;
    }
    if (!authorized) {
      json(
        401,
        { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } },
        {
          'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${VAULT_DIRECTORY}", resource="https://vault.azure.net"`,
        },
      );
      return;
    }
    const match = /^\/secrets\/([0-9A-Za-z-]+)\/?([0-9a-f]*)$/.exec(url.pathname);
    if (req.method !== 'GET' || match === null) {
      json(400, { error: { code: 'BadParameter', message: 'not a secret read' } });
      return;
    }
    if (vault.failWith !== undefined) {
      json(vault.failWith, { error: { code: 'Forbidden', message: 'The vault refuses for now.' } });
      return;
    }
    const name = match[1] ?? '';
    const value = secrets.get(name);
    if (value === undefined) {
      json(404, {
        error: {
          code: 'SecretNotFound',
          message: `A secret with (name/id) ${name} was not found in this key vault.`,
        },
      });
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    json(200, {
      value,
      id: `${baseUrl}/secrets/${name}/0123456789abcdef0123456789abcdef`,
      attributes: { enabled: true, created: now, updated: now, recoveryLevel: 'Recoverable+Purgeable' },
      tags: {},
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `https://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  const agent = new https.Agent({ ca: certificates.ca });

  return Object.assign(vault, {
    url: baseUrl,
    secrets,
    requests,
    tokenRequests,
    access: {
      credential: {
        getToken: (scopes: string | string[], options?: { tenantId?: string }) => {
          tokenRequests.push({ scopes: [scopes].flat(), tenantId: options?.tenantId });
          return Promise.resolve({ token: ACCESS_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 });
        },
      },
      // The vault is 127.0.0.1, not *.vault.azure.net: the SDK's check of the challenge's resource is off.
      clientOptions: { agent, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } },
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  });
}
