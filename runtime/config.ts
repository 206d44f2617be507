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
    if (env.NODE_ENV === 'production') {
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
  readonly session: { readonly secret: string; readonly generatedSecret: boolean };
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
  return {
    env: env.NODE_ENV,
    logLevel: env.LOG_LEVEL,
    http: {
      host: env.HOST,
      port: env.PORT,
      publicUrl:
        env.PUBLIC_URL ?? `http://${env.HOST === '0.0.0.0' ? 'localhost' : env.HOST}:${String(env.PORT)}`,
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
    session: { secret: sessionSecret, generatedSecret: env.SESSION_SECRET === undefined },
    defaultTenantId: env.DEFAULT_TENANT_ID,
    devLogin: env.DEV_LOGIN ?? env.NODE_ENV !== 'production',
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
