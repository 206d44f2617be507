// Builds the browser console (web/, Vite) into dist/console when its build is missing or was made from
// other sources: `npm start` and `npm test` call it, so a fresh clone or a pull needs no separate step,
// and an unchanged tree costs one hash of web/ (milliseconds). `--always` rebuilds (npm run build).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const consoleOutput = path.join(root, 'dist', 'console');
const stampFile = path.join(consoleOutput, '.source-hash');

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : [full];
  });
}

/** SHA-256 over every file the build reads: web/ and the lock file (the versions of Vite and React). */
function sourceHash() {
  const hash = createHash('sha256');
  const files = [...filesUnder(path.join(root, 'web')), path.join(root, 'package-lock.json')].sort();
  for (const file of files) {
    hash.update(path.relative(root, file));
    hash.update('\0');
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}

export function ensureConsoleBuild({ always = false } = {}) {
  const wanted = sourceHash();
  if (!always && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === wanted) return;
  process.stdout.write('Building the console (vite build)…\n');
  // Built beside and swapped in, so a server (or a second build) never serves half a build.
  const staging = `${consoleOutput}.building-${String(process.pid)}`;
  const vite = path.join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const build = spawnSync(
    process.execPath,
    [vite, 'build', '--config', 'web/vite.config.mjs', '--outDir', staging, '--logLevel', 'warn'],
    { cwd: root, stdio: 'inherit' },
  );
  if (build.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    process.exit(build.status ?? 1);
  }
  writeFileSync(path.join(staging, '.source-hash'), wanted);
  rmSync(consoleOutput, { recursive: true, force: true });
  renameSync(staging, consoleOutput);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  ensureConsoleBuild({ always: process.argv.includes('--always') });
}
