'use strict';
// The worker's Node heap bound (`WORKER_HEAP_MB`) applied as V8's `--max-old-space-size`.
//
// V8 sizes its heap when the process starts, so the flag cannot be set from inside a running process.
// When the process was started without it (`npm start`, `npm run worker`, a bare `node dist/worker.js`),
// the entry starts Node again with the flag and the same arguments, and waits for it. Where the flag is
// already there (docker-compose.yml sets `NODE_OPTIONS` for the worker service), nothing is restarted.
//
// Plain CommonJS, so that both entries use this one copy: scripts/start.mjs before it loads any
// TypeScript (`npm start`), and runtime/heap-limit.ts (`npm run worker`, `node dist/worker.js`). Types
// in heap-relaunch.d.cts; tests in test/unit/heap-limit.test.ts and test/integration/worker-heap-limit.test.ts.
const { spawn } = require('node:child_process');
const { constants } = require('node:os');

/** Set in the restarted process, so that it never restarts itself again. */
const HEAP_RELAUNCH_MARKER = 'EUCORA_HEAP_RELAUNCHED';

/** `WORKER_HEAP_MB` when it is unset; runtime/config.ts validates the variable and uses this default. */
const DEFAULT_WORKER_HEAP_MB = 256;

const FLAG = /^--max[-_]old[-_]space[-_]size=(.*)$/;

/** The `--max-old-space-size` that applies: the last one of `NODE_OPTIONS`, then of the command line. */
function appliedHeapLimitMb(execArgv, nodeOptions) {
  let applied;
  // Node reads NODE_OPTIONS before the command line; for a V8 flag given twice, the last one wins.
  for (const list of [(nodeOptions ?? '').split(/\s+/), execArgv]) {
    for (const argument of list) {
      const value = Number(FLAG.exec(argument)?.[1] ?? Number.NaN);
      if (Number.isFinite(value)) applied = value;
    }
  }
  return applied;
}

/**
 * `WORKER_HEAP_MB` read before the configuration is (scripts/start.mjs): its value when it is a whole
 * number of MiB, the default when unset or blank, 0 (run in place) for anything else; the configuration
 * refuses what it does not accept once it is read.
 */
function heapMbFromEnvironment(environment) {
  const value = environment.WORKER_HEAP_MB?.trim() || String(DEFAULT_WORKER_HEAP_MB);
  return /^[1-9]\d*$/.test(value) ? Number(value) : 0;
}

/**
 * Run here, or start Node again with `--max-old-space-size=<heapMb>`? `heapMb` 0 means no bound (V8's
 * own default). A process that is itself the restart never restarts again.
 */
function heapLimitDecision(heapMb, execArgv, environment) {
  if (heapMb === 0) return { action: 'run', reason: 'no limit' };
  if (appliedHeapLimitMb(execArgv, environment.NODE_OPTIONS) === heapMb) {
    return { action: 'run', reason: 'applied' };
  }
  if (environment[HEAP_RELAUNCH_MARKER] !== undefined) return { action: 'run', reason: 'relaunched' };
  return { action: 'relaunch', execArgv: [...execArgv, `--max-old-space-size=${String(heapMb)}`] };
}

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR2'];

/**
 * Starts this process's script again under `execArgv` (its own process group, so that a terminal's
 * Ctrl-C reaches it once, through this process) and mirrors its end: the exit code, or the signal.
 * Signals sent to this process are passed on; if this process dies without passing anything on
 * (SIGKILL), the restarted one sees its IPC channel close and dies too (`followLauncher`).
 * Resolves with the exit code to use.
 */
function relaunch(execArgv, argv = process.argv.slice(1)) {
  const child = spawn(process.execPath, [...execArgv, ...argv], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: true,
    env: { ...process.env, [HEAP_RELAUNCH_MARKER]: '1' },
  });
  const handlers = FORWARDED_SIGNALS.map((signal) => [
    signal,
    () => {
      child.kill(signal);
    },
  ]);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return new Promise((resolve) => {
    child.once('error', (error) => {
      process.stderr.write(`could not start node with the heap limit: ${error.message}\n`);
      resolve(1);
    });
    child.once('exit', (code, signal) => {
      for (const [name, handler] of handlers) process.off(name, handler);
      resolve(code ?? (signal === null ? 1 : 128 + constants.signals[signal]));
    });
  });
}

/**
 * In the restarted process: end at once, as if killed with it, when the launcher is gone (its IPC
 * channel closed), so that killing the launcher outright never leaves a worker running on its own.
 */
function followLauncher(environment) {
  if (environment[HEAP_RELAUNCH_MARKER] === undefined || process.channel === undefined) return;
  process.channel.unref();
  process.once('disconnect', () => {
    process.kill(process.pid, 'SIGKILL');
  });
}

module.exports = {
  HEAP_RELAUNCH_MARKER,
  DEFAULT_WORKER_HEAP_MB,
  appliedHeapLimitMb,
  heapMbFromEnvironment,
  heapLimitDecision,
  relaunch,
  followLauncher,
};
