import { DefaultLogger, Runtime } from '@temporalio/worker';

// The Temporal core logs worker state changes at INFO; tests only want warnings. The runtime is
// per process and jest reuses processes across files, so a second install is expected to fail.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // already installed by an earlier test file in this jest worker
}
