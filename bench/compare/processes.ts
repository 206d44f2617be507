import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** `pid` and all its descendants (the `temporal` CLI may be a shim that starts the real server). */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = Number(statFields(Number(entry))?.[1]);
    if (!Number.isFinite(parent)) continue;
    parents.set(parent, [...(parents.get(parent) ?? []), Number(entry)]);
  }
  const tree: number[] = [];
  const pending = [pid];
  while (pending.length > 0) {
    const next = pending.pop()!;
    tree.push(next);
    pending.push(...(parents.get(next) ?? []));
  }
  return tree;
}

/** CPU time (user + system) used so far by a process tree, in milliseconds. */
export function cpuMs(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = statFields(pid);
    // After the name: state(0) ppid(1) ... utime(11) stime(12).
    if (fields !== undefined) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1_000) / TICKS_PER_SECOND;
}

/** Resident memory of one process, in MiB. */
export function rssMiB(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
    return match?.[1] === undefined ? null : Number((Number(match[1]) / 1_024).toFixed(1));
  } catch {
    return null;
  }
}

export const REPOSITORY_ROOT = path.resolve(__dirname, '..', '..');

/** A TypeScript entry point run by Node through tsx, as a process of its own (its pid is Node's). */
export interface ChildNode {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** Resolves when the process prints `marker` on stdout; rejects when it exits first. */
  ready(marker: RegExp, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export function spawnTypeScript(
  name: string,
  entry: string,
  environment: NodeJS.ProcessEnv,
  nodeOptions: readonly string[] = [],
  log: (line: string) => void = () => undefined,
): ChildNode {
  return spawnNode(name, entry, environment, [...nodeOptions, '--import', 'tsx'], log);
}

/** A JavaScript entry point (or a TypeScript one, with tsx among `nodeOptions`) as a process of its own. */
export function spawnNode(
  name: string,
  entry: string,
  environment: NodeJS.ProcessEnv,
  nodeOptions: readonly string[] = [],
  log: (line: string) => void = () => undefined,
): ChildNode {
  // BENCH_CPU_PROFILE_DIR: every process the benchmark starts writes a V8 CPU profile there when it exits
  // (NODE_OPTIONS refuses --cpu-prof). For finding where the time goes; the numbers then include the profiler.
  const profileDir = process.env.BENCH_CPU_PROFILE_DIR;
  const profiling = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  const child = spawn(process.execPath, [...profiling, ...nodeOptions, path.join(REPOSITORY_ROOT, entry)], {
    cwd: REPOSITORY_ROOT,
    env: environment,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    output = (output + chunk).slice(-20_000);
  });
  child.stderr.on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) if (line.trim() !== '') log(`${name}: ${line.slice(0, 300)}`);
  });
  return {
    name,
    process: child,
    pid: child.pid ?? -1,
    async ready(marker, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!marker.test(output)) {
        if (child.exitCode !== null) throw new Error(`${name} exited with ${String(child.exitCode)}`);
        if (Date.now() > deadline) throw new Error(`${name} was not ready after ${String(timeoutMs)} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * The bare worker as JavaScript, for `--built` (EUCORA's worker then runs `npm run build`'s
 * dist/worker.js): its two modules transpiled by TypeScript, written next to the build as
 * dist/bench/compare/, so that they resolve @temporalio/* from the repository's node_modules.
 */
export function transpileBareWorker(): string {
  const directory = path.join(REPOSITORY_ROOT, 'dist', 'bench', 'compare');
  mkdirSync(directory, { recursive: true });
  for (const module of ['bare-worker', 'bare-activities']) {
    const source = readFileSync(path.join(__dirname, `${module}.ts`), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
    });
    writeFileSync(path.join(directory, `${module}.js`), outputText);
  }
  return path.relative(REPOSITORY_ROOT, path.join(directory, 'bare-worker.js'));
}
