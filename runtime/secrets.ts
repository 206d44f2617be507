import type * as AzureIdentity from '@azure/identity';
import type { SecretClient } from '@azure/keyvault-secrets';
import type * as KeyVaultSecrets from '@azure/keyvault-secrets';
import type { SecretClientOptions } from '@azure/keyvault-secrets';
import type { AppConfig } from './config';
import type { Logger } from './logger';

/** The values EUCORA keeps secret. Never logged, never in an error body: only their names are. */
export interface SecretValues {
  /** Newest first: the first signs new session cookies, every one still verifies (rotation). */
  readonly sessionSecrets: readonly string[];
  /** Replaces the password in DATABASE_URL for every new connection. */
  readonly databasePassword: string | undefined;
  readonly entraClientSecret: string | undefined;
  /** PEM holding the private key and the certificate EUCORA proves itself to Entra ID with. */
  readonly entraClientCertificate: string | undefined;
}

export interface SecretSource {
  readonly kind: 'environment' | 'key-vault';
  current(): SecretValues;
  /** Called after a refresh changed any value. */
  onChange(listener: (values: SecretValues) => void): void;
  close(): void;
}

/** The Key Vault secret holding each value. Session secrets: one per line (or comma-separated), newest first. */
export const KEY_VAULT_SECRET_NAMES: Readonly<Record<keyof SecretValues, string>> = {
  sessionSecrets: 'eucora-session-secrets',
  databasePassword: 'eucora-database-password',
  entraClientSecret: 'eucora-entra-client-secret',
  entraClientCertificate: 'eucora-entra-client-certificate',
};

export class SecretsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretsError';
  }
}

export function environmentSecrets(config: AppConfig): SecretSource {
  const values: SecretValues = {
    sessionSecrets: config.session.secrets,
    databasePassword: undefined,
    entraClientSecret: config.entraCredentials.clientSecret,
    entraClientCertificate: config.entraCredentials.clientCertificate,
  };
  return { kind: 'environment', current: () => values, onChange: () => undefined, close: () => undefined };
}

/** A `TokenCredential` (@azure/core-auth): what the SDK asks for tokens. */
type TokenCredential = ConstructorParameters<typeof SecretClient>[1];

/** What tests inject: a credential and client options (an agent trusting their CA, no resource check). */
export interface KeyVaultAccess {
  readonly credential?: TokenCredential;
  readonly clientOptions?: SecretClientOptions;
}

function splitSecrets(value: string): string[] {
  return value
    .split(/[\n,]/)
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

function sameValues(a: SecretValues, b: SecretValues): boolean {
  return (
    a.sessionSecrets.join('\n') === b.sessionSecrets.join('\n') &&
    a.databasePassword === b.databasePassword &&
    a.entraClientSecret === b.entraClientSecret &&
    a.entraClientCertificate === b.entraClientCertificate
  );
}

/** The parts of an SDK error that are safe to log: never its message, which may quote a response. */
function errorSummary(error: unknown): { status?: number; code?: string } {
  const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
  return {
    ...(typeof statusCode === 'number' ? { status: statusCode } : {}),
    ...(typeof code === 'string' ? { code } : {}),
  };
}

/**
 * Secrets read from Azure Key Vault with `DefaultAzureCredential` (managed identity in Azure, a developer's
 * Azure CLI sign-in locally), at start-up and then every KEY_VAULT_REFRESH. A failed refresh keeps the
 * values it had and is logged by secret name and status only; start-up fails when a required secret is
 * missing or unreadable.
 */
export async function keyVaultSecrets(
  config: AppConfig,
  vault: { readonly url: string; readonly refreshMs: number },
  logger: Logger,
  access: KeyVaultAccess = {},
): Promise<SecretSource> {
  // Required here, not at the top: a process without Key Vault never loads the Azure SDK (about 30 MiB of RSS).
  /* eslint-disable @typescript-eslint/no-require-imports -- deferred on purpose, see above */
  const { SecretClient: KeyVaultClient } = require('@azure/keyvault-secrets') as typeof KeyVaultSecrets;
  const credential =
    access.credential ?? new (require('@azure/identity') as typeof AzureIdentity).DefaultAzureCredential();
  /* eslint-enable @typescript-eslint/no-require-imports */
  const client: SecretClient = new KeyVaultClient(vault.url, credential, access.clientOptions);

  const read = async (field: keyof SecretValues): Promise<string | undefined> => {
    const name = KEY_VAULT_SECRET_NAMES[field];
    try {
      const secret = await client.getSecret(name);
      return secret.value;
    } catch (error) {
      const summary = errorSummary(error);
      if (summary.status === 404) return undefined;
      throw new SecretsError(
        `Key Vault secret ${name} could not be read (${summary.status === undefined ? 'no answer' : `HTTP ${String(summary.status)}`}${summary.code === undefined ? '' : `, ${summary.code}`})`,
      );
    }
  };

  const load = async (): Promise<SecretValues> => {
    const [sessionSecrets, databasePassword, entraClientSecret, entraClientCertificate] = await Promise.all([
      read('sessionSecrets'),
      read('databasePassword'),
      read('entraClientSecret'),
      read('entraClientCertificate'),
    ]);
    const values: SecretValues = {
      sessionSecrets: splitSecrets(sessionSecrets ?? ''),
      databasePassword,
      entraClientSecret,
      entraClientCertificate,
    };
    if (values.sessionSecrets.length === 0) {
      throw new SecretsError(`Key Vault secret ${KEY_VAULT_SECRET_NAMES.sessionSecrets} is missing or empty`);
    }
    if (values.sessionSecrets.some((secret) => secret.length < 32)) {
      throw new SecretsError(
        `Key Vault secret ${KEY_VAULT_SECRET_NAMES.sessionSecrets}: each session secret must be at least 32 characters`,
      );
    }
    if (
      config.entra !== undefined &&
      entraClientSecret === undefined &&
      entraClientCertificate === undefined
    ) {
      throw new SecretsError(
        `Key Vault holds neither ${KEY_VAULT_SECRET_NAMES.entraClientSecret} nor ${KEY_VAULT_SECRET_NAMES.entraClientCertificate}: Entra ID sign-in needs one`,
      );
    }
    return values;
  };

  let values = await load();
  logger.info({ vault: vault.url }, 'secrets loaded from Key Vault');
  const listeners: ((values: SecretValues) => void)[] = [];
  let refreshing = false;
  const timer = setInterval(() => {
    if (refreshing) return;
    refreshing = true;
    load()
      .then((next) => {
        if (sameValues(values, next)) return;
        values = next;
        logger.info({ vault: vault.url }, 'secrets refreshed from Key Vault');
        for (const listener of listeners) listener(next);
      })
      .catch((error: unknown) => {
        // The message names the secret and the status, never a value.
        logger.warn(
          { vault: vault.url, reason: error instanceof SecretsError ? error.message : 'unexpected error' },
          'Key Vault refresh failed; keeping the secrets loaded before',
        );
      })
      .finally(() => {
        refreshing = false;
      });
  }, vault.refreshMs);
  timer.unref();
  return {
    kind: 'key-vault',
    current: () => values,
    onChange: (listener) => {
      listeners.push(listener);
    },
    close: () => {
      clearInterval(timer);
    },
  };
}

/** Key Vault when KEY_VAULT_URL is set, the environment otherwise. */
export function loadSecrets(
  config: AppConfig,
  logger: Logger,
  access?: KeyVaultAccess,
): Promise<SecretSource> {
  return config.keyVault === undefined
    ? Promise.resolve(environmentSecrets(config))
    : keyVaultSecrets(config, config.keyVault, logger, access);
}
