import { Client, Connection } from '@temporalio/client';
import { freePort } from './free-port';

export interface UnreachableTemporal {
  readonly client: Client;
  readonly connection: Connection;
  close(): Promise<void>;
}

/**
 * A Temporal client whose server is gone: nothing listens at its address, and without the SDK's
 * retry interceptor every call fails at once with UNAVAILABLE.
 */
export async function unreachableTemporal(): Promise<UnreachableTemporal> {
  const connection = Connection.lazy({ address: `127.0.0.1:${String(await freePort())}`, interceptors: [] });
  return { client: new Client({ connection }), connection, close: () => connection.close() };
}
