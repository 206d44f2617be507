import { createHmac, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { chromium } from 'playwright-core';
import { loadConfig } from '../../runtime/config';
import { createLogger } from '../../runtime/logger';
import { KEY_VAULT_SECRET_NAMES } from '../../runtime/secrets';
import { startSystem } from '../../runtime/system';
import type { RunningSystem } from '../../runtime/system';
import {
  ACCOUNTS,
  API_RESOURCE,
  CLIENT_ID,
  CLIENT_SECRET,
  DIRECTORY_A,
  startEntraFixture,
} from '../helpers/entra-fixture';
import type { EntraFixture } from '../helpers/entra-fixture';
import { startFakeKeyVault } from '../helpers/fake-key-vault';
import type { FakeKeyVault } from '../helpers/fake-key-vault';
import { freePort } from '../helpers/free-port';
import { TENANT_A } from '../helpers/harness';
import { ProviderUserAgent } from '../helpers/provider-user-agent';

/**
 * The process as `npm start` / `node dist/api/server.js` wires it (startSystem), configured from the
 * environment for production-like sign-in: secrets from Key Vault, people and service principals from
 * Entra ID (the test OpenID Provider), sessions in Redis when REDIS_URL is set.
 */

const CHROMIUM = '/usr/bin/chromium';
const SESSION_OLD = `session-old-${randomUUID()}`;
const SESSION_NEW = `session-new-${randomUUID()}`;
const WRONG_CLIENT_SECRET = `wrong-client-secret-${randomUUID()}`;

let entra: EntraFixture;
let vault: FakeKeyVault;
let system: RunningSystem;
let publicUrl: string;
let dataDir: string;

const logLines: string[] = [];
/** Every response body the tests saw: none may carry a secret. */
const bodies: string[] = [];
/** Credentials the tests handled besides the configured secrets: codes, tokens, API keys. None may be logged. */
const credentials: string[] = [];

function waitForLog(fragment: string, after: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const poll = () => {
      if (logLines.slice(after).some((line) => line.includes(fragment))) resolve();
      else if (Date.now() > deadline) reject(new Error(`no log line with "${fragment}"`));
      else setTimeout(poll, 50);
    };
    poll();
  });
}

/** Key Vault changed; resolves once the process refreshed from it. */
async function rotate(name: string, value: string): Promise<void> {
  const mark = logLines.length;
  vault.secrets.set(name, value);
  await waitForLog('secrets refreshed from Key Vault', mark);
}

/** A minimal browser on plain HTTP to EUCORA: keeps its one session cookie, follows nothing by itself. */
class EucoraBrowser {
  cookie: string | undefined;

  async get(pathAndQuery: string): Promise<Response> {
    const response = await fetch(`${publicUrl}${pathAndQuery}`, {
      redirect: 'manual',
      headers: this.cookie === undefined ? {} : { cookie: this.cookie },
    });
    const set = response.headers.getSetCookie().find((c) => c.startsWith('eucora.sid='));
    if (set !== undefined) this.cookie = set.split(';')[0];
    bodies.push(await response.clone().text());
    return response;
  }

  /** An unsafe request as the console sends it: JSON, from EUCORA's own origin. */
  async post(pathAndQuery: string, body: unknown): Promise<Response> {
    const response = await fetch(`${publicUrl}${pathAndQuery}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        origin: publicUrl,
        ...(this.cookie === undefined ? {} : { cookie: this.cookie }),
      },
      body: JSON.stringify(body),
    });
    return response;
  }

  /** The whole redirect flow; resolves with the callback's answer. */
  async signIn(login: string): Promise<Response> {
    const begin = await this.get('/api/v1/auth/login');
    expect(begin.status).toBe(302);
    const agent = new ProviderUserAgent(entra.fetch, new URL(entra.provider.issuer).origin);
    const back = await agent.signIn(begin.headers.get('location') ?? '', login);
    credentials.push(back.searchParams.get('code') ?? '');
    return this.get(`${back.pathname}${back.search}`);
  }
}

/** The secret that signed a session cookie (`s:<id>.<HMAC-SHA256>`, express-session's format). */
function signedWith(cookie: string, secrets: readonly string[]): string | undefined {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1)).slice(2);
  const id = value.slice(0, value.lastIndexOf('.'));
  return secrets.find(
    (secret) =>
      `${id}.${createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '')}` === value,
  );
}

beforeAll(async () => {
  const port = await freePort();
  publicUrl = `http://127.0.0.1:${String(port)}`;
  entra = await startEntraFixture(publicUrl);
  vault = await startFakeKeyVault(entra.certificates);
  vault.secrets.set(KEY_VAULT_SECRET_NAMES.sessionSecrets, SESSION_OLD);
  vault.secrets.set(KEY_VAULT_SECRET_NAMES.entraClientSecret, CLIENT_SECRET);
  dataDir = mkdtempSync(path.join(tmpdir(), 'eucora-system-sign-in-'));

  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: publicUrl,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'debug',
    TEMPORAL_ADDRESS: process.env.EUCORA_TEST_TEMPORAL_ADDRESS ?? '',
    TEMPORAL_TASK_QUEUE: `eucora-system-sign-in-${randomUUID()}`,
    ...(process.env.REDIS_URL === undefined ? {} : { REDIS_URL: process.env.REDIS_URL }),
    DEV_LOGIN: 'false',
    KEY_VAULT_URL: vault.url,
    KEY_VAULT_REFRESH: '250ms',
    ENTRA_CLIENT_ID: CLIENT_ID,
    ENTRA_AUTHORITY: entra.provider.issuer,
    ENTRA_TENANTS: JSON.stringify({ [TENANT_A]: DIRECTORY_A }),
    ENTRA_API_AUDIENCE: API_RESOURCE,
  });
  const logger = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString());
        done();
      },
    }),
  });
  system = await startSystem(config, logger, 'api', { keyVault: vault.access, issuerFetch: entra.fetch });
});

afterAll(async () => {
  await (system as RunningSystem | undefined)?.stop();
  await (vault as FakeKeyVault | undefined)?.close();
  await (entra as EntraFixture | undefined)?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('sign-in in the running process, with its secrets from Key Vault', () => {
  it('offers Entra ID and no dev login', async () => {
    const options = await new EucoraBrowser().get('/api/v1/auth/options');
    expect(await options.json()).toEqual({ dev_login: false, entra: { login_url: '/api/v1/auth/login' } });
    expect((await new EucoraBrowser().get('/api/v1/auth/dev-login')).status).toBe(404);
  });

  it('links tenant A to its directory at start-up, and says so in the tenant’s trail', async () => {
    // Alice is a CAB member, who may read the trail.
    const browser = new EucoraBrowser();
    expect((await browser.signIn('alice')).status).toBe(302);
    const trail = await browser.get('/api/v1/events?event_type=TENANT_DIRECTORY_LINKED');
    expect(await trail.json()).toMatchObject({
      items: [{ actor: 'configuration', payload: { entra_tenant_id: DIRECTORY_A } }],
    });
  });

  it('signs a person in with the client secret read from Key Vault, and signs the cookie with its session secret', async () => {
    const browser = new EucoraBrowser();
    const landed = await browser.signIn('alice');
    expect(landed.status).toBe(302);
    expect(signedWith(browser.cookie ?? '', [SESSION_OLD])).toBe(SESSION_OLD);
    const me = await browser.get('/api/v1/auth/me');
    expect(await me.json()).toMatchObject({ id: ACCOUNTS.alice!.oid, tenant_id: TENANT_A });
  });

  it('rotates session secrets from Key Vault without signing anyone out, and retires the old one', async () => {
    const before = new EucoraBrowser();
    expect((await before.signIn('alice')).status).toBe(302);
    // The cookie as signed with the old secret (answers re-sign it as the session rolls on).
    const signedWithOld = before.cookie;

    await rotate(KEY_VAULT_SECRET_NAMES.sessionSecrets, `${SESSION_NEW}\n${SESSION_OLD}`);
    expect((await before.get('/api/v1/auth/me')).status).toBe(200);
    const after = new EucoraBrowser();
    expect((await after.signIn('alice')).status).toBe(302);
    expect(signedWith(after.cookie ?? '', [SESSION_OLD, SESSION_NEW])).toBe(SESSION_NEW);

    await rotate(KEY_VAULT_SECRET_NAMES.sessionSecrets, SESSION_NEW);
    const stale = new EucoraBrowser();
    stale.cookie = signedWithOld;
    expect((await stale.get('/api/v1/auth/me')).status).toBe(401);
    // The session that kept being used was re-signed with the new secret and goes on.
    expect((await before.get('/api/v1/auth/me')).status).toBe(200);
    expect((await after.get('/api/v1/auth/me')).status).toBe(200);
  });

  it('uses a rotated Entra client secret from the next sign-in on; a wrong one is a 503 for the operator to fix, not a leak', async () => {
    await rotate(KEY_VAULT_SECRET_NAMES.entraClientSecret, WRONG_CLIENT_SECRET);
    const mark = logLines.length;
    const refused = await new EucoraBrowser().signIn('alice');
    expect(refused.status).toBe(503);
    expect(await refused.clone().json()).toMatchObject({
      type: expect.stringContaining('service-unavailable') as string,
    });
    await waitForLog("the provider refused EUCORA's client credential (invalid_client)", mark);

    await rotate(KEY_VAULT_SECRET_NAMES.entraClientSecret, CLIENT_SECRET);
    expect((await new EucoraBrowser().signIn('alice')).status).toBe(302);
  });

  /** GET /auth/me with `Authorization: Bearer <credential>`. */
  async function meWith(credential: string): Promise<Response> {
    credentials.push(credential);
    const response = await fetch(`${publicUrl}/api/v1/auth/me`, {
      headers: { authorization: `Bearer ${credential}` },
    });
    bodies.push(await response.clone().text());
    return response;
  }

  it('accepts a service principal’s access token, and refuses one issued for another API', async () => {
    const accepted = await meWith(await entra.accessToken('intuneConnector'));
    expect(await accepted.json()).toMatchObject({ kind: 'connector', connector_type: 'intune' });
    const refused = await meWith(await entra.accessToken('intuneConnector', 'api://someone-elses-api'));
    expect(refused.status).toBe(401);
  });

  it('issues an admin an API key, shown once, which then authenticates its connector', async () => {
    const admin = new EucoraBrowser();
    expect((await admin.signIn('dana')).status).toBe(302);
    const issued = await admin.post('/api/v1/connector-credentials', {
      connector_type: 'jamf',
      name: 'hygiene-check',
    });
    expect(issued.status).toBe(201);
    const { api_key: apiKey } = (await issued.json()) as { api_key: string };
    const me = await meWith(apiKey);
    expect(await me.json()).toMatchObject({ kind: 'connector', connector_type: 'jamf' });
    expect((await meWith(`${apiKey.slice(0, -4)}xxxx`)).status).toBe(401);
  });

  it('never wrote a secret or a credential to a log line, nor a secret to an error body', () => {
    const log = logLines.join('\n');
    expect(logLines.length).toBeGreaterThan(10);
    expect(credentials.length).toBeGreaterThan(5);
    for (const secret of [SESSION_OLD, SESSION_NEW, CLIENT_SECRET, WRONG_CLIENT_SECRET]) {
      expect(log).not.toContain(secret);
      expect(bodies.join('\n')).not.toContain(secret);
    }
    for (const credential of credentials.filter((value) => value.length >= 16)) {
      expect(log).not.toContain(credential);
    }
  });
});

describe('in a real browser (Debian’s Chromium through playwright-core)', () => {
  it('signs a person in: EUCORA → the provider’s login and consent pages → callback → return_to', async () => {
    expect(existsSync(CHROMIUM)).toBe(true);
    const profile = mkdtempSync(path.join(tmpdir(), 'eucora-chromium-'));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // Trust exactly the provider's test certificate, nothing else.
        `--ignore-certificate-errors-spki-list=${entra.certificates.spkiSha256}`,
      ],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${publicUrl}/api/v1/auth/login?return_to=${encodeURIComponent('/api/v1/auth/me')}`);
      expect(page.url().startsWith(new URL(entra.provider.issuer).origin)).toBe(true);
      await page.fill('input[name="login"]', 'alice');
      await page.fill('input[name="password"]', 'anything');
      await page.click('button[type="submit"]');
      // The consent page.
      await page.waitForSelector('button[type="submit"]');
      await Promise.all([
        page.waitForURL(`${publicUrl}/api/v1/auth/me`),
        page.click('button[type="submit"]'),
      ]);
      const me = JSON.parse((await page.textContent('body')) ?? '{}') as Record<string, unknown>;
      expect(me).toMatchObject({
        id: ACCOUNTS.alice!.oid,
        tenant_id: TENANT_A,
        roles: ['submitter', 'cab_member'],
      });
      const cookies = await browser.cookies(publicUrl);
      expect(cookies.find((cookie) => cookie.name === 'eucora.sid')).toMatchObject({
        httpOnly: true,
        sameSite: 'Lax',
      });
    } finally {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });
});
