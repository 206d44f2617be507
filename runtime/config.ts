import { parseCabQuorumRule } from '../policy/cab-quorum';
import type { CabQuorumRule } from '../policy/cab-quorum';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_WORKER_HEAP_MB } from './heap-relaunch.cjs';
import {
  defaultRolloutPolicy,
  rolloutPolicyOverridesSchema,
  mergeRolloutPolicy,
} from '../policy/rollout-policy';
import type { RolloutPolicy } from '../policy/rollout-policy';
import { parseDuration } from '../policy/duration';
import { AppRoleMapError, DEFAULT_APP_ROLES, parseAppRoleMap } from '../policy/app-roles';
import type { AppRoleMap } from '../policy/app-roles';

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

const httpsUrl = z.url({ protocol: /^https$/, error: 'must be an https:// URL' });

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

/**
 * The reconciler starts intents recorded without a workflow once they are this old. A live submission
 * takes up to its Temporal call timeout (and the client's retry) to start its own: a shorter threshold
 * would "recover" intents whose submitter is still at work.
 */
/** The worker's bounds: how many workflows it keeps in its sticky cache and how much it runs at once. */
export interface WorkerLimits {
  /**
   * Workflows kept in memory between their tasks. Intents park for days (CAB, soaks), so caching them
   * buys nothing; an evicted one replays its history on its next task (a few ms). The SDK's default
   * grows with the heap (about 2,300 for 4 GiB) and held 1.2 GB of RSS with 10,000 parked intents.
   * 50 keeps every intent of a busy intake (32 in flight) cached through its first tasks; 250 held
   * about 70 MiB more with 2,000 parked for no faster parking, and 0 (no sticky cache, every task
   * replays the whole history) cut the parking rate to a third (docs/benchmarks.md, "Worker memory").
   * Must be at least WORKER_MAX_CONCURRENT_WORKFLOW_TASKS (the SDK lowers that one otherwise).
   */
  readonly maxCachedWorkflows: number;
  readonly maxConcurrentWorkflowTaskExecutions: number;
  readonly maxConcurrentActivityTaskExecutions: number;
  /**
   * The Node heap of a process that runs the worker, in MiB: V8's `--max-old-space-size`
   * (runtime/heap-limit.ts applies it). 0 leaves V8's default, which on a large machine is several GiB:
   * V8 then lets garbage that is no longer reachable grow the RSS long before it collects it. The bound
   * applies to each V8 isolate of the process (the workflows run in a worker thread with its own heap).
   * Measured with 2,000 parked, each isolate's live heap stayed under 45 MiB and its committed heap under
   * 90 MiB, so 128 and 256 gave the same RSS: 256 is the margin for bursts, not a squeeze.
   */
  readonly heapMb: number;
}

/** Chosen from `npm run bench -- --compare --parked` (docs/benchmarks.md, "Worker memory"). */
export const DEFAULT_WORKER_LIMITS: WorkerLimits = {
  maxCachedWorkflows: 50,
  maxConcurrentWorkflowTaskExecutions: 40,
  maxConcurrentActivityTaskExecutions: 100,
  // Shared with scripts/start.mjs, which applies the bound before the configuration is read.
  heapMb: DEFAULT_WORKER_HEAP_MB,
};

const RECONCILER_MIN_THRESHOLD_MS = 10_000;

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
    DATABASE_CONNECT_TIMEOUT: durationAtLeast(100, '100ms').default(parseDuration('2s')),
    DATABASE_STATEMENT_TIMEOUT: durationAtLeast(100, '100ms').default(parseDuration('5s')),
    REDIS_URL: optionalString,
    REDIS_TIMEOUT: durationAtLeast(100, '100ms').default(parseDuration('1s')),
    TEMPORAL_CALL_TIMEOUT: durationAtLeast(100, '100ms').default(parseDuration('2s')),
    WORKER_MAX_CACHED_WORKFLOWS: z.coerce
      .number()
      .int()
      .min(0)
      .max(100_000)
      .default(DEFAULT_WORKER_LIMITS.maxCachedWorkflows),
    WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce
      .number()
      .int()
      .min(2)
      .max(1_000)
      .default(DEFAULT_WORKER_LIMITS.maxConcurrentWorkflowTaskExecutions),
    WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(DEFAULT_WORKER_LIMITS.maxConcurrentActivityTaskExecutions),
    WORKER_HEAP_MB: z.coerce
      .number()
      .int()
      .refine((mb) => mb === 0 || (mb >= 64 && mb <= 65_536), {
        error: 'must be 0 (no limit) or between 64 and 65536',
      })
      .default(DEFAULT_WORKER_LIMITS.heapMb),
    SESSION_SECRET: optionalString,

    ENTRA_CLIENT_ID: optionalString,
    ENTRA_CLIENT_SECRET: optionalString,
    ENTRA_CLIENT_CERTIFICATE: optionalString,
    ENTRA_AUTHORITY: optionalString.pipe(httpsUrl.optional()),
    ENTRA_REDIRECT_URI: optionalString.pipe(z.url().optional()),
    ENTRA_TENANTS: optionalString,
    ENTRA_APP_ROLES: optionalString,
    ENTRA_API_AUDIENCE: optionalString,

    KEY_VAULT_URL: optionalString.pipe(httpsUrl.optional()),
    KEY_VAULT_REFRESH: duration.default(parseDuration('5m')),
    SIEM_INGESTION_ENDPOINT: optionalString.pipe(httpsUrl.optional()),
    SIEM_RULE_ID: optionalString,
    SIEM_STREAM: optionalString,
    SIEM_POLL_INTERVAL: durationAtLeast(100, '100ms').default(parseDuration('5s')),
    SIEM_RETRY_MAX: durationAtLeast(1_000, '1s').default(parseDuration('5m')),
    SIEM_DEGRADED_AFTER: durationAtLeast(1_000, '1s').default(parseDuration('15m')),
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
      // A leading letter or digit: the reserved tenant of anonymous refusals (db/tenant-id.ts) cannot be named.
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
        'a tenant id of letters, digits, dot, dash or underscore, starting with a letter or digit',
      )
      .default('00000000-0000-0000-0000-000000000001'),
    DEV_LOGIN: booleanFlag.optional(),

    CAB_TIMEOUT: duration.default(parseDuration('7d')),
    IDEMPOTENCY_KEY_TTL: durationAtLeast(60_000, '1m').default(parseDuration('24h')),
    IDEMPOTENCY_LEASE: durationAtLeast(1_000, '1s').default(parseDuration('15s')),
    CONNECTOR_MAX_WAIT: duration
      .refine((ms) => ms <= 30_000, { error: 'must be at most 30s (what the API document allows)' })
      .default(parseDuration('30s')),
    RECONCILER_INTERVAL: durationAtLeast(1_000, '1s').default(parseDuration('1m')),
    RECONCILER_THRESHOLD: durationAtLeast(RECONCILER_MIN_THRESHOLD_MS, '10s').default(parseDuration('2m')),
    ROLLOUT_POLICY: optionalString,
  })
  .superRefine((env, ctx) => {
    const siem = [env.SIEM_INGESTION_ENDPOINT, env.SIEM_RULE_ID, env.SIEM_STREAM];
    if (siem.some((value) => value !== undefined) && siem.some((value) => value === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['SIEM_INGESTION_ENDPOINT'],
        message: 'SIEM_INGESTION_ENDPOINT, SIEM_RULE_ID and SIEM_STREAM are set together, or none of them',
      });
    }
    if (env.ENTRA_CLIENT_ID !== undefined) {
      if (env.ENTRA_TENANTS === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['ENTRA_TENANTS'],
          message: 'is required with ENTRA_CLIENT_ID: name the Entra ID directory of each EUCORA tenant',
        });
      }
      const credentials = [env.ENTRA_CLIENT_SECRET, env.ENTRA_CLIENT_CERTIFICATE].filter(
        (v) => v !== undefined,
      );
      if (env.KEY_VAULT_URL === undefined && credentials.length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['ENTRA_CLIENT_SECRET'],
          message: 'is required with ENTRA_CLIENT_ID (or ENTRA_CLIENT_CERTIFICATE, or either in Key Vault)',
        });
      }
    }
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
      const sessionSecrets = splitList(env.SESSION_SECRET);
      if (
        env.KEY_VAULT_URL === undefined &&
        (sessionSecrets.length === 0 || sessionSecrets.some((secret) => secret.length < 32))
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['SESSION_SECRET'],
          message:
            'is required in production (or in Key Vault) and each secret must be at least 32 characters',
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
    /** How long the Temporal calls of one API request may take together before it answers 503. */
    readonly callTimeoutMs: number;
  };
  /** The worker's memory and concurrency bounds (docs/benchmarks.md says how the defaults were chosen). */
  readonly worker: WorkerLimits;
  readonly database: {
    readonly url: string | undefined;
    readonly poolSize: number;
    /** How long to wait for a connection (a new one, or a free one from the pool). */
    readonly connectTimeoutMs: number;
    /** PostgreSQL's statement_timeout; the client gives up on a silent server a second later. */
    readonly statementTimeoutMs: number;
  };
  readonly redisUrl: string | undefined;
  /** Redis connect and command timeout: a session request meets a slow or lost Redis as a 503 this fast. */
  readonly redisTimeoutMs: number;

  readonly session: {
    /** Signing secrets, newest first: the first signs new cookies, every one verifies (rotation). */
    readonly secrets: readonly string[];
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
  /** Entra ID sign-in for people and service principals; undefined when ENTRA_CLIENT_ID is unset. */
  readonly entra: EntraConfig | undefined;
  /** The application's own credentials at Entra ID, when they come from the environment. */
  readonly entraCredentials: { readonly clientSecret?: string; readonly clientCertificate?: string };
  /** Secrets from Azure Key Vault instead of the environment; undefined when KEY_VAULT_URL is unset. */
  readonly keyVault: { readonly url: string; readonly refreshMs: number } | undefined;
  /** Azure Monitor Logs Ingestion (Sentinel); undefined when SIEM_INGESTION_ENDPOINT is unset. */
  readonly siem: SiemConfig | undefined;
  readonly defaultTenantId: string;
  readonly devLogin: boolean;
  readonly rolloutPolicy: RolloutPolicy;
  /** Idempotency-Key lifetime, and how long an attempt holds its key before a retry may take over. */
  readonly idempotency: { readonly ttlMs: number; readonly leaseMs: number };
  /** The longest a long-polling connector's request is held (its `wait`, capped); 0 answers at once. */
  readonly connectorMaxWaitMs: number;
  /** How often the worker's reconciler runs, and how old a row must be before it acts on it. */
  readonly reconciler: {
    readonly intervalMs: number;
    readonly thresholdMs: number;
    readonly batchSize: number;
  };
}

/**
 * Azure Monitor Logs Ingestion: the data collection endpoint, rule and stream; how often the worker's
 * forwarder looks for records (SIEM_POLL_INTERVAL), its longest wait between retries (SIEM_RETRY_MAX), and
 * the age of the oldest unsent record past which `/health` says degraded (SIEM_DEGRADED_AFTER).
 */
export interface SiemConfig {
  readonly ingestionEndpoint: string;
  readonly ruleId: string;
  readonly stream: string;
  readonly pollIntervalMs: number;
  readonly retryMaxMs: number;
  readonly degradedAfterMs: number;
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

export interface EntraConfig {
  /** `https://login.microsoftonline.com/<directory>` (or `organizations`), or any standards OpenID Provider. */
  readonly authority: string;
  /** Microsoft's clouds speak Entra ID's dialect (instance discovery, `{tenantid}` issuers); any other issuer plain OIDC. */
  readonly protocol: 'entra' | 'oidc';
  readonly clientId: string;
  /** Where the provider sends people back: `<PUBLIC_URL>/api/v1/auth/callback` unless configured. */
  readonly redirectUri: string;
  readonly appRoles: AppRoleMap;
  /** `aud` values accepted on service principals' access tokens. */
  readonly apiAudiences: readonly string[];
  /** Each EUCORA tenant and the Entra ID directory (`tid`) that signs in to it. */
  readonly tenants: readonly { readonly tenantId: string; readonly entraTenantId: string }[];
}

/** Hosts of Entra ID in Microsoft's public and sovereign clouds. */
const ENTRA_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
]);

const TENANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DIRECTORY_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

function parseJsonObject(name: string, raw: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError([`${name}: is not valid JSON`]);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError([`${name}: must be a JSON object`]);
  }
  return json as Record<string, unknown>;
}

function parseEntraTenants(raw: string): EntraConfig['tenants'] {
  const problems: string[] = [];
  const tenants = Object.entries(parseJsonObject('ENTRA_TENANTS', raw)).map(([tenantId, directory]) => {
    const entraTenantId = typeof directory === 'string' ? directory.toLowerCase() : '';
    if (!TENANT_ID_PATTERN.test(tenantId)) {
      problems.push(
        `ENTRA_TENANTS.${tenantId}: is not a tenant id (letters, digits, dot, dash or underscore, starting with a letter or digit)`,
      );
    }
    if (!DIRECTORY_ID_PATTERN.test(entraTenantId)) {
      problems.push(`ENTRA_TENANTS.${tenantId}: must be an Entra ID directory (tenant) id, a GUID`);
    }
    return { tenantId, entraTenantId };
  });
  const directories = tenants.map((t) => t.entraTenantId);
  if (new Set(directories).size !== directories.length) {
    problems.push('ENTRA_TENANTS: a directory signs in to one EUCORA tenant only');
  }
  if (tenants.length === 0) problems.push('ENTRA_TENANTS: name at least one tenant');
  if (problems.length > 0) throw new ConfigError(problems);
  return tenants;
}

function parseEntra(env: z.output<typeof environmentSchema>, publicUrl: string): EntraConfig | undefined {
  if (env.ENTRA_CLIENT_ID === undefined || env.ENTRA_TENANTS === undefined) return undefined;
  const tenants = parseEntraTenants(env.ENTRA_TENANTS);
  let appRoles: AppRoleMap;
  try {
    appRoles = parseAppRoleMap(
      env.ENTRA_APP_ROLES === undefined
        ? DEFAULT_APP_ROLES
        : parseJsonObject('ENTRA_APP_ROLES', env.ENTRA_APP_ROLES),
    );
  } catch (error) {
    if (error instanceof AppRoleMapError) {
      throw new ConfigError(error.problems.map((problem) => `ENTRA_APP_ROLES.${problem}`));
    }
    throw error;
  }
  // One directory: sign in at that directory. Several: Entra's multi-tenant endpoint, `tid` tells them apart.
  const [only] = tenants;
  const authority = (
    env.ENTRA_AUTHORITY ??
    `https://login.microsoftonline.com/${tenants.length === 1 && only !== undefined ? only.entraTenantId : 'organizations'}`
  ).replace(/\/+$/, '');
  const audiences = splitList(env.ENTRA_API_AUDIENCE);
  return {
    authority,
    protocol: ENTRA_HOSTS.has(new URL(authority).hostname) ? 'entra' : 'oidc',
    clientId: env.ENTRA_CLIENT_ID,
    redirectUri: env.ENTRA_REDIRECT_URI ?? `${publicUrl}/api/v1/auth/callback`,
    appRoles,
    apiAudiences: audiences.length > 0 ? audiences : [env.ENTRA_CLIENT_ID, `api://${env.ENTRA_CLIENT_ID}`],
    tenants,
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

/** CAB_QUORUM_RISK_THRESHOLD and CAB_QUORUM_APPROVALS, as the rollout policy's quorum rule. */
function parseCabQuorum(environment: NodeJS.ProcessEnv): CabQuorumRule {
  try {
    return parseCabQuorumRule(environment);
  } catch (error) {
    throw new ConfigError([error instanceof Error ? error.message : String(error)]);
  }
}

function parseRolloutPolicy(
  raw: string | undefined,
  cabTimeoutMs: number,
  cabQuorum: CabQuorumRule,
): RolloutPolicy {
  const base = { ...defaultRolloutPolicy(), cabTimeoutMs, cabQuorum };
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
  const sessionSecrets = splitList(env.SESSION_SECRET);
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
      callTimeoutMs: env.TEMPORAL_CALL_TIMEOUT,
    },
    worker: {
      maxCachedWorkflows: env.WORKER_MAX_CACHED_WORKFLOWS,
      maxConcurrentWorkflowTaskExecutions: env.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
      maxConcurrentActivityTaskExecutions: env.WORKER_MAX_CONCURRENT_ACTIVITIES,
      heapMb: env.WORKER_HEAP_MB,
    },
    database: {
      url: env.DATABASE_URL,
      poolSize: env.DATABASE_POOL_SIZE,
      connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT,
      statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT,
    },
    redisUrl: env.REDIS_URL,
    redisTimeoutMs: env.REDIS_TIMEOUT,

    session: {
      secrets: sessionSecrets.length > 0 ? sessionSecrets : [randomSecret()],
      generatedSecret: sessionSecrets.length === 0,
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
    entra: parseEntra(env, publicUrl),
    entraCredentials: {
      ...(env.ENTRA_CLIENT_SECRET === undefined ? {} : { clientSecret: env.ENTRA_CLIENT_SECRET }),
      ...(env.ENTRA_CLIENT_CERTIFICATE === undefined
        ? {}
        : { clientCertificate: env.ENTRA_CLIENT_CERTIFICATE }),
    },
    keyVault:
      env.KEY_VAULT_URL === undefined
        ? undefined
        : { url: env.KEY_VAULT_URL, refreshMs: env.KEY_VAULT_REFRESH },
    siem:
      env.SIEM_INGESTION_ENDPOINT === undefined ||
      env.SIEM_RULE_ID === undefined ||
      env.SIEM_STREAM === undefined
        ? undefined
        : {
            ingestionEndpoint: env.SIEM_INGESTION_ENDPOINT,
            ruleId: env.SIEM_RULE_ID,
            stream: env.SIEM_STREAM,
            pollIntervalMs: env.SIEM_POLL_INTERVAL,
            retryMaxMs: env.SIEM_RETRY_MAX,
            degradedAfterMs: env.SIEM_DEGRADED_AFTER,
          },
    defaultTenantId: env.DEFAULT_TENANT_ID,
    devLogin: env.DEV_LOGIN ?? false,
    rolloutPolicy: parseRolloutPolicy(env.ROLLOUT_POLICY, env.CAB_TIMEOUT, parseCabQuorum(environment)),
    idempotency: { ttlMs: env.IDEMPOTENCY_KEY_TTL, leaseMs: env.IDEMPOTENCY_LEASE },
    connectorMaxWaitMs: env.CONNECTOR_MAX_WAIT,
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
