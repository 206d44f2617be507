import { ConfigError, loadConfig } from './config';
import { createLogger } from './logger';
import { followLauncher, heapLimitDecision, relaunch } from './heap-limit';
import type * as SystemModule from './system';
import type { ProcessRole } from './system';

const DEV_LOGIN_BANNER = [
  '',
  '  ##########################################################################',
  '  ##  DEV LOGIN IS ON: anyone who reaches this port signs in as any user',
  '  ##  with any role, without a password (POST /api/v1/auth/dev-login).',
  '  ##  Allowed on a loopback HOST only; never for shared or production use.',
  '  ##  Turn it off with DEV_LOGIN=false.',
  '  ##########################################################################',
  '',
  '',
].join('\n');

/**
 * Process entry: reads the environment once, starts what `role` runs, prints where to find it, and on
 * SIGINT or SIGTERM stops everything (the Temporal dev server included) before exiting.
 */
export async function main(role: ProcessRole, environment: NodeJS.ProcessEnv): Promise<void> {
  let config;
  try {
    config = loadConfig(environment);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  if (role !== 'api') {
    // The worker's heap bound is a V8 start-up flag: start Node again with it when it is missing.
    const decision = heapLimitDecision(config.worker.heapMb, process.execArgv, environment);
    if (decision.action === 'relaunch') {
      process.exitCode = await relaunch(decision.execArgv);
      return;
    }
    followLauncher(environment);
  }
  const logger = createLogger({ level: config.logLevel });
  if (config.session.generatedSecret && config.keyVault === undefined && role !== 'worker') {
    logger.warn('SESSION_SECRET is unset: using a random secret, sessions end when the process restarts');
  }
  if (config.devLogin && role !== 'worker') {
    logger.warn({ host: config.http.host }, 'the passwordless dev login is on (DEV_LOGIN=true)');
    process.stderr.write(DEV_LOGIN_BANNER);
  }

  // Listen before starting anything: a signal during start-up must still stop what has started.
  let stopRequested: string | undefined;
  let onStop = (reason: string) => {
    stopRequested = reason;
  };
  process.on('SIGINT', () => {
    onStop('SIGINT');
  });
  process.on('SIGTERM', () => {
    onStop('SIGTERM');
  });

  let system;
  try {
    // Required only now: a process that starts Node again with the heap flag loads none of it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startSystem } = require('./system') as Pick<typeof SystemModule, 'startSystem'>;
    system = await startSystem(config, logger, role);
  } catch (error) {
    logger.fatal({ err: error }, 'start-up failed');
    process.exitCode = 1;
    return;
  }

  const lines = [
    '',
    `EUCORA control plane is running (${role})`,
    ...(system.consoleUrl === undefined ? [] : [`  Console      ${system.consoleUrl}`]),
    ...(system.apiUrl === undefined
      ? []
      : [`  API          ${system.apiUrl}`, `  API docs     ${system.docsUrl ?? ''}`]),
    ...(system.temporalUiUrl === undefined ? [] : [`  Temporal UI  ${system.temporalUiUrl}`]),
    '  Stop with Ctrl-C',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');

  let stopping = false;
  const shutdown = (reason: string) => {
    if (stopping) {
      logger.warn('second stop request: exiting at once');
      process.exit(1);
    }
    stopping = true;
    logger.info({ reason }, 'shutting down');
    void system.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  onStop = shutdown;
  if (stopRequested !== undefined) shutdown(stopRequested);
  void system.workerStopped.then(() => {
    if (!stopping) shutdown('worker stopped');
  });
}
