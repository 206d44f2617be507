import { getHeapStatistics } from 'node:v8';

/**
 * The worker's Node heap bound (`WORKER_HEAP_MB`) applied as V8's `--max-old-space-size`: the decision
 * and the restart live in heap-relaunch.cjs, plain JavaScript shared with scripts/start.mjs (which applies
 * the bound for `npm start` before it loads any TypeScript).
 */
export {
  DEFAULT_WORKER_HEAP_MB,
  HEAP_RELAUNCH_MARKER,
  appliedHeapLimitMb,
  followLauncher,
  heapLimitDecision,
  heapMbFromEnvironment,
  relaunch,
} from './heap-relaunch.cjs';
export type { HeapLimitDecision } from './heap-relaunch.cjs';

/** V8's heap limit of this process, in MiB (old space plus the young generation). */
export function heapSizeLimitMb(): number {
  return Math.round(getHeapStatistics().heap_size_limit / 1_048_576);
}
