import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { build } from 'esbuild';
import { PostgresCluster, RedisServer, TemporalServer } from './infrastructure';
import { SCENARIOS, runScenario } from './scenarios';
import { World } from './scenario';
import type { ScenarioResult, Stack } from './scenario';

/**
 * `npm run test:faults [scenario …]`: starts a private PostgreSQL cluster, Redis and Temporal dev
 * server, runs each fault scenario against the API and the worker as separate processes, prints one
 * line per scenario and fails on anything lost, duplicated, slow, 5xx, refused, or any process that
 * exited on its own. FAULTS_KEEP=1 keeps the run's folder (logs, data) for a look afterwards.
 */

const out = (line: string) => process.stdout.write(`${line}\n`);

function summary(result: ScenarioResult): string {
  return [
    `scenario=${result.name}`,
    `lost=${String(result.lost.length)}`,
    `duplicated=${String(result.duplicated.length)}`,
    `slow_or_5xx=${String(result.slowOr5xx.length)}`,
    `refused=${String(result.refused.length)}`,
    `unplanned_exits=${String(result.exits.length)}`,
    `intents=${String(result.intents)}`,
    `outage_answers=${JSON.stringify(result.outageAnswers)}`,
    `seconds=${String(result.seconds)}`,
  ].join(' ');
}

function failed(result: ScenarioResult): boolean {
  return (
    result.lost.length +
      result.duplicated.length +
      result.slowOr5xx.length +
      result.refused.length +
      result.exits.length >
    0
  );
}

async function main(): Promise<void> {
  const selected = process.argv.slice(2);
  const unknown = selected.filter((name) => !SCENARIOS.some((s) => s.name === name));
  if (unknown.length > 0) {
    out(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
  const started = Date.now();
  const root = mkdtempSync(path.join(os.tmpdir(), 'eucora-faults-'));
  out(`fault suite: working in ${root}`);
  const [postgres, redis, temporal, bundle, entries] = await Promise.all([
    PostgresCluster.create(root),
    RedisServer.create(root),
    TemporalServer.create(root),
    bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, '../../workflows'), logger: quietLogger }),
    bundleEntryPoints(path.join(root, 'dist')),
  ]);
  const workflowBundle = path.join(root, 'workflow-bundle.js');
  writeFileSync(workflowBundle, bundle.code);
  const stack: Stack = {
    root,
    postgres,
    redis,
    temporal,
    workflowBundle,
    entries,
    temporalClient: () => temporal.client(),
  };
  out(`fault suite: dependencies up in ${String(Math.round((Date.now() - started) / 1000))} s`);

  const world = await World.start(stack);
  const results: ScenarioResult[] = [];
  for (const definition of SCENARIOS.filter((s) => selected.length === 0 || selected.includes(s.name))) {
    const result = await runScenario(definition, world);
    results.push(result);
    out(summary(result));
    const details = [
      ...result.lost.map((line) => `  lost: ${line}`),
      ...result.duplicated.map((line) => `  duplicated: ${line}`),
      ...result.slowOr5xx.map((line) => `  slow_or_5xx: ${line}`),
      ...result.refused.map((line) => `  refused: ${line}`),
      ...result.exits.map((line) => `  exit: ${line}`),
    ];
    for (const line of details.slice(0, 25)) out(line);
    if (details.length > 25) out(`  … and ${String(details.length - 25)} more`);
  }

  await world.close();
  await temporal.kill();
  await redis.kill();
  await postgres.close();
  const failures = results.filter(failed);
  out(
    `fault suite: ${String(results.length - failures.length)}/${String(results.length)} scenarios clean in ` +
      `${String(Math.round((Date.now() - started) / 1000))} s`,
  );
  if (failures.length > 0 || process.env.FAULTS_KEEP === '1') out(`logs kept in ${root}/logs`);
  else rmSync(root, { recursive: true, force: true });
  process.exit(failures.length > 0 ? 1 : 0);
}

/**
 * The API and the worker as plain JavaScript (packages stay in node_modules): a process restarts in a
 * second or two instead of compiling TypeScript again. Migrations sit beside them, where db/client looks.
 */
async function bundleEntryPoints(outdir: string): Promise<{ api: string; worker: string }> {
  const project = path.resolve(__dirname, '../..');
  await build({
    entryPoints: { api: path.join(project, 'api/server.ts'), worker: path.join(project, 'worker.ts') },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    sourcemap: true,
    outdir,
    logLevel: 'error',
  });
  cpSync(path.join(project, 'db/migrations'), path.join(outdir, 'migrations'), { recursive: true });
  // runtime/deployment-worker resolves ../workflows when loaded; the worker runs the prebuilt workflow
  // bundle (TEMPORAL_WORKFLOW_BUNDLE), so a placeholder module satisfies the lookup.
  mkdirSync(path.join(outdir, '../workflows'), { recursive: true });
  writeFileSync(
    path.join(outdir, '../workflows/index.js'),
    '// workflows run from TEMPORAL_WORKFLOW_BUNDLE\n',
  );
  return { api: path.join(outdir, 'api.js'), worker: path.join(outdir, 'worker.js') };
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message: string) => {
    process.stderr.write(`${message}\n`);
  },
};

main().catch((error: unknown) => {
  process.stderr.write(
    `fault suite failed to run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
