import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Finds the Temporal CLI: `TEMPORAL_CLI_PATH`, then `temporal` on PATH, then a CLI the Temporal SDK
 * downloaded into the temp folder. Returns undefined when there is none.
 */
export function findTemporalCli(options: {
  configuredPath: string | undefined;
  searchPath: string | undefined;
  downloadDir?: string;
}): string | undefined {
  if (options.configuredPath !== undefined) {
    if (!isExecutable(options.configuredPath)) {
      throw new Error(`TEMPORAL_CLI_PATH: ${options.configuredPath} is not an executable file`);
    }
    return options.configuredPath;
  }
  for (const dir of (options.searchPath ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, 'temporal');
    if (isExecutable(candidate)) return candidate;
  }
  return newestSdkDownload(options.downloadDir ?? os.tmpdir());
}

function newestSdkDownload(dir: string): string | undefined {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return undefined;
  }
  return entries
    .filter((name) => name.startsWith('temporal-cli') || name.startsWith('temporal-sdk-typescript'))
    .map((name) => path.join(dir, name))
    .filter(isExecutable)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
