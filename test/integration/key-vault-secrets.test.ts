import { Writable } from 'node:stream';
import { loadConfig } from '../../runtime/config';
import { createLogger } from '../../runtime/logger';
import { KEY_VAULT_SECRET_NAMES, SecretsError, loadSecrets } from '../../runtime/secrets';
import type { SecretSource, SecretValues } from '../../runtime/secrets';
import { VAULT_DIRECTORY, startFakeKeyVault } from '../helpers/fake-key-vault';
import type { FakeKeyVault } from '../helpers/fake-key-vault';
import { createTestCertificates } from '../helpers/test-ca';
import type { TestCertificates } from '../helpers/test-ca';

const SESSION_OLD = 'session-secret-old-0123456789abcdef0123456789';
const SESSION_NEW = 'session-secret-new-fedcba9876543210fedcba9876';
const DATABASE_PASSWORD = 'database-password-5be1c0de';
const ENTRA_SECRET = 'entra-client-secret-9d2f7a11';

let certificates: TestCertificates;
let vault: FakeKeyVault;
const open: SecretSource[] = [];

/** Log lines, kept to look for secret values in. */
const logLines: string[] = [];
const logger = createLogger({
  level: 'debug',
  destination: new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString());
      done();
    },
  }),
});

function configFor(environment: Record<string, string> = {}) {
  return loadConfig({ KEY_VAULT_URL: vault.url, KEY_VAULT_REFRESH: '200ms', ...environment });
}

async function load(environment?: Record<string, string>): Promise<SecretSource> {
  const source = await loadSecrets(configFor(environment), logger, vault.access);
  open.push(source);
  return source;
}

function nextChange(source: SecretSource): Promise<SecretValues> {
  return new Promise((resolve) => {
    source.onChange(resolve);
  });
}

beforeAll(async () => {
  certificates = createTestCertificates();
  vault = await startFakeKeyVault(certificates);
});

beforeEach(() => {
  vault.secrets.clear();
  vault.secrets.set(KEY_VAULT_SECRET_NAMES.sessionSecrets, `${SESSION_OLD}\n`);
  vault.secrets.set(KEY_VAULT_SECRET_NAMES.databasePassword, DATABASE_PASSWORD);
  vault.secrets.set(KEY_VAULT_SECRET_NAMES.entraClientSecret, ENTRA_SECRET);
  vault.failWith = undefined;
});

afterEach(() => {
  for (const source of open.splice(0)) source.close();
});

afterAll(async () => {
  await vault.close();
  certificates.dispose();
  // Whatever happened above, no secret value reached a log line.
  const log = logLines.join('');
  for (const secret of [SESSION_OLD, SESSION_NEW, DATABASE_PASSWORD, ENTRA_SECRET]) {
    expect(log).not.toContain(secret);
  }
});

describe('secrets from Azure Key Vault (the real SDK against a local endpoint)', () => {
  it('reads every secret through Key Vault’s bearer challenge, with the credential asked for the vault’s token', async () => {
    const source = await load();
    expect(source.kind).toBe('key-vault');
    expect(source.current()).toEqual({
      sessionSecrets: [SESSION_OLD],
      databasePassword: DATABASE_PASSWORD,
      entraClientSecret: ENTRA_SECRET,
      entraClientCertificate: undefined,
    });
    // The first request went out without a token and was challenged; the rest carried the token.
    expect(vault.requests[0]?.authorized).toBe(false);
    expect(vault.requests.filter((r) => r.authorized).map((r) => r.path)).toEqual(
      expect.arrayContaining(Object.values(KEY_VAULT_SECRET_NAMES).map((name) => `/secrets/${name}/`)),
    );
    expect(vault.tokenRequests[0]).toEqual({
      scopes: ['https://vault.azure.net/.default'],
      tenantId: VAULT_DIRECTORY,
    });
  });

  it('picks up a rotation on the next refresh: the new session secret first, the old one still verifying', async () => {
    const source = await load();
    const changed = nextChange(source);
    vault.secrets.set(KEY_VAULT_SECRET_NAMES.sessionSecrets, `${SESSION_NEW}\n${SESSION_OLD}`);
    expect((await changed).sessionSecrets).toEqual([SESSION_NEW, SESSION_OLD]);
    expect(source.current().sessionSecrets).toEqual([SESSION_NEW, SESSION_OLD]);
  });

  it('keeps the secrets it has when a refresh fails, and says which secret and why without its value', async () => {
    const source = await load();
    vault.failWith = 403;
    const before = logLines.length;
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(source.current().entraClientSecret).toBe(ENTRA_SECRET);
    const warnings = logLines.slice(before).filter((line) => line.includes('Key Vault refresh failed'));
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings[0]).toMatch(/eucora-[a-z-]+ could not be read \(HTTP 403, Forbidden\)/);
  });

  it.each([
    [
      'the session secrets are missing',
      () => vault.secrets.delete(KEY_VAULT_SECRET_NAMES.sessionSecrets),
      /eucora-session-secrets is missing/,
    ],
    [
      'a session secret is short',
      () => vault.secrets.set(KEY_VAULT_SECRET_NAMES.sessionSecrets, 'short'),
      /at least 32 characters/,
    ],
    ['the vault refuses', () => (vault.failWith = 403), /could not be read \(HTTP 403, Forbidden\)/],
  ])('refuses to start when %s, naming the secret', async (_case, arrange, message) => {
    arrange();
    const failure = loadSecrets(configFor(), logger, vault.access);
    await expect(failure).rejects.toThrow(SecretsError);
    await expect(failure).rejects.toThrow(message);
  });

  it('requires an Entra ID credential in the vault when Entra ID sign-in is configured', async () => {
    vault.secrets.delete(KEY_VAULT_SECRET_NAMES.entraClientSecret);
    const entra = {
      ENTRA_CLIENT_ID: 'eucora',
      ENTRA_TENANTS: JSON.stringify({ contoso: VAULT_DIRECTORY }),
    };
    await expect(loadSecrets(configFor(entra), logger, vault.access)).rejects.toThrow(
      /neither eucora-entra-client-secret nor eucora-entra-client-certificate/,
    );
    vault.secrets.set(KEY_VAULT_SECRET_NAMES.entraClientCertificate, '-----BEGIN PRIVATE KEY-----…');
    expect((await load(entra)).current().entraClientCertificate).toContain('PRIVATE KEY');
  });

  it('takes the environment’s values when KEY_VAULT_URL is unset', async () => {
    const source = await loadSecrets(
      loadConfig({ SESSION_SECRET: `${SESSION_NEW},${SESSION_OLD}`, ENTRA_CLIENT_SECRET: ENTRA_SECRET }),
      logger,
    );
    expect(source.kind).toBe('environment');
    expect(source.current()).toMatchObject({
      sessionSecrets: [SESSION_NEW, SESSION_OLD],
      entraClientSecret: ENTRA_SECRET,
    });
    source.onChange(() => undefined);
    source.close();
  });
});
