import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createBareActivities } from './bare-activities';

/**
 * The bare worker, a process of its own (so its CPU and RSS are read apart from EUCORA's):
 * BARE_TEMPORAL_ADDRESS, BARE_TASK_QUEUE, BARE_DRIVER_URL, BARE_WORKFLOW_BUNDLE (a prebuilt bundle), and
 * the same cache setting as the EUCORA worker (WORKER_MAX_CACHED_WORKFLOWS); the benchmark gives both
 * the same heap flag.
 */
async function main(): Promise<void> {
  const required = (name: string): string => {
    const value = process.env[name];
    if (value === undefined || value === '') throw new Error(`${name} is required`);
    return value;
  };
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: required('BARE_TEMPORAL_ADDRESS') });
  const cached = process.env.WORKER_MAX_CACHED_WORKFLOWS;
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue: required('BARE_TASK_QUEUE'),
    // Bundled by the benchmark before this process starts (as EUCORA's worker reuses a stored bundle):
    // webpack run in a worker process keeps tens of MiB reachable after bundling.
    ...(process.env.BARE_WORKFLOW_BUNDLE === undefined || process.env.BARE_WORKFLOW_BUNDLE === ''
      ? { workflowsPath: require.resolve('./bare-workflows') }
      : { workflowBundle: { codePath: process.env.BARE_WORKFLOW_BUNDLE } }),
    activities: createBareActivities(required('BARE_DRIVER_URL')),
    ...(cached === undefined || cached === '' ? {} : { maxCachedWorkflows: Number(cached) }),
  });
  process.once('SIGTERM', () => {
    worker.shutdown();
  });
  await worker.run();
  await connection.close();
  process.stdout.write('bare worker stopped\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`bare worker failed: ${String(error)}\n`);
  process.exit(1);
});
