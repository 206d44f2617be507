// `npm start` on a fresh clone: installs what is missing (node_modules, the Temporal CLI), then runs
// the whole system in this process (TypeScript through tsx), on the embedded defaults unless configured.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { ensureConsoleBuild } from './ensure-console.mjs';
import { ensureNodeModules, root } from './ensure-dependencies.mjs';
import { ensureTemporalCli } from './temporal-cli.mjs';

process.chdir(root);

// The worker's Node heap (WORKER_HEAP_MB, README "Configuration") is a V8 start-up flag. Start Node again
// with it now, while this process has loaded nothing, rather than in runtime/main.ts after the whole
// start-up (runtime/heap-limit.ts; same marker, so neither starts it a third time). The default is
// DEFAULT_WORKER_LIMITS.heapMb of runtime/config.ts, which validates the value.
const DEFAULT_WORKER_HEAP_MB = '256';
const heapMb = process.env.WORKER_HEAP_MB?.trim() || DEFAULT_WORKER_HEAP_MB;
const heapFlag = `--max-old-space-size=${heapMb}`;
const heapApplied = [...(process.env.NODE_OPTIONS ?? '').split(/\s+/), ...process.execArgv]
  .filter((argument) => /^--max[-_]old[-_]space[-_]size=/.test(argument))
  .at(-1);
if (
  /^[1-9]\d*$/.test(heapMb) &&
  heapApplied?.split('=')[1] !== heapMb &&
  process.env.EUCORA_HEAP_RELAUNCHED === undefined
) {
  const child = spawn(process.execPath, [...process.execArgv, heapFlag, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: true,
    env: { ...process.env, EUCORA_HEAP_RELAUNCHED: '1' },
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR2']) {
    process.on(signal, () => child.kill(signal));
  }
  child.once('exit', (code, signal) => {
    process.exit(code ?? (signal === null ? 1 : 128 + os.constants.signals[signal]));
  });
} else {
  startHere();
}

function startHere() {
  // The one-command start signs people in with the dev login; configuration refuses it unless HOST is
  // loopback, and always in production (where `npm start` leaves it off).
  if (process.env.NODE_ENV !== 'production') process.env.DEV_LOGIN ??= 'true';
  ensureNodeModules();
  // The console's build (dist/console) is made here when missing or made from other sources: a hash check
  // when nothing changed, a Vite build of a few seconds after a clone or a pull that touched web/.
  ensureConsoleBuild();
  if (!process.env.TEMPORAL_ADDRESS) {
    const cli = ensureTemporalCli();
    if (cli !== undefined) process.env.TEMPORAL_CLI_PATH ??= cli;
  }

  const require = createRequire(import.meta.url);
  require('tsx/cjs/api').register();
  require(path.join(root, 'runtime', 'start.ts'));
}
