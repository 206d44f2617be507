// Types of heap-relaunch.cjs (plain CommonJS, shared by scripts/start.mjs and runtime/heap-limit.ts).

/** Set in the restarted process, so that it never restarts itself again. */
export declare const HEAP_RELAUNCH_MARKER: 'EUCORA_HEAP_RELAUNCHED';

/** `WORKER_HEAP_MB` when it is unset. */
export declare const DEFAULT_WORKER_HEAP_MB: 256;

/** The `--max-old-space-size` that applies: the last one of `NODE_OPTIONS`, then of the command line. */
export declare function appliedHeapLimitMb(
  execArgv: readonly string[],
  nodeOptions: string | undefined,
): number | undefined;

/** `WORKER_HEAP_MB` read before the configuration is: a whole number, the default when unset, else 0. */
export declare function heapMbFromEnvironment(environment: NodeJS.ProcessEnv): number;

export type HeapLimitDecision =
  | { readonly action: 'run'; readonly reason: 'no limit' | 'applied' | 'relaunched' }
  | { readonly action: 'relaunch'; readonly execArgv: readonly string[] };

/** Run here, or start Node again with `--max-old-space-size=<heapMb>`? `heapMb` 0 means no bound. */
export declare function heapLimitDecision(
  heapMb: number,
  execArgv: readonly string[],
  environment: NodeJS.ProcessEnv,
): HeapLimitDecision;

/** Starts this process's script again under `execArgv`; resolves with the exit code to use. */
export declare function relaunch(execArgv: readonly string[], argv?: readonly string[]): Promise<number>;

/** In the restarted process: end at once when the launcher is gone. */
export declare function followLauncher(environment: NodeJS.ProcessEnv): void;
