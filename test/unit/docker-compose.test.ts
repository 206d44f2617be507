import { readFileSync } from 'node:fs';
import path from 'node:path';
import express from 'express';
import { parse } from 'yaml';
import { loadConfig } from '../../runtime/config';
import { heapLimitDecision } from '../../runtime/heap-limit';

/**
 * docker-compose.yml is kept correct by reading (no Docker engine here): these tests read it as Compose
 * would — YAML, then `${VAR}`, `${VAR:-default}` and `${VAR:?error}` interpolation — and hand the API's
 * environment to the same configuration loader the container runs.
 */
const COMPOSE_FILE = path.resolve(__dirname, '../../docker-compose.yml');

interface ComposeService {
  readonly environment?: Record<string, string>;
  readonly ports?: string[];
}
interface ComposeFile {
  readonly services: Record<string, ComposeService>;
}

class MissingVariableError extends Error {}

/** Compose's interpolation: `${VAR:?message}` refuses to start when VAR is unset or empty. */
function interpolate(text: string, variables: Record<string, string>): string {
  return text.replace(
    /\$\{([A-Z0-9_]+)(?::([?-])([^}]*))?\}/g,
    (_match, name: string, kind, rest: string) => {
      const value = variables[name];
      if (value !== undefined && value !== '') return value;
      if (kind === '?') throw new MissingVariableError(`${name}: ${rest}`);
      return kind === '-' ? rest : '';
    },
  );
}

const SETTINGS: Record<string, string> = {
  PUBLIC_URL: 'https://eucora.contoso.example',
  POSTGRES_PASSWORD: 'c0ffee0123456789c0ffee0123456789',
  SESSION_SECRET: 'a-session-secret-of-forty-characters-0001',
  ENTRA_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
  ENTRA_TENANTS: '{"contoso":"72f988bf-86f1-41af-91ab-2d7cd011db47"}',
  ENTRA_CLIENT_SECRET: 'an-entra-client-secret',
};

/** Compose parses the YAML first and interpolates each string value after, as here. */
function interpolateValues(value: unknown, variables: Record<string, string>): unknown {
  if (typeof value === 'string') return interpolate(value, variables);
  if (Array.isArray(value)) return value.map((item) => interpolateValues(item, variables));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, interpolateValues(item, variables)]),
    );
  }
  return value;
}

function composeWith(variables: Record<string, string>): ComposeFile {
  return interpolateValues(
    parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }),
    variables,
  ) as ComposeFile;
}

describe('docker-compose.yml', () => {
  const raw = readFileSync(COMPOSE_FILE, 'utf8');

  it('runs the API and the worker in production mode, with a configuration the loader accepts', () => {
    const compose = composeWith(SETTINGS);
    for (const name of ['api', 'worker']) {
      const environment = compose.services[name]?.environment ?? {};
      expect(environment.NODE_ENV).toBe('production');
      expect(environment.DEV_LOGIN).toBeUndefined();
      const config = loadConfig(environment);
      expect(config).toMatchObject({ env: 'production', devLogin: false, redisUrl: 'redis://redis:6379' });
      expect(config.entra).toMatchObject({
        clientId: SETTINGS.ENTRA_CLIENT_ID,
        redirectUri: 'https://eucora.contoso.example/api/v1/auth/callback',
        tenants: [{ tenantId: 'contoso', entraTenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47' }],
      });
      expect(config.database.url).toBe(
        `postgres://eucora:${SETTINGS.POSTGRES_PASSWORD!}@postgres:5432/eucora`,
      );
    }
  });

  it("hands the worker's heap bound to Node, so the container's worker runs without starting Node again", () => {
    for (const variables of [SETTINGS, { ...SETTINGS, WORKER_HEAP_MB: '192' }]) {
      const environment = composeWith(variables).services.worker?.environment ?? {};
      const config = loadConfig(environment);
      expect(config.worker.heapMb).toBe(Number(variables.WORKER_HEAP_MB ?? 256));
      expect(heapLimitDecision(config.worker.heapMb, [], environment)).toEqual({
        action: 'run',
        reason: 'applied',
      });
    }
  });

  it.each(['POSTGRES_PASSWORD', 'PUBLIC_URL', 'ENTRA_CLIENT_ID', 'ENTRA_TENANTS'])(
    'refuses to start without %s',
    (name) => {
      const rest = Object.fromEntries(Object.entries(SETTINGS).filter(([key]) => key !== name));
      expect(() => composeWith(rest)).toThrow(new RegExp(`^${name}: set ${name}`));
    },
  );

  it('starts without SESSION_SECRET only when the session secrets come from Key Vault', () => {
    const rest = Object.fromEntries(Object.entries(SETTINGS).filter(([key]) => key !== 'SESSION_SECRET'));
    for (const name of ['api', 'worker']) {
      // Neither: the container's configuration loader refuses, naming the variable.
      const bare = composeWith(rest).services[name]?.environment ?? {};
      expect(() => loadConfig(bare)).toThrow(/SESSION_SECRET/);
      // From Key Vault: compose and the loader accept it.
      const vaulted = composeWith({ ...rest, KEY_VAULT_URL: 'https://eucora-kv.vault.azure.net' });
      const config = loadConfig(vaulted.services[name]?.environment ?? {});
      expect(config.keyVault).toMatchObject({ url: 'https://eucora-kv.vault.azure.net' });
    }
  });

  it('has no default for any secret', () => {
    const defaults = [...raw.matchAll(/\$\{([A-Z0-9_]+):-([^}]*)\}/g)];
    const secretDefaults = defaults.filter(
      ([, name = '', value = '']) => /SECRET|PASSWORD|KEY|CERTIFICATE/.test(name) && value !== '',
    );
    expect(secretDefaults).toEqual([]);
    expect(raw).not.toMatch(/PASSWORD: eucora|change-me/);
  });

  it('trusts the reverse proxy on the host, which reaches the API from the Docker bridge, so its Secure cookie is set', () => {
    const config = loadConfig(composeWith(SETTINGS).services.api?.environment ?? {});
    const app = express();
    app.set('trust proxy', config.trustProxy);
    const trusts = app.get('trust proxy fn') as (address: string, hop: number) => boolean;
    // Docker's default bridge networks: the host side of a published port.
    expect(trusts('172.18.0.1', 0)).toBe(true);
    expect(trusts('172.17.0.1', 0)).toBe(true);
    // Nobody on the internet may claim a client address or https.
    expect(trusts('203.0.113.9', 0)).toBe(false);
  });

  it('publishes ports on the host’s loopback address only', () => {
    const ports = Object.values(composeWith(SETTINGS).services).flatMap((service) => service.ports ?? []);
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) expect(port).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
  });
});
