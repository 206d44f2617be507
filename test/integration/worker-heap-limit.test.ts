import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/** Node processes whose parent is `pid`, from ps. */
function nodeChildrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => /^\s*(\d+)\s+node/.exec(line)?.[1])
      .filter((match) => match !== undefined)
      .map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** worker.ts as `npm run worker` runs it (through tsx), on the tests' Temporal server; resolves once it runs. */
async function startWorker(
  environment: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; heapSizeLimitMb: number; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      TEMPORAL_ADDRESS: process.env.EUCORA_TEST_TEMPORAL_ADDRESS,
      TEMPORAL_TASK_QUEUE: `heap-limit-${String(process.pid)}-${String(Date.now())}`,
      TEMPORAL_WORKFLOW_BUNDLE: process.env.EUCORA_TEST_WORKFLOW_BUNDLE,
      DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'eucora-heap-')),
      ...(process.env.DATABASE_URL === undefined ? {} : { DATABASE_URL: process.env.DATABASE_URL }),
      ...environment,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let output = '';
  const heapSizeLimitMb = await new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const limit = /"heapSizeLimitMb":(\d+)[^\n]*"msg":"worker running"/.exec(output)?.[1];
      if (limit !== undefined && output.includes('is running (worker)')) resolve(Number(limit));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      reject(new Error(`worker exited early (${String(code)}):\n${output}`));
    });
  });
  return { child, heapSizeLimitMb, exited };
}

describe('WORKER_HEAP_MB reaches the worker process', () => {
  it('starts Node again with --max-old-space-size when it is missing, and the worker dies with its launcher', async () => {
    const { child, heapSizeLimitMb, exited } = await startWorker({ WORKER_HEAP_MB: '160' });
    // V8's heap limit is the old space asked for plus the young generation (tens of MiB); its own
    // default on this machine is several GiB.
    expect(heapSizeLimitMb).toBeGreaterThanOrEqual(160);
    expect(heapSizeLimitMb).toBeLessThan(260);
    const launcher = child.pid ?? -1;
    const workers = nodeChildrenOf(launcher);
    expect(workers).toHaveLength(1);
    const worker = workers[0] ?? -1;

    child.kill('SIGKILL');
    await exited;
    const deadline = Date.now() + 10_000;
    while (alive(worker) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(alive(worker)).toBe(false);
  }, 120_000);

  it('runs in place when NODE_OPTIONS already holds the flag, and stops cleanly on SIGTERM', async () => {
    const { child, heapSizeLimitMb, exited } = await startWorker({
      WORKER_HEAP_MB: '192',
      NODE_OPTIONS: '--max-old-space-size=192',
    });
    expect(heapSizeLimitMb).toBeGreaterThanOrEqual(192);
    expect(heapSizeLimitMb).toBeLessThan(300);
    expect(nodeChildrenOf(child.pid ?? -1)).toEqual([]);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 120_000);

  it('passes SIGTERM on to the restarted worker, which stops cleanly', async () => {
    const { child, exited } = await startWorker({ WORKER_HEAP_MB: '128' });
    const workers = nodeChildrenOf(child.pid ?? -1);
    expect(workers).toHaveLength(1);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(workers.filter(alive)).toEqual([]);
  }, 120_000);
});
