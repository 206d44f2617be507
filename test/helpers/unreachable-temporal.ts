import { Client, Connection } from '@temporalio/client';
import { freePort } from './free-port';

export interface UnreachableTemporal {
  readonly client: Client;
  readonly connection: Connection;
  close(): Promise<void>;
}

/**
 * A Temporal client whose server is gone: nothing listens at its address. Without the SDK's retry
 * interceptor every call fails at once with UNAVAILABLE; with it (`retrying`, as in production) every
 * call retries for about 20 s unless a deadline stops it first.
 */
export async function unreachableTemporal(
  options: { retrying?: boolean } = {},
): Promise<UnreachableTemporal> {
  const address = `127.0.0.1:${String(await freePort())}`;
  const connection = Connection.lazy(options.retrying === true ? { address } : { address, interceptors: [] });
  return { client: new Client({ connection }), connection, close: () => connection.close() };
}
