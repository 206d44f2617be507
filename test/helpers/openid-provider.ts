import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import https from 'node:https';
import path from 'node:path';
import { freePort } from './free-port';
import type { TestCertificates } from './test-ca';

const PROVIDER_SCRIPT = path.resolve(__dirname, '../fixtures/openid-provider/provider.mjs');

/** A person the provider knows, with the claims Entra ID would put in their ID token. */
export interface ProviderAccount {
  readonly tid: string;
  readonly oid: string;
  readonly name: string;
  readonly preferred_username: string;
  readonly email?: string;
  readonly roles?: readonly string[];
}

/** An application registered at the provider (EUCORA itself, or a service principal). */
export interface ProviderClient {
  readonly client_id: string;
  readonly client_secret: string;
  readonly redirect_uris?: readonly string[];
  readonly grant_types: readonly string[];
  readonly response_types?: readonly string[];
  readonly token_endpoint_auth_method?: string;
  /** For client-credentials clients: the directory and app roles their tokens carry. */
  readonly tenant_id?: string;
  readonly app_roles?: readonly string[];
}

export interface ProviderQuirks {
  /** The provider's clock runs this far off: a negative offset issues tokens that are already expired. */
  readonly clockOffsetSeconds?: number;
  /** ID tokens name this audience instead of the client that redeemed the code. */
  readonly idTokenAudience?: string | null;
}

export interface OpenIdProviderHandle {
  readonly issuer: string;
  /** Makes the provider misbehave from the next token on; `reset()` undoes it. */
  setQuirks(quirks: ProviderQuirks): Promise<void>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

function awaitMessage<T>(child: ChildProcess, pick: (message: Record<string, unknown>) => T | undefined) {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (message: Record<string, unknown>) => {
      const value = pick(message);
      if (value === undefined) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(value);
    };
    const onExit = (code: number | null) => {
      child.off('message', onMessage);
      reject(new Error(`the OpenID Provider exited with ${String(code)}`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/**
 * Starts the OpenID Provider (test/fixtures/openid-provider/provider.mjs, the `oidc-provider` package) in
 * its own Node process, on https://127.0.0.1:<free port>/<tenant path> with the test CA's certificate.
 */
export async function startOpenIdProvider(options: {
  readonly certificates: TestCertificates;
  readonly accounts: Record<string, ProviderAccount>;
  readonly clients: readonly ProviderClient[];
  /** The resource (audience) client-credentials tokens are issued for unless the client asks for another. */
  readonly apiResource: string;
}): Promise<OpenIdProviderHandle> {
  const port = await freePort();
  const issuer = `https://127.0.0.1:${String(port)}/${randomUUID()}/v2.0`;
  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const child = fork(PROVIDER_SCRIPT, [], {
    execArgv: [],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: {
      PATH: process.env.PATH,
      OP_SETUP: JSON.stringify({
        issuer,
        port,
        accounts: options.accounts,
        clients: options.clients,
        apiResource: options.apiResource,
        jwks: { keys: [{ ...signingKey, kid: randomUUID(), use: 'sig', alg: 'RS256' }] },
        tls: { cert: options.certificates.cert, key: options.certificates.key },
      }),
    },
  });
  // The provider warns that its in-memory store and built-in login pages are for development: true, and
  // what a test wants. Anything else it says goes to the test's output.
  child.stderr?.on('data', (chunk: Buffer) => {
    const lines = chunk
      .toString()
      .split('\n')
      .filter(
        (line) => line !== '' && !line.startsWith('oidc-provider WARNING: a quick start development-only'),
      );
    if (lines.length > 0) process.stderr.write(`${lines.join('\n')}\n`);
  });
  await awaitMessage(child, (message) => message.ready);

  const setQuirks = async (quirks: ProviderQuirks) => {
    if (!child.connected) throw new Error('the OpenID Provider has stopped');
    const applied = awaitMessage(child, (message) => message.quirksApplied);
    child.send({ quirks });
    await applied;
  };
  return {
    issuer,
    setQuirks,
    reset: async () => {
      if (child.connected) await setQuirks({ clockOffsetSeconds: 0, idTokenAudience: null });
    },
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await exited;
    },
  };
}

/**
 * `fetch` that trusts the test CA: what EUCORA's process would get from NODE_EXTRA_CA_CERTS, for the
 * jest process that started long before the CA existed.
 */
export function fetchTrusting(ca: string): typeof fetch {
  const agent = new https.Agent({ ca, keepAlive: false });
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.protocol !== 'https:') return fetch(request);
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    return new Promise<Response>((resolve, reject) => {
      const outgoing = https.request(
        url,
        { method: request.method, headers: Object.fromEntries(request.headers), agent },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
          incoming.on('end', () => {
            const headers = new Headers();
            for (const [name, value] of Object.entries(incoming.headers)) {
              for (const one of Array.isArray(value) ? value : [value ?? '']) headers.append(name, one);
            }
            const status = incoming.statusCode ?? 500;
            const nullBody = status === 204 || status === 304 || (status >= 300 && status < 400);
            resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, headers }));
          });
          incoming.on('error', reject);
        },
      );
      outgoing.on('error', reject);
      request.signal.addEventListener('abort', () => outgoing.destroy(new Error('aborted')));
      outgoing.end(body);
    });
  };
}
