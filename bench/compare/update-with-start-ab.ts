import { randomUUID } from 'node:crypto';
import { InterceptingCall } from '@grpc/grpc-js';
import os from 'node:os';
import { Client, Connection, WithStartWorkflowOperation } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createLogger } from '../../runtime/logger';
import { startEphemeralTemporal } from '../../test/helpers/ephemeral-temporal';
import { summarize } from '../result';
import { createBareActivities } from './bare-activities';
import { assessedUpdate } from './update-with-start-workflows';

/**
 * `npx tsx bench/compare/update-with-start-ab.ts [pairs] [requests]`: the two ways a submission can get
 * its workflow's answer, interleaved on one dev server and one worker in one run (issue 12): a start and
 * then an executeUpdate (EUCORA before commit 3088d45), against one executeUpdateWithStart (after).
 * Closed loops at concurrency 8 and 32; prints JSON (throughput, p50/p99, gRPC calls per request).
 */

const load = () => os.loadavg().map((value) => Number(value.toFixed(2)));

async function main(): Promise<void> {
  const pairs = Number(process.argv[2] ?? '3');
  const requests = Number(process.argv[3] ?? '96');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const { server } = await startEphemeralTemporal(
    'the update-with-start A/B',
    createLogger({ level: 'warn' }),
  );
  const calls: string[] = [];
  const connection = await Connection.connect({
    address: server.address,
    interceptors: [
      (options, nextCall) => {
        calls.push(options.method_definition.path);
        return new InterceptingCall(nextCall(options));
      },
    ],
  });
  const client = new Client({ connection, namespace: 'default' });
  const taskQueue = `uws-ab-${randomUUID()}`;
  const native = await NativeConnection.connect({ address: server.address });
  const worker = await Worker.create({
    connection: native,
    namespace: 'default',
    taskQueue,
    workflowsPath: require.resolve('./update-with-start-workflows'),
    activities: createBareActivities('http://127.0.0.1:9/unused'),
  });
  const running = worker.run();
  const options = (index: number) => ({
    workflowId: `uws-ab-${randomUUID()}`,
    taskQueue,
    args: [index],
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
  });
  const ways = {
    start_then_update: async (index: number) => {
      const handle = await client.workflow.start('bareAssessAnswered', options(index));
      return handle.executeUpdate(assessedUpdate);
    },
    update_with_start: (index: number) =>
      client.workflow.executeUpdateWithStart(assessedUpdate, {
        startWorkflowOperation: new WithStartWorkflowOperation('bareAssessAnswered', options(index)),
      }),
  };
  const trial = async (way: keyof typeof ways, concurrency: number) => {
    let next = 0;
    const latencies: number[] = [];
    calls.length = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < requests) {
          const index = next++;
          const at = performance.now();
          await ways[way](index);
          latencies.push(performance.now() - at);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const summary = summarize(latencies, 1);
    return {
      way,
      concurrency,
      per_s: Number((requests / seconds).toFixed(2)),
      p50_ms: summary.p50,
      p99_ms: summary.p99,
      grpc_calls_per_request: Number((calls.length / requests).toFixed(2)),
      load_average: load(),
    };
  };
  const loadAtStart = load();
  await trial('update_with_start', 8); // warm-up, not reported
  await trial('start_then_update', 8);
  const trials = [];
  for (const concurrency of [8, 32]) {
    for (let pair = 0; pair < pairs; pair++) {
      trials.push(await trial('start_then_update', concurrency));
      trials.push(await trial('update_with_start', concurrency));
    }
  }
  worker.shutdown();
  await running;
  await native.close();
  await connection.close();
  await server.stop();
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'update-with-start-ab',
        cores: os.cpus().length,
        requests,
        pairs,
        load_average_at_start: loadAtStart,
        trials,
      },
      null,
      1,
    )}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
