import { connect } from 'node:net';
import { listen } from '../../runtime/http-listener';
import type { Listener } from '../../runtime/http-listener';
import { ApiHarness } from '../helpers/api';

/**
 * Issue 7, "every malformed request is a 4xx": headers too large for the server are 431, and large
 * headers it does read (a long request id, a long cookie, a long Authorization) are a 4xx or an answer,
 * never a 5xx. Sent over a real socket, through the listener the API runs on.
 */

/** Sends `head` (request line and headers) and answers the status line's code. */
function statusOf(port: number, head: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      const match = /^HTTP\/1\.1 (\d{3})/.exec(received);
      if (match?.[1] !== undefined) {
        socket.destroy();
        resolve(Number(match[1]));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      reject(new Error(`closed without a status line: ${JSON.stringify(received.slice(0, 200))}`));
    });
    socket.write(`${head}\r\n\r\n`);
  });
}

describe('oversized headers', () => {
  let api: ApiHarness;
  let listener: Listener;

  beforeAll(async () => {
    api = await ApiHarness.start();
    listener = await listen(api.app, 0, '127.0.0.1');
  });
  afterAll(async () => {
    await listener.close();
    await api.close();
  });

  const request = (path: string, headers: string[]) =>
    [`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...headers].join('\r\n');

  it('answers headers beyond the server limit with 431', async () => {
    const huge = 'a'.repeat(64 * 1024);
    expect(await statusOf(listener.port, request('/api/v1/health', [`X-Filler: ${huge}`]))).toBe(431);
    expect(
      await statusOf(listener.port, request('/api/v1/deployment-intents', [`Cookie: eucora.sid=${huge}`])),
    ).toBe(431);
    const many = Array.from({ length: 2_000 }, (_, index) => `X-Filler-${String(index)}: ${'b'.repeat(10)}`);
    expect(await statusOf(listener.port, request('/api/v1/health', many))).toBe(431);
  });

  it('answers large headers it reads with a 4xx or an answer, never a 5xx', async () => {
    const large = 'c'.repeat(12 * 1024);
    const cases = [
      request('/api/v1/health', [`X-Correlation-ID: ${large}`]),
      request('/api/v1/deployment-intents', [`X-Correlation-ID: ${large}`]),
      request('/api/v1/deployment-intents', [`Cookie: eucora.sid=${large}`]),
      request('/api/v1/deployment-intents', [`Authorization: Bearer eucora_ck_${large}`]),
      request('/api/v1/connectors/pending-deployments', [
        `Authorization: Bearer ${large}.${large.slice(0, 100)}.x`,
      ]),
      request('/api/v1/health', [`Authorization: Basic ${large}`]),
      request(`/api/v1/deployment-intents?app_name=${large}`, []),
    ];
    const statuses: number[] = [];
    for (const head of cases) statuses.push(await statusOf(listener.port, head));
    for (const status of statuses) expect(status).toBeLessThan(500);
    // The public health check ignores what it does not need.
    expect(statuses[0]).toBe(200);
    expect(statuses[5]).toBe(200);
  });
});
