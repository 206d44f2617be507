import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/free-port';

const ROOT = path.resolve(__dirname, '../..');

/** Child processes of a process (pid and command line), from ps. */
function childrenOf(pid: number): { pid: number; cmd: string }[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,cmd=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
      .filter((match) => match !== null)
      .map((match) => ({ pid: Number(match[1]), cmd: match[2] ?? '' }));
  } catch {
    return [];
  }
}

/** The process is still there with the same command line (not merely a reused pid). */
function stillRunning(process: { pid: number; cmd: string }): boolean {
  try {
    return (
      execFileSync('ps', ['-o', 'cmd=', '-p', String(process.pid)], { encoding: 'utf8' }).trim() ===
      process.cmd
    );
  } catch {
    return false;
  }
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
  });
}

/** The exit code, or null after killing a process that was still running after `ms` (a start that should have failed). */
async function exitWithin(child: ChildProcess, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      resolve('timeout');
    }, ms);
  });
  const exited = exitOf(child);
  const first = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (first !== 'timeout') return first;
  child.kill('SIGKILL');
  await exited;
  return null;
}

function startCommand(env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_CLI_PATH: process.env.EUCORA_TEST_TEMPORAL_CLI,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  return { child, output: () => output };
}

describe('the one-command start (npm start)', () => {
  it('reaches healthy on the embedded defaults, serves the Temporal UI, and leaves nothing behind on SIGTERM', async () => {
    const port = await freePort();
    const uiPort = await freePort();
    const { child, output } = startCommand({
      DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'eucora-start-')),
      PORT: String(port),
      TEMPORAL_DEV_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(uiPort),
      LOG_LEVEL: 'warn',
    });
    const exited = exitOf(child);
    const deadline = Date.now() + 90_000;
    while (!output().includes('is running (all)')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`did not start:\n${output()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(output()).toContain(`API          http://127.0.0.1:${String(port)}/api/v1`);
    const started = output();
    expect(output()).toContain(`Temporal UI  http://127.0.0.1:${String(uiPort)}`);

    const health = await fetch(`http://127.0.0.1:${String(port)}/api/v1/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      status: 'ok',
      checks: {
        database: { status: 'ok', kind: 'pglite' },
        session_store: { status: 'ok', kind: 'memory' },
        temporal: { status: 'ok' },
      },
    });
    expect((await fetch(`http://127.0.0.1:${String(uiPort)}/`)).status).toBe(200);

    const pid = child.pid ?? -1;
    // Node started again with the worker's heap bound (WORKER_HEAP_MB), and under it the Temporal dev
    // server and tsx's esbuild service.
    const relaunched = childrenOf(pid);
    expect(relaunched.map((c) => c.cmd)).toEqual([
      expect.stringMatching(/node --max-old-space-size=256 .*scripts\/start\.mjs$/),
    ]);
    const children = [...relaunched, ...relaunched.flatMap((c) => childrenOf(c.pid))];
    expect(children.map((c) => c.cmd)).toEqual(
      expect.arrayContaining([expect.stringContaining('server start-dev')]),
    );
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // esbuild's service leaves when its stdin closes with our exit; give it a moment, no more.
    const settled = Date.now() + 3_000;
    while (children.some(stillRunning) && Date.now() < settled) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(children.filter(stillRunning)).toEqual([]);
    expect(childrenOf(pid)).toEqual([]);
    // npm start turns the dev login on, and says so loudly.
    expect(started).toMatch(/DEV LOGIN IS ON/);
  }, 120_000);

  it('bundles the workflows on the first start and reuses that bundle on the next start of the same sources', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'eucora-rebundle-'));
    // A port freePort found free can be taken by another process before the dev server binds it (a busy
    // machine): such a start is tried again on other ports, up to three times.
    const startOnce = async (): Promise<string> => {
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await startOn();
        } catch (error) {
          if (attempt >= 3 || !String(error).includes('address already in use')) throw error;
        }
      }
    };
    const startOn = async () => {
      const { child, output } = startCommand({
        DATA_DIR: dataDir,
        PORT: String(await freePort()),
        TEMPORAL_DEV_PORT: String(await freePort()),
        TEMPORAL_UI_PORT: String(await freePort()),
        LOG_LEVEL: 'info',
      });
      const exited = exitOf(child);
      const deadline = Date.now() + 90_000;
      while (!output().includes('is running (all)')) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`did not start:\n${output()}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      return output();
    };

    const first = await startOnce();
    const second = await startOnce();

    expect(first).toContain('"msg":"workflows bundled"');
    expect(second).toContain('"msg":"workflow bundle reused"');
    expect(second).not.toContain('"msg":"workflows bundled"');
    expect(readdirSync(path.join(dataDir, 'workflow-bundle'))).toEqual([
      expect.stringMatching(/^workflow-bundle-[0-9a-f]{32}\.js$/),
    ]);
    rmSync(dataDir, { recursive: true, force: true });
  }, 240_000);

  it('stops at once, naming the setting, when the configuration is invalid', async () => {
    const { child, output } = startCommand({
      PORT: 'eighty',
      DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'eucora-bad-')),
    });
    const code = await exitOf(child);
    expect(code).toBe(1);
    expect(output()).toMatch(/Invalid configuration:\n {2}- PORT: /);
  }, 60_000);

  it('refuses the dev login it turns on when HOST is not a loopback address', async () => {
    const { child, output } = startCommand({
      HOST: '0.0.0.0',
      PORT: String(await freePort()),
      TEMPORAL_DEV_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'eucora-bad-')),
    });
    expect(await exitWithin(child, 30_000)).toBe(1);
    expect(output()).toMatch(/- DEV_LOGIN: .*loopback/);
  }, 60_000);

  const production = {
    NODE_ENV: 'production',
    PUBLIC_URL: 'https://eucora.example.com',
    TEMPORAL_ADDRESS: '127.0.0.1:1',
    DATABASE_URL: 'postgres://eucora@127.0.0.1:1/eucora',
    REDIS_URL: 'redis://127.0.0.1:1',
    SESSION_SECRET: 's'.repeat(40),
  };

  it.each([
    ['without REDIS_URL', { REDIS_URL: '' }, 'REDIS_URL'],
    ['with DEV_LOGIN=true', { DEV_LOGIN: 'true' }, 'DEV_LOGIN'],
  ])(
    'fails a production start %s, naming the variable',
    async (_case, change, variable) => {
      const { child, output } = startCommand({
        ...production,
        ...change,
        DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'eucora-prod-')),
      });
      expect(await exitWithin(child, 30_000)).toBe(1);
      expect(output()).toMatch(new RegExp(`Invalid configuration:\\n {2}- ${variable}: `));
      expect(output().match(/^ {2}- /gm)).toHaveLength(1);
    },
    60_000,
  );
});
