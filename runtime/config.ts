import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import {
  defaultRolloutPolicy,
  rolloutPolicyOverridesSchema,
  mergeRolloutPolicy,
} from '../policy/rollout-policy';
import type { RolloutPolicy } from '../policy/rollout-policy';
import { parseDuration } from '../policy/duration';

/**
 * The one place that reads the environment. Everything else receives a typed `AppConfig`.
 */

const optionalString = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

const port = z.coerce.number().int().min(1).max(65535);

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const duration = z.string().transform((value, ctx) => {
  try {
    return parseDuration(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

/** `count/window`, e.g. `20/15m`: at most `count` requests per `window` per key. */
const rateLimit = z.string().transform((value, ctx) => {
  const match = /^\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(value);
  try {
    const limit = Number(match?.[1]);
    if (match === null || !Number.isSafeInteger(limit) || limit < 1) throw new Error();
    const windowMs = parseDuration(match[2] ?? '');
    if (windowMs < 1_000) throw new Error();
    return { limit, windowMs };
  } catch {
    ctx.addIssue({ code: 'custom', message: 'a count per window such as 20/15m (at least 1 per 1s)' });
    return z.NEVER;
  }
});

/**
 * Express's `trust proxy`: which hops may tell the client address and scheme (X-Forwarded-For/-Proto).
 * `true`/`false`, a hop count, or addresses, subnets and the names loopback, linklocal, uniquelocal.
 */
const trustProxy = z.string().transform((value): boolean | number | string | string[] => {
  const trimmed = value.trim();
  if (trimmed === 'true' || trimmed === 'false') return trimmed === 'true';
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const parts = trimmed
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  return parts.length === 1 ? (parts[0] ?? '') : parts;
});

/** 127.0.0.0/8, ::1 and localhost: the only places a passwordless login may listen. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1' || bare === '0:0:0:0:0:0:0:1';
}

/** A duration of at least `minimumMs` (a lease or an interval of zero would spin). */
const durationAtLeast = (minimumMs: number, minimum: string) =>
  duration.refine((ms) => ms >= minimumMs, { error: `must be at least ${minimum}` });

const environmentSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    HOST: z.string().default('127.0.0.1'),
    PORT: port.default(8080),
    PUBLIC_URL: z.url().optional(),
    DATA_DIR: z.string().default('data'),

    TEMPORAL_ADDRESS: optionalString,
    TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
    TEMPORAL_TASK_QUEUE: z.string().min(1).default('eucora-deployments'),
    TEMPORAL_CLI_PATH: optionalString,
    PATH: z.string().optional(),
    TEMPORAL_DEV_PORT: port.default(7233),
    TEMPORAL_UI_PORT: port.default(8233),
    TEMPORAL_TLS: booleanFlag.default(false),
    TEMPORAL_API_KEY: optionalString,
    TEMPORAL_WORKFLOW_BUNDLE: optionalString,

    DATABASE_URL: optionalString,
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
    REDIS_URL: optionalString,
    SESSION_SECRET: optionalString,
    SESSION_IDLE_TIMEOUT: duration.default(parseDuration('30m')),
    SESSION_ABSOLUTE_TIMEOUT: duration.default(parseDuration('8h')),
    TRUST_PROXY: trustProxy.default('loopback'),

    RATE_LIMIT_SIGN_IN: rateLimit.prefault('20/15m'),
    RATE_LIMIT_FAILED_KEYS: rateLimit.prefault('20/15m'),
    RATE_LIMIT_WRITES: rateLimit.prefault('300/1m'),
    RATE_LIMIT_REFUSALS: rateLimit.prefault('30/1m'),
    RATE_LIMIT_ANONYMOUS_REFUSALS: rateLimit.prefault('300/1m'),

    DEFAULT_TENANT_ID: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a tenant id of letters, digits, dot, dash or underscore')
      .default('00000000-0000-0000-0000-000000000001'),
    DEV_LOGIN: booleanFlag.optional(),

    CAB_TIMEOUT: duration.default(parseDuration('7d')),
    IDEMPOTENCY_KEY_TTL: durationAtLeast(60_000, '1m').default(parseDuration('24h')),
    IDEMPOTENCY_LEASE: durationAtLeast(1_000, '1s').default(parseDuration('15s')),
    RECONCILER_INTERVAL: durationAtLeast(1_000, '1s').default(parseDuration('1m')),
    RECONCILER_THRESHOLD: duration.default(parseDuration('2m')),
    ROLLOUT_POLICY: optionalString,
  })
  .superRefine((env, ctx) => {
    if (env.DEV_LOGIN === true && !isLoopbackHost(env.HOST)) {
      ctx.addIssue({
        code: 'custom',
        path: ['DEV_LOGIN'],
        message: `the passwordless dev login is refused unless HOST is a loopback address (HOST is ${env.HOST}); set DEV_LOGIN=false`,
      });
    }
    if (env.SESSION_IDLE_TIMEOUT > env.SESSION_ABSOLUTE_TIMEOUT) {
      ctx.addIssue({
        code: 'custom',
        path: ['SESSION_IDLE_TIMEOUT'],
        message: 'must not be longer than SESSION_ABSOLUTE_TIMEOUT',
      });
    }
    if (env.NODE_ENV === 'production') {
      if (env.REDIS_URL === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['REDIS_URL'],
          message: 'is required in production: sessions and rate limits are shared in Redis',
        });
      }
      if (env.PUBLIC_URL?.startsWith('https://') !== true) {
        ctx.addIssue({
          code: 'custom',
          path: ['PUBLIC_URL'],
          message:
            'is required in production as the https:// origin browsers use (Secure __Host- cookies, the CSRF origin check)',
        });
      }
      if (env.SESSION_SECRET === undefined || env.SESSION_SECRET.length < 32) {
        ctx.addIssue({
          code: 'custom',
          path: ['SESSION_SECRET'],
          message: 'is required in production and must be at least 32 characters',
        });
      }
      if (env.DEV_LOGIN === true) {
        ctx.addIssue({
          code: 'custom',
          path: ['DEV_LOGIN'],
          message: 'the dev login is refused in production',
        });
      }
      if (env.DATABASE_URL === undefined) {
        ctx.addIssue({ code: 'custom', path: ['DATABASE_URL'], message: 'is required in production' });
      }
      if (env.TEMPORAL_ADDRESS === undefined) {
        ctx.addIssue({ code: 'custom', path: ['TEMPORAL_ADDRESS'], message: 'is required in production' });
      }
    }
  });

export interface AppConfig {
  readonly env: 'development' | 'test' | 'production';
  readonly logLevel: string;
  readonly http: { readonly host: string; readonly port: number; readonly publicUrl: string };
  readonly dataDir: string;
  readonly temporal: {
    /** Unset: start a local dev server. */
    readonly address: string | undefined;
    readonly namespace: string;
    readonly taskQueue: string;
    readonly cliPath: string | undefined;
    /** Where to look for `temporal` when TEMPORAL_CLI_PATH is unset. */
    readonly cliSearchPath: string | undefined;
    readonly devServerPort: number;
    readonly uiPort: number;
    readonly tls: boolean;
    readonly apiKey: string | undefined;
    /** A workflow bundle built ahead of time (`npm run build`); required in production. */
    readonly workflowBundlePath: string | undefined;
  };
  readonly database: { readonly url: string | undefined; readonly poolSize: number };
  readonly redisUrl: string | undefined;
  readonly session: {
    readonly secret: string;
    readonly generatedSecret: boolean;
    /** A session unused this long ends (the cookie and the store entry expire together). */
    readonly idleTimeoutMs: number;
    /** A session ends this long after sign-in, however busy. */
    readonly absoluteTimeoutMs: number;
    /** Secure, `__Host-` prefixed cookies: whenever the public URL is https (always in production). */
    readonly secureCookies: boolean;
  };
  /** Express's `trust proxy` setting (TRUST_PROXY). */
  readonly trustProxy: boolean | number | string | readonly string[];
  readonly rateLimits: RateLimits;
  readonly defaultTenantId: string;
  readonly devLogin: boolean;
  readonly rolloutPolicy: RolloutPolicy;
  /** Idempotency-Key lifetime, and how long an attempt holds its key before a retry may take over. */
  readonly idempotency: { readonly ttlMs: number; readonly leaseMs: number };
  /** How often the worker's reconciler runs, and how old a row must be before it acts on it. */
  readonly reconciler: {
    readonly intervalMs: number;
    readonly thresholdMs: number;
    readonly batchSize: number;
  };
}

export interface RateLimit {
  readonly limit: number;
  readonly windowMs: number;
}

/** Per-window budgets; each is documented in the README's configuration table. */
export interface RateLimits {
  /** Sign-in attempts per client address. */
  readonly signIn: RateLimit;
  /** Failed API key authentications per client address, and per key prefix. */
  readonly failedKeys: RateLimit;
  /** Unsafe requests per caller (signed-in user or key; client address when anonymous). */
  readonly writes: RateLimit;
  /** Refusals (401/403) recorded in the audit trail per caller. */
  readonly refusals: RateLimit;
  /** Refusals of anonymous callers recorded per window, all client addresses together. */
  readonly anonymousRefusals: RateLimit;
}

/** Rows the reconciler reads per query. */
const RECONCILER_BATCH_SIZE = 500;

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function parseRolloutPolicy(raw: string | undefined, cabTimeoutMs: number): RolloutPolicy {
  const base = { ...defaultRolloutPolicy(), cabTimeoutMs };
  if (raw === undefined) return base;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError(['ROLLOUT_POLICY: is not valid JSON']);
  }
  const parsed = rolloutPolicyOverridesSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `ROLLOUT_POLICY.${issue.path.join('.')}: ${issue.message}`),
    );
  }
  return mergeRolloutPolicy(base, parsed.data);
}

export function loadConfig(environment: NodeJS.ProcessEnv): AppConfig {
  const parsed = environmentSchema.safeParse(environment);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`),
    );
  }
  const env = parsed.data;
  const dataDir = path.resolve(env.DATA_DIR);
  const sessionSecret = env.SESSION_SECRET ?? randomSecret();
  const publicUrl =
    env.PUBLIC_URL?.replace(/\/+$/, '') ??
    `http://${env.HOST === '0.0.0.0' ? 'localhost' : env.HOST}:${String(env.PORT)}`;
  return {
    env: env.NODE_ENV,
    logLevel: env.LOG_LEVEL,
    http: {
      host: env.HOST,
      port: env.PORT,
      publicUrl,
    },
    dataDir,
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      cliPath: env.TEMPORAL_CLI_PATH,
      cliSearchPath: env.PATH,
      devServerPort: env.TEMPORAL_DEV_PORT,
      uiPort: env.TEMPORAL_UI_PORT,
      tls: env.TEMPORAL_TLS || env.TEMPORAL_API_KEY !== undefined,
      apiKey: env.TEMPORAL_API_KEY,
      workflowBundlePath:
        env.TEMPORAL_WORKFLOW_BUNDLE ??
        (env.NODE_ENV === 'production' ? path.resolve('dist/workflow-bundle.js') : undefined),
    },
    database: { url: env.DATABASE_URL, poolSize: env.DATABASE_POOL_SIZE },
    redisUrl: env.REDIS_URL,
    session: {
      secret: sessionSecret,
      generatedSecret: env.SESSION_SECRET === undefined,
      idleTimeoutMs: env.SESSION_IDLE_TIMEOUT,
      absoluteTimeoutMs: env.SESSION_ABSOLUTE_TIMEOUT,
      secureCookies: publicUrl.startsWith('https://'),
    },
    trustProxy: env.TRUST_PROXY,
    rateLimits: {
      signIn: env.RATE_LIMIT_SIGN_IN,
      failedKeys: env.RATE_LIMIT_FAILED_KEYS,
      writes: env.RATE_LIMIT_WRITES,
      refusals: env.RATE_LIMIT_REFUSALS,
      anonymousRefusals: env.RATE_LIMIT_ANONYMOUS_REFUSALS,
    },
    defaultTenantId: env.DEFAULT_TENANT_ID,
    devLogin: env.DEV_LOGIN ?? false,
    rolloutPolicy: parseRolloutPolicy(env.ROLLOUT_POLICY, env.CAB_TIMEOUT),
    idempotency: { ttlMs: env.IDEMPOTENCY_KEY_TTL, leaseMs: env.IDEMPOTENCY_LEASE },
    reconciler: {
      intervalMs: env.RECONCILER_INTERVAL,
      thresholdMs: env.RECONCILER_THRESHOLD,
      batchSize: RECONCILER_BATCH_SIZE,
    },
  };
}

function randomSecret(): string {
  // Only reached outside production (validated above): sessions do not survive a restart then.
  return globalThis.crypto.randomUUID() + globalThis.crypto.randomUUID();
}
