import path from 'node:path';
import { ConfigError, loadConfig } from '../../runtime/config';

function problemsOf(environment: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(environment);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('starts on embedded defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      http: { host: '127.0.0.1', port: 8080, publicUrl: 'http://127.0.0.1:8080' },
      dataDir: path.resolve('data'),
      temporal: {
        address: undefined,
        namespace: 'default',
        taskQueue: 'eucora-deployments',
        uiPort: 8233,
        tls: false,
      },
      database: { url: undefined },
      redisUrl: undefined,
      session: {
        generatedSecret: true,
        idleTimeoutMs: 30 * 60_000,
        absoluteTimeoutMs: 8 * 3_600_000,
        secureCookies: false,
      },
      trustProxy: 'loopback',
      // Off unless asked for: `npm start` asks (scripts/start.mjs), a bare `node dist/…` does not.
      devLogin: false,
    });
    expect(config.rolloutPolicy.cabTimeoutMs).toBe(7 * 24 * 3_600_000);
    expect(config.idempotency).toEqual({ ttlMs: 24 * 3_600_000, leaseMs: 15_000 });
    expect(config.reconciler).toEqual({ intervalMs: 60_000, thresholdMs: 120_000, batchSize: 500 });
  });

  it('reads the Idempotency-Key and reconciler settings', () => {
    const config = loadConfig({
      IDEMPOTENCY_KEY_TTL: '2h',
      IDEMPOTENCY_LEASE: '5s',
      RECONCILER_INTERVAL: '30s',
      RECONCILER_THRESHOLD: '10m',
    });
    expect(config.idempotency).toEqual({ ttlMs: 2 * 3_600_000, leaseMs: 5_000 });
    expect(config.reconciler).toMatchObject({ intervalMs: 30_000, thresholdMs: 600_000 });
  });

  it('bounds every wait on a dependency by default, and reads the bounds it is given', () => {
    expect(loadConfig({})).toMatchObject({
      database: { connectTimeoutMs: 2_000, statementTimeoutMs: 5_000 },
      redisTimeoutMs: 1_000,
      temporal: { callTimeoutMs: 2_000 },
    });
    expect(
      loadConfig({
        DATABASE_CONNECT_TIMEOUT: '500ms',
        DATABASE_STATEMENT_TIMEOUT: '30s',
        REDIS_TIMEOUT: '250ms',
        TEMPORAL_CALL_TIMEOUT: '3s',
      }),
    ).toMatchObject({
      database: { connectTimeoutMs: 500, statementTimeoutMs: 30_000 },
      redisTimeoutMs: 250,
      temporal: { callTimeoutMs: 3_000 },
    });
    expect(problemsOf({ TEMPORAL_CALL_TIMEOUT: '0s', REDIS_TIMEOUT: '10ms' })).toEqual([
      'REDIS_TIMEOUT: must be at least 100ms',
      'TEMPORAL_CALL_TIMEOUT: must be at least 100ms',
    ]);
  });

  it('holds long-polling connectors 30 s at most by default, less or not at all when told', () => {
    expect(loadConfig({}).connectorMaxWaitMs).toBe(30_000);
    expect(loadConfig({ CONNECTOR_MAX_WAIT: '5s' }).connectorMaxWaitMs).toBe(5_000);
    expect(loadConfig({ CONNECTOR_MAX_WAIT: '0s' }).connectorMaxWaitMs).toBe(0);
    expect(problemsOf({ CONNECTOR_MAX_WAIT: '31s' })).toEqual([
      'CONNECTOR_MAX_WAIT: must be at most 30s (what the API document allows)',
    ]);
  });

  it('bounds the worker’s cache and concurrency by default, and reads the bounds it is given', () => {
    expect(loadConfig({}).worker).toEqual({
      maxCachedWorkflows: 50,
      maxConcurrentWorkflowTaskExecutions: 40,
      maxConcurrentActivityTaskExecutions: 100,
      heapMb: 256,
    });
    expect(
      loadConfig({
        WORKER_MAX_CACHED_WORKFLOWS: '0',
        WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '8',
        WORKER_MAX_CONCURRENT_ACTIVITIES: '16',
        WORKER_HEAP_MB: '0',
      }).worker,
    ).toEqual({
      maxCachedWorkflows: 0,
      maxConcurrentWorkflowTaskExecutions: 8,
      maxConcurrentActivityTaskExecutions: 16,
      heapMb: 0,
    });
    expect(
      problemsOf({ WORKER_MAX_CACHED_WORKFLOWS: '-1', WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '1' }),
    ).toEqual([
      'WORKER_MAX_CACHED_WORKFLOWS: Too small: expected number to be >=0',
      'WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: Too small: expected number to be >=2',
    ]);
  });

  it('refuses a reconciler threshold short enough to recover a submission still at work', () => {
    expect(problemsOf({ RECONCILER_THRESHOLD: '5s' })).toEqual([
      'RECONCILER_THRESHOLD: must be at least 10s',
    ]);
    expect(loadConfig({ RECONCILER_THRESHOLD: '10s' }).reconciler.thresholdMs).toBe(10_000);
  });

  it('reads the production settings it is given', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      PORT: '9000',
      HOST: '0.0.0.0',
      PUBLIC_URL: 'https://eucora.example.com',
      TRUST_PROXY: '10.0.0.0/8,loopback',
      SESSION_IDLE_TIMEOUT: '15m',
      SESSION_ABSOLUTE_TIMEOUT: '12h',
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_API_KEY: 'key',
      DATABASE_URL: 'postgres://eucora@db/eucora',
      REDIS_URL: 'redis://cache:6379',
      SESSION_SECRET: 's'.repeat(40),
      CAB_TIMEOUT: '3d',
    });
    expect(config).toMatchObject({
      env: 'production',
      http: { port: 9000, publicUrl: 'https://eucora.example.com' },
      trustProxy: ['10.0.0.0/8', 'loopback'],
      temporal: {
        address: 'temporal.internal:7233',
        tls: true,
        workflowBundlePath: path.resolve('dist/workflow-bundle.js'),
      },
      database: { url: 'postgres://eucora@db/eucora' },
      redisUrl: 'redis://cache:6379',
      session: {
        secrets: ['s'.repeat(40)],
        generatedSecret: false,
        idleTimeoutMs: 15 * 60_000,
        absoluteTimeoutMs: 12 * 3_600_000,
        secureCookies: true,
      },
      devLogin: false,
    });
    expect(config.rolloutPolicy.cabTimeoutMs).toBe(3 * 24 * 3_600_000);
  });

  it.each([
    ['a port out of range', { PORT: '70000' }, 'PORT'],
    ['a port that is not a number', { PORT: 'eighty' }, 'PORT'],
    ['an unknown NODE_ENV', { NODE_ENV: 'staging' }, 'NODE_ENV'],
    ['a malformed CAB timeout', { CAB_TIMEOUT: 'a week' }, 'CAB_TIMEOUT'],
    ['a lease too short to act in', { IDEMPOTENCY_LEASE: '0s' }, 'IDEMPOTENCY_LEASE'],
    ['a reconciler interval below a second', { RECONCILER_INTERVAL: '10ms' }, 'RECONCILER_INTERVAL'],
    ['a key lifetime below a minute', { IDEMPOTENCY_KEY_TTL: '30s' }, 'IDEMPOTENCY_KEY_TTL'],
    ['a malformed reconciler threshold', { RECONCILER_THRESHOLD: 'soon' }, 'RECONCILER_THRESHOLD'],
    ['a malformed tenant id', { DEFAULT_TENANT_ID: 'no spaces please' }, 'DEFAULT_TENANT_ID'],
    ['a boolean flag that is not one', { DEV_LOGIN: 'maybe' }, 'DEV_LOGIN'],
  ])('stops start-up on %s, naming the setting', (_case, environment, setting) => {
    const problems = problemsOf(environment);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${setting}: `));
  });

  it('refuses production without its real backends, a session secret, or with the dev login', () => {
    const problems = problemsOf({ NODE_ENV: 'production', DEV_LOGIN: 'true', SESSION_SECRET: 'short' });
    expect(problems.map((p) => p.split(':')[0])).toEqual(
      expect.arrayContaining([
        'SESSION_SECRET',
        'DEV_LOGIN',
        'DATABASE_URL',
        'TEMPORAL_ADDRESS',
        'REDIS_URL',
        'PUBLIC_URL',
      ]),
    );
  });

  const production = {
    NODE_ENV: 'production',
    PUBLIC_URL: 'https://eucora.example.com',
    TEMPORAL_ADDRESS: 'temporal.internal:7233',
    DATABASE_URL: 'postgres://eucora@db/eucora',
    REDIS_URL: 'redis://cache:6379',
    SESSION_SECRET: 's'.repeat(40),
  };

  it.each([
    ['without REDIS_URL (sessions would live in one process)', { REDIS_URL: '' }, 'REDIS_URL'],
    ['with the dev login on', { DEV_LOGIN: 'true' }, 'DEV_LOGIN'],
    [
      'with an http PUBLIC_URL (no Secure cookie, no __Host- prefix)',
      { PUBLIC_URL: 'http://x.example' },
      'PUBLIC_URL',
    ],
  ])('refuses a production start %s, naming the variable', (_case, change, variable) => {
    expect(problemsOf(production)).toEqual([]);
    const problems = problemsOf({ ...production, ...change });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${variable}: `));
  });

  it.each(['127.0.0.1', '127.8.9.10', '::1', 'localhost'])('allows the dev login on loopback %s', (host) => {
    expect(loadConfig({ DEV_LOGIN: 'true', HOST: host }).devLogin).toBe(true);
  });

  it.each(['0.0.0.0', '::', '10.1.2.3', 'eucora.internal'])(
    'refuses the dev login when HOST is %s, which is not loopback',
    (host) => {
      const problems = problemsOf({ DEV_LOGIN: 'true', HOST: host });
      expect(problems).toEqual([expect.stringMatching(/^DEV_LOGIN: .*loopback/)]);
      expect(loadConfig({ HOST: host }).devLogin).toBe(false);
    },
  );

  it.each([
    ['false', false],
    ['true', true],
    ['2', 2],
    ['loopback', 'loopback'],
    ['10.0.0.0/8, 192.168.1.1', ['10.0.0.0/8', '192.168.1.1']],
  ])('reads TRUST_PROXY=%s for Express', (value, expected) => {
    expect(loadConfig({ TRUST_PROXY: value }).trustProxy).toEqual(expected);
  });

  it('uses Secure cookies whenever the public URL is https, in development too', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://localhost:8443' }).session.secureCookies).toBe(true);
  });

  it('reads the rate limits as count per window and names a bad one', () => {
    const config = loadConfig({ RATE_LIMIT_SIGN_IN: '5/1m', RATE_LIMIT_WRITES: '1000/1h' });
    expect(config.rateLimits.signIn).toEqual({ limit: 5, windowMs: 60_000 });
    expect(config.rateLimits.writes).toEqual({ limit: 1000, windowMs: 3_600_000 });
    expect(config.rateLimits.failedKeys).toEqual({ limit: 20, windowMs: 15 * 60_000 });
    expect(problemsOf({ RATE_LIMIT_REFUSALS: 'lots' })).toEqual([
      expect.stringMatching(/^RATE_LIMIT_REFUSALS: /),
    ]);
  });

  it('applies ROLLOUT_POLICY overrides and names each bad one', () => {
    const config = loadConfig({
      ROLLOUT_POLICY: JSON.stringify({
        rings: { CANARY: { minSuccessRate: 0.99, soakMs: 0 } },
        heartbeatTimeoutMs: null,
      }),
    });
    expect(config.rolloutPolicy.rings.CANARY).toMatchObject({
      minSuccessRate: 0.99,
      soakMs: 0,
      minDevices: 10,
    });
    expect(config.rolloutPolicy.heartbeatTimeoutMs).toBeNull();
    expect(problemsOf({ ROLLOUT_POLICY: '{not json' })).toEqual(['ROLLOUT_POLICY: is not valid JSON']);
    const problems = problemsOf({
      ROLLOUT_POLICY: JSON.stringify({ rings: { CANARY: { minSuccessRate: 2 } }, colour: 1 }),
    });
    expect(problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^ROLLOUT_POLICY\.rings\.CANARY\.minSuccessRate: /)]),
    );
    expect(problems.some((p) => p.startsWith('ROLLOUT_POLICY'))).toBe(true);
  });

  it('snapshots the CAB quorum into the rollout policy: CAB_QUORUM_* then ROLLOUT_POLICY', () => {
    expect(loadConfig({}).rolloutPolicy.cabQuorum).toEqual({ riskThreshold: 80, approvals: 2 });
    expect(
      loadConfig({ CAB_QUORUM_RISK_THRESHOLD: '70', CAB_QUORUM_APPROVALS: '3' }).rolloutPolicy.cabQuorum,
    ).toEqual({ riskThreshold: 70, approvals: 3 });
    expect(
      loadConfig({
        CAB_QUORUM_APPROVALS: '3',
        ROLLOUT_POLICY: JSON.stringify({ cabQuorum: { riskThreshold: 90 } }),
      }).rolloutPolicy.cabQuorum,
    ).toEqual({ riskThreshold: 90, approvals: 3 });
    expect(problemsOf({ CAB_QUORUM_APPROVALS: '0' })).toEqual([
      'CAB_QUORUM_APPROVALS must be an integer from 1 to 100, got "0"',
    ]);
    expect(problemsOf({ ROLLOUT_POLICY: JSON.stringify({ cabQuorum: { approvals: 0 } }) })).toEqual([
      expect.stringMatching(/^ROLLOUT_POLICY\.cabQuorum\.approvals: /),
    ]);
  });

  it('formats every problem in one message', () => {
    expect(() => loadConfig({ PORT: '0', NODE_ENV: 'x' })).toThrow(/Invalid configuration:\n {2}- /);
  });

  describe('Entra ID and Key Vault', () => {
    const DIRECTORY = '72f988bf-86f1-41af-91ab-2d7cd011db47';
    const OTHER = '0b1c2d3e-4f50-4617-8899-aabbccddeeff';
    const entra = {
      ENTRA_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
      ENTRA_CLIENT_SECRET: 'client-secret',
      ENTRA_TENANTS: JSON.stringify({ contoso: DIRECTORY.toUpperCase() }),
    };

    it('signs in at the one directory, back to PUBLIC_URL, with the default app roles and audiences', () => {
      const config = loadConfig({ ...entra, PUBLIC_URL: 'https://eucora.contoso.example/' });
      expect(config.entra).toMatchObject({
        authority: `https://login.microsoftonline.com/${DIRECTORY}`,
        protocol: 'entra',
        redirectUri: 'https://eucora.contoso.example/api/v1/auth/callback',
        apiAudiences: [entra.ENTRA_CLIENT_ID, `api://${entra.ENTRA_CLIENT_ID}`],
        tenants: [{ tenantId: 'contoso', entraTenantId: DIRECTORY }],
      });
      expect(config.entra?.appRoles.get('EUCORA.Admin')).toEqual({ kind: 'role', role: 'admin' });
      expect(config.entraCredentials).toEqual({ clientSecret: 'client-secret' });
      expect(loadConfig({}).entra).toBeUndefined();
    });

    it('uses the organizations endpoint for several directories, and speaks plain OIDC to any other issuer', () => {
      const tenants = JSON.stringify({ contoso: DIRECTORY, fabrikam: OTHER });
      expect(loadConfig({ ...entra, ENTRA_TENANTS: tenants }).entra?.authority).toBe(
        'https://login.microsoftonline.com/organizations',
      );
      const other = loadConfig({
        ...entra,
        ENTRA_AUTHORITY: 'https://idp.contoso.example/realms/eucora/',
        ENTRA_APP_ROLES: JSON.stringify({ 'eucora-cab': 'cab_member', 'sccm-bridge': 'connector:sccm' }),
        ENTRA_API_AUDIENCE: 'api://eucora, eucora-api',
        ENTRA_REDIRECT_URI: 'https://eucora.contoso.example/signed-in',
      }).entra;
      expect(other).toMatchObject({
        authority: 'https://idp.contoso.example/realms/eucora',
        protocol: 'oidc',
        apiAudiences: ['api://eucora', 'eucora-api'],
        redirectUri: 'https://eucora.contoso.example/signed-in',
      });
      expect([...(other?.appRoles.entries() ?? [])]).toEqual([
        ['eucora-cab', { kind: 'role', role: 'cab_member' }],
        ['sccm-bridge', { kind: 'connector', connectorType: 'sccm' }],
      ]);
    });

    it.each([
      ['no ENTRA_TENANTS', { ...entra, ENTRA_TENANTS: '' }, 'ENTRA_TENANTS'],
      ['no credential', { ...entra, ENTRA_CLIENT_SECRET: '' }, 'ENTRA_CLIENT_SECRET'],
      [
        'a directory that is not a GUID',
        { ...entra, ENTRA_TENANTS: '{"contoso":"contoso.onmicrosoft.com"}' },
        'ENTRA_TENANTS.contoso',
      ],
      [
        'a reserved tenant id',
        { ...entra, ENTRA_TENANTS: JSON.stringify({ _unauthenticated: DIRECTORY }) },
        'ENTRA_TENANTS._unauthenticated',
      ],
      [
        'one directory for two tenants',
        { ...entra, ENTRA_TENANTS: JSON.stringify({ a: DIRECTORY, b: DIRECTORY }) },
        'ENTRA_TENANTS',
      ],
      ['no tenant at all', { ...entra, ENTRA_TENANTS: '{}' }, 'ENTRA_TENANTS'],
      ['tenants that are not an object', { ...entra, ENTRA_TENANTS: '["contoso"]' }, 'ENTRA_TENANTS'],
      ['tenants that are not JSON', { ...entra, ENTRA_TENANTS: '{contoso' }, 'ENTRA_TENANTS'],
      ['an unknown role', { ...entra, ENTRA_APP_ROLES: '{"X":"root"}' }, 'ENTRA_APP_ROLES.X'],
      ['an authority over http', { ...entra, ENTRA_AUTHORITY: 'http://idp.example/' }, 'ENTRA_AUTHORITY'],
      ['a Key Vault over http', { KEY_VAULT_URL: 'http://vault.example/' }, 'KEY_VAULT_URL'],
      [
        'a SIEM endpoint without rule and stream',
        { SIEM_INGESTION_ENDPOINT: 'https://dce.example/' },
        'SIEM_INGESTION_ENDPOINT',
      ],
      [
        'a SIEM endpoint over http',
        {
          SIEM_INGESTION_ENDPOINT: 'http://dce.example/',
          SIEM_RULE_ID: 'dcr-1',
          SIEM_STREAM: 'Custom-Eucora',
        },
        'SIEM_INGESTION_ENDPOINT',
      ],
      ['the reserved tenant as default', { DEFAULT_TENANT_ID: '_unauthenticated' }, 'DEFAULT_TENANT_ID'],
    ])('stops start-up on %s, naming the setting', (_case, environment, setting) => {
      const problems = problemsOf(environment);
      expect(problems.length).toBeGreaterThan(0);
      expect(problems[0]?.startsWith(`${setting}: `)).toBe(true);
    });

    it('takes several session secrets for rotation, and in production lets Key Vault provide them', () => {
      expect(loadConfig({ SESSION_SECRET: 'newest-secret, older-secret' }).session).toMatchObject({
        secrets: ['newest-secret', 'older-secret'],
        generatedSecret: false,
      });
      const production = {
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://eucora@db/eucora',
        TEMPORAL_ADDRESS: 'temporal:7233',
        REDIS_URL: 'redis://cache:6379',
        PUBLIC_URL: 'https://eucora.contoso.example',
      };
      expect(problemsOf({ ...production, SESSION_SECRET: `${'a'.repeat(40)},short` })).toEqual([
        expect.stringMatching(/^SESSION_SECRET: /),
      ]);
      const vaulted = loadConfig({
        ...production,
        KEY_VAULT_URL: 'https://eucora.vault.azure.net/',
        ...entra,
        ENTRA_CLIENT_SECRET: '',
      });
      expect(vaulted.keyVault).toEqual({ url: 'https://eucora.vault.azure.net/', refreshMs: 300_000 });
      expect(vaulted.entra).toBeDefined();
    });
  });

  it('forwards to the SIEM only when endpoint, rule and stream are all configured', () => {
    expect(loadConfig({}).siem).toBeUndefined();
    expect(
      loadConfig({
        SIEM_INGESTION_ENDPOINT: 'https://dce.westeurope.ingest.monitor.azure.com',
        SIEM_RULE_ID: 'dcr-00000000000000000000000000000000',
        SIEM_STREAM: 'Custom-EucoraAudit_CL',
      }).siem,
    ).toEqual({
      ingestionEndpoint: 'https://dce.westeurope.ingest.monitor.azure.com',
      ruleId: 'dcr-00000000000000000000000000000000',
      stream: 'Custom-EucoraAudit_CL',
      pollIntervalMs: 5_000,
      retryMaxMs: 300_000,
      degradedAfterMs: 900_000,
    });
    expect(
      loadConfig({
        SIEM_INGESTION_ENDPOINT: 'https://dce.westeurope.ingest.monitor.azure.com',
        SIEM_RULE_ID: 'dcr-1',
        SIEM_STREAM: 'Custom-EucoraAudit_CL',
        SIEM_POLL_INTERVAL: '1s',
        SIEM_RETRY_MAX: '1m',
        SIEM_DEGRADED_AFTER: '2m',
      }).siem,
    ).toMatchObject({ pollIntervalMs: 1_000, retryMaxMs: 60_000, degradedAfterMs: 120_000 });
  });
});
