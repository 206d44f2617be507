import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import type { Logger } from './logger';
import type { CustomSearchAttribute } from '../workflows/search-attributes';

export interface DevServerOptions {
  readonly cliPath: string;
  readonly port: number;
  /** Web UI port; undefined runs the server headless (tests). */
  readonly uiPort: number | undefined;
  /** SQLite file that keeps workflows across restarts; undefined keeps them in memory. */
  readonly dbFile: string | undefined;
  readonly namespace: string;
  readonly searchAttributes: readonly CustomSearchAttribute[];
  /** Trade durability for speed (tests): WAL journal and no fsync. */
  readonly fastSqlite?: boolean;
  readonly logger: Logger;
  readonly readyTimeoutMs?: number;
}

export interface DevServer {
  readonly address: string;
  readonly uiUrl: string | undefined;
  readonly pid: number;
  stop(): Promise<void>;
}

const CLI_TYPE: Record<SearchAttributeType, string> = {
  [SearchAttributeType.TEXT]: 'Text',
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.INT]: 'Int',
  [SearchAttributeType.DOUBLE]: 'Double',
  [SearchAttributeType.BOOL]: 'Bool',
  [SearchAttributeType.DATETIME]: 'Datetime',
  [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
};

export function devServerArgs(options: DevServerOptions): string[] {
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--log-level',
    'warn',
  ];
  args.push('--namespace', options.namespace);
  if (options.uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(options.uiPort), '--ui-disable-news-fetch');
  if (options.dbFile !== undefined) args.push('--db-filename', options.dbFile);
  if (options.fastSqlite === true) {
    args.push('--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=off');
  }
  for (const key of options.searchAttributes) {
    args.push('--search-attribute', `${key.name}=${CLI_TYPE[key.type]}`);
  }
  return args;
}

/** Starts `temporal server start-dev` and resolves once its frontend answers. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  if (options.dbFile !== undefined) mkdirSync(path.dirname(options.dbFile), { recursive: true });
  const address = `127.0.0.1:${String(options.port)}`;
  const child = spawn(options.cliPath, devServerArgs(options), { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const remember = (chunk: Buffer) => {
    output.push(chunk.toString('utf8'));
    if (output.length > 50) output.shift();
  };
  child.stdout.on('data', remember);
  child.stderr.on('data', remember);

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.once('exit', (code, signal) => {
    exited = { code, signal };
  });
  // A process dying with us must not leave the server behind; 'exit' handlers may only do synchronous work.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (exited !== undefined) {
      process.removeListener('exit', killOnExit);
      throw new Error(
        `temporal dev server exited (code ${String(exited.code)}) before it was ready:\n${output.join('')}`,
      );
    }
    if (await frontendAnswers(address)) break;
    if (Date.now() > deadline) {
      await stopProcess(child);
      process.removeListener('exit', killOnExit);
      throw new Error(`temporal dev server did not answer on ${address} in time:\n${output.join('')}`);
    }
    await delay(200);
  }
  options.logger.info({ address, pid: child.pid, dbFile: options.dbFile }, 'temporal dev server ready');
  return {
    address,
    uiUrl: options.uiPort === undefined ? undefined : `http://127.0.0.1:${String(options.uiPort)}`,
    pid: child.pid ?? -1,
    async stop() {
      await stopProcess(child);
      process.removeListener('exit', killOnExit);
    },
  };
}

async function frontendAnswers(address: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 1_000 });
    await connection.workflowService.getSystemInfo({});
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close();
  }
}

/** SIGTERM, then SIGKILL if the process has not exited after the grace period. */
export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
