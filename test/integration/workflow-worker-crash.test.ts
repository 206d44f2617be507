import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Harness, fastPolicy } from '../helpers/harness';
import { databaseKinds } from '../helpers/database';
import { RINGS } from '../../policy/rings';

const ROOT = path.resolve(__dirname, '../..');

/** worker.ts as its own process, on the harness's task queue and database (PostgreSQL only: PGlite is in-process). */
async function spawnWorkerProcess(harness: Harness): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      TEMPORAL_ADDRESS: process.env.EUCORA_TEST_TEMPORAL_ADDRESS,
      TEMPORAL_TASK_QUEUE: harness.temporal.taskQueue,
      TEMPORAL_WORKFLOW_BUNDLE: process.env.EUCORA_TEST_WORKFLOW_BUNDLE,
      DATABASE_URL: harness.db.url,
      DEFAULT_TENANT_ID: 'tenant-a',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('is running (worker)')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => {
      reject(new Error(`worker process exited early (${String(code)}):\n${output}`));
    });
  });
  return child;
}

describe.each(databaseKinds())('a worker that dies while a ring is pending (%s)', (kind) => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await Harness.start(fastPolicy(), kind);
  });
  afterAll(async () => {
    await harness.close();
  });

  it('lets a new worker finish the intent, with no duplicate event in the trail', async () => {
    let crashed: ChildProcess | undefined;
    if (kind === 'postgres') {
      // The in-process worker makes way for a real worker process, which is then killed outright.
      await harness.temporal.stopWorker();
      crashed = await spawnWorkerProcess(harness);
    }
    const { intent } = await harness.submit();
    await harness.complete(intent, 'LAB', { success: 10, failure: 0 });
    await harness.pending(intent.id, 'CANARY');

    if (crashed !== undefined) {
      const worker = crashed;
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.kill('SIGKILL');
      await exited;
    } else {
      await harness.temporal.stopWorker();
    }
    // The connector reports while no worker runs: Temporal holds the completion.
    await harness.complete(intent, 'CANARY', { success: 100, failure: 0 });
    await harness.temporal.start();

    for (const ring of ['PILOT', 'DEPARTMENT', 'GLOBAL'] as const) {
      await harness.complete(intent, ring, { success: 1_000, failure: 0 });
    }
    expect((await harness.result(intent.workflowId)).status).toBe('COMPLETED');

    const events = await harness.tenant.events.list({ intentId: intent.id }, { limit: 500 });
    const keys = events.items.map((event) => event.eventKey);
    expect(new Set(keys).size).toBe(keys.length);
    const count = (type: string) => events.items.filter((event) => event.eventType === type).length;
    expect(count('RISK_ASSESSED')).toBe(1);
    expect(count('RING_STARTED')).toBe(RINGS.length);
    expect(count('RING_REPORTED')).toBe(RINGS.length);
    expect(count('GATE_PASSED')).toBe(RINGS.length);
    expect(count('COMPLETED')).toBe(1);
  });
});
