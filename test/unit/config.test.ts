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
      session: { generatedSecret: true },
      devLogin: true,
    });
    expect(config.rolloutPolicy.cabTimeoutMs).toBe(7 * 24 * 3_600_000);
  });

  it('reads the production settings it is given', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      PORT: '9000',
      HOST: '0.0.0.0',
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_API_KEY: 'key',
      DATABASE_URL: 'postgres://eucora@db/eucora',
      REDIS_URL: 'redis://cache:6379',
      SESSION_SECRET: 's'.repeat(40),
      CAB_TIMEOUT: '3d',
    });
    expect(config).toMatchObject({
      env: 'production',
      http: { port: 9000, publicUrl: 'http://localhost:9000' },
      temporal: {
        address: 'temporal.internal:7233',
        tls: true,
        workflowBundlePath: path.resolve('dist/workflow-bundle.js'),
      },
      database: { url: 'postgres://eucora@db/eucora' },
      redisUrl: 'redis://cache:6379',
      session: { secrets: ['s'.repeat(40)], generatedSecret: false },
      devLogin: false,
    });
    expect(config.rolloutPolicy.cabTimeoutMs).toBe(3 * 24 * 3_600_000);
  });

  it.each([
    ['a port out of range', { PORT: '70000' }, 'PORT'],
    ['a port that is not a number', { PORT: 'eighty' }, 'PORT'],
    ['an unknown NODE_ENV', { NODE_ENV: 'staging' }, 'NODE_ENV'],
    ['a malformed CAB timeout', { CAB_TIMEOUT: 'a week' }, 'CAB_TIMEOUT'],
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
      expect.arrayContaining(['SESSION_SECRET', 'DEV_LOGIN', 'DATABASE_URL', 'TEMPORAL_ADDRESS']),
    );
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

  it('formats every problem in one message', () => {
    expect(() => loadConfig({ PORT: '0', NODE_ENV: 'x' })).toThrow(/Invalid configuration:\n {2}- /);
  });
});
