import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { createLogger } from '../runtime/logger';
import type { DevServer } from '../runtime/temporal-dev-server';
import { WORKFLOWS_PATH } from '../runtime/deployment-worker';
import { startEphemeralTemporal } from './helpers/ephemeral-temporal';

declare global {
  var __EUCORA_TEMPORAL__: DevServer | undefined;
}

/**
 * One real Temporal dev server (in memory, fast SQLite) and one workflow bundle for the whole run;
 * each test file runs its own worker on its own task queue.
 */
export default async function globalSetup(): Promise<void> {
  const logger = createLogger({ level: 'warn' });
  const { server, cliPath } = await startEphemeralTemporal('the tests', logger);
  globalThis.__EUCORA_TEMPORAL__ = server;
  process.env.EUCORA_TEST_TEMPORAL_ADDRESS = server.address;
  process.env.EUCORA_TEST_TEMPORAL_CLI = cliPath;

  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
  const dir = path.resolve('.temporal-test');
  mkdirSync(dir, { recursive: true });
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  writeFileSync(bundlePath, code);
  process.env.EUCORA_TEST_WORKFLOW_BUNDLE = bundlePath;
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message: string) => {
    process.stderr.write(`${message}\n`);
  },
};
