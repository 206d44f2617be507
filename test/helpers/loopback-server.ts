import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** An HTTP server for `handler` on 127.0.0.1 and a free port: for clients that need a real socket. */
export interface LoopbackServer {
  readonly baseUrl: string;
  close(): Promise<void>;
}

export async function serveOnLoopback(handler: http.RequestListener): Promise<LoopbackServer> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
