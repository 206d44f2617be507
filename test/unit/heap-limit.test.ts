import {
  DEFAULT_WORKER_HEAP_MB,
  HEAP_RELAUNCH_MARKER,
  appliedHeapLimitMb,
  followLauncher,
  heapLimitDecision,
  heapMbFromEnvironment,
  heapSizeLimitMb,
  relaunch,
} from '../../runtime/heap-limit';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, DEFAULT_WORKER_LIMITS, loadConfig } from '../../runtime/config';

describe('the worker heap limit (WORKER_HEAP_MB)', () => {
  it('is 256 MiB unless configured; 0 means no limit; other values are refused', () => {
    expect(loadConfig({}).worker.heapMb).toBe(256);
    expect(loadConfig({ WORKER_HEAP_MB: '192' }).worker.heapMb).toBe(192);
    expect(loadConfig({ WORKER_HEAP_MB: '0' }).worker.heapMb).toBe(0);
    for (const value of ['32', '70000', 'lots', '128.5']) {
      expect(() => loadConfig({ WORKER_HEAP_MB: value })).toThrow(ConfigError);
    }
    expect(() => loadConfig({ WORKER_HEAP_MB: '32' })).toThrow(/WORKER_HEAP_MB: must be 0 \(no limit\)/);
    // `npm start` applies the bound before it loads any TypeScript, through the same module and default.
    expect(DEFAULT_WORKER_LIMITS.heapMb).toBe(DEFAULT_WORKER_HEAP_MB);
    const start = readFileSync(path.resolve(__dirname, '../../scripts/start.mjs'), 'utf8');
    expect(start).toContain("from '../runtime/heap-relaunch.cjs'");
  });

  it('reads the --max-old-space-size that applies: the command line after NODE_OPTIONS, the last one wins', () => {
    expect(appliedHeapLimitMb([], undefined)).toBeUndefined();
    expect(appliedHeapLimitMb(['--import', 'tsx'], '--enable-source-maps')).toBeUndefined();
    expect(appliedHeapLimitMb([], '--max-old-space-size=192')).toBe(192);
    expect(appliedHeapLimitMb(['--max_old_space_size=128'], '--max-old-space-size=192')).toBe(128);
    // Node refuses a separate value (`--max-old-space-size 300`): only the `=` form counts.
    expect(appliedHeapLimitMb(['--max-old-space-size=100', '--max-old-space-size=200'], '')).toBe(200);
    expect(appliedHeapLimitMb(['--max-old-space-size=many'], undefined)).toBeUndefined();
  });

  it('reads WORKER_HEAP_MB before the configuration (npm start): a whole number, the default, or 0 to run in place', () => {
    expect(heapMbFromEnvironment({})).toBe(DEFAULT_WORKER_HEAP_MB);
    expect(heapMbFromEnvironment({ WORKER_HEAP_MB: '  ' })).toBe(DEFAULT_WORKER_HEAP_MB);
    expect(heapMbFromEnvironment({ WORKER_HEAP_MB: ' 192 ' })).toBe(192);
    // 0 is no bound; the configuration refuses the others once it is read, nothing is restarted for them.
    for (const value of ['0', 'lots', '128.5', '-1', '0192']) {
      expect(heapMbFromEnvironment({ WORKER_HEAP_MB: value })).toBe(0);
    }
  });

  it('runs in place when the flag is applied or unwanted, and otherwise starts Node again once, with the flag', () => {
    expect(heapLimitDecision(0, [], {})).toEqual({ action: 'run', reason: 'no limit' });
    expect(heapLimitDecision(256, [], { NODE_OPTIONS: '--max-old-space-size=256' })).toEqual({
      action: 'run',
      reason: 'applied',
    });
    expect(heapLimitDecision(256, ['--import', 'tsx'], {})).toEqual({
      action: 'relaunch',
      execArgv: ['--import', 'tsx', '--max-old-space-size=256'],
    });
    // A different value than asked for is replaced: the later flag wins.
    expect(heapLimitDecision(192, ['--max-old-space-size=4096'], {})).toEqual({
      action: 'relaunch',
      execArgv: ['--max-old-space-size=4096', '--max-old-space-size=192'],
    });
    expect(heapLimitDecision(192, [], { [HEAP_RELAUNCH_MARKER]: '1' })).toEqual({
      action: 'run',
      reason: 'relaunched',
    });
  });

  it('starts the script again with the flag, and mirrors its exit code or its signal', async () => {
    const report = [
      '-e',
      `const v8 = require('node:v8');
       process.exitCode = process.env.${HEAP_RELAUNCH_MARKER} === '1' &&
         Math.round(v8.getHeapStatistics().heap_size_limit / 1048576) < 300 ? 7 : 2;`,
    ];
    expect(await relaunch(['--max-old-space-size=160'], report)).toBe(7);
    expect(await relaunch([], ['-e', 'process.kill(process.pid, "SIGTERM")'])).toBe(143);
  });

  it('reports the heap limit V8 applied, and follows no launcher in a process that was not relaunched', () => {
    expect(heapSizeLimitMb()).toBeGreaterThan(0);
    expect(() => {
      followLauncher({});
    }).not.toThrow();
  });
});
