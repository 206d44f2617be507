import { Client, Connection } from '@temporalio/client';
import { freePort } from './free-port';
import { deadlineAwareRetryInterceptor } from '../../runtime/temporal-retry';

export interface UnreachableTemporal {
  readonly client: Client;
  readonly connection: Connection;
  close(): Promise<void>;
}

/**
 * A Temporal client whose server is gone: nothing listens at its address. Without the SDK's retry
 * interceptor every call fails at once with UNAVAILABLE; with it (`retrying`, as in production) every
 * call retries for about 20 s unless its deadline stops it first (no retry is started past the deadline).
 */
export async function unreachableTemporal(
  options: { retrying?: boolean } = {},
): Promise<UnreachableTemporal> {
  const address = `127.0.0.1:${String(await freePort())}`;
  const connection = Connection.lazy({
    address,
    interceptors: options.retrying === true ? [deadlineAwareRetryInterceptor()] : [],
  });
  return { client: new Client({ connection }), connection, close: () => connection.close() };
}
