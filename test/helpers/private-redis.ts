import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createClient } from 'redis';
import { freePort } from './free-port';

export interface PrivateRedis {
  readonly url: string;
  /** SIGSTOP: the server keeps its connections and answers nothing (a hung or partitioned Redis). */
  freeze(): void;
  /** SIGCONT after `freeze`. */
  thaw(): void;
  /** SIGKILL: connections drop, new ones are refused. */
  kill(): Promise<void>;
}

/** A throw-away redis-server on a free port, never the shared one: the test may stop it. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const server: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${String(port)}`;
  for (let attempt = 0; ; attempt += 1) {
    const probe = createClient({ url, socket: { reconnectStrategy: false } });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      await probe.quit();
      break;
    } catch (error) {
      if (attempt > 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const exited = new Promise<void>((resolve) => {
    server.once('exit', () => {
      resolve();
    });
  });
  return {
    url,
    freeze: () => server.kill('SIGSTOP'),
    thaw: () => server.kill('SIGCONT'),
    async kill() {
      if (server.exitCode === null) {
        server.kill('SIGCONT');
        server.kill('SIGKILL');
        await exited;
      }
    },
  };
}
