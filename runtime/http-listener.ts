import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';

export interface Listener {
  readonly port: number;
  /** Stops accepting connections and drops the open ones (keep-alive included). */
  close(): Promise<void>;
}

/** Serves `app` on host:port (port 0 picks a free one) and resolves once it listens. */
export async function listen(app: RequestListener, port: number, host: string): Promise<Listener> {
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
