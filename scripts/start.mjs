// `npm start` on a fresh clone: installs what is missing (node_modules, the Temporal CLI), then runs
// the whole system in this process (TypeScript through tsx), on the embedded defaults unless configured.
import { createRequire } from 'node:module';
import path from 'node:path';
import heapRelaunch from '../runtime/heap-relaunch.cjs';
import { ensureConsoleBuild } from './ensure-console.mjs';
import { ensureNodeModules, root } from './ensure-dependencies.mjs';
import { ensureTemporalCli } from './temporal-cli.mjs';

process.chdir(root);

// The worker's Node heap (WORKER_HEAP_MB, README "Configuration") is a V8 start-up flag. Start Node again
// with it now, while this process has loaded nothing, rather than in runtime/main.ts after the whole
// start-up: the same module (runtime/heap-relaunch.cjs) and marker, so neither starts it a third time.
const decision = heapRelaunch.heapLimitDecision(
  heapRelaunch.heapMbFromEnvironment(process.env),
  process.execArgv,
  process.env,
);
if (decision.action === 'relaunch') {
  process.exit(await heapRelaunch.relaunch(decision.execArgv));
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
