import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Builds the workflow bundle's code (webpack through `bundleWorkflowCode`); injected so tests can count calls. */
export type WorkflowBundler = (workflowsPath: string) => Promise<string>;

export interface WorkflowBundleSources {
  /** The entry passed to the bundler (workflows/index.ts). */
  readonly workflowsPath: string;
  /**
   * Every folder whose files can reach the bundle: workflows/ and policy/. Type-only imports
   * (activities/, db/schema) are erased by the bundler and do not count.
   */
  readonly sourceDirectories: readonly string[];
  /** Packages whose version changes the bundle (the Temporal workflow runtime and its bundler). */
  readonly packageVersions: Readonly<Record<string, string>>;
}

export interface CachedWorkflowBundle {
  readonly codePath: string;
  /** True when this call ran the bundler; false when a bundle of the same sources was on disk. */
  readonly built: boolean;
  readonly key: string;
}

const BUNDLE_PREFIX = 'workflow-bundle-';

function sourceFiles(directory: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(full));
    else if (entry.isFile()) files.push(full);
  }
  return files;
}

/** SHA-256 of the sources' relative paths and contents and of the package versions, in a fixed order. */
export function workflowBundleKey(sources: WorkflowBundleSources): string {
  const hash = createHash('sha256');
  for (const [name, version] of Object.entries(sources.packageVersions).sort(([a], [b]) =>
    a.localeCompare(b),
  )) {
    hash.update(`package\0${name}\0${version}\0`);
  }
  const root = path.dirname(sources.workflowsPath);
  for (const directory of sources.sourceDirectories) {
    for (const file of sourceFiles(directory).sort()) {
      hash.update(`file\0${path.relative(root, file)}\0`);
      hash.update(readFileSync(file));
      hash.update('\0');
    }
  }
  return hash.digest('hex');
}

/**
 * The workflow bundle for these sources, from `cacheDirectory` when an earlier start built it from the
 * same sources, otherwise bundled now and stored there (older bundles removed). Starts that change
 * nothing skip webpack (about a second of CPU and its memory in the worker process).
 */
export async function cachedWorkflowBundle(
  sources: WorkflowBundleSources,
  cacheDirectory: string,
  bundle: WorkflowBundler,
): Promise<CachedWorkflowBundle> {
  const key = workflowBundleKey(sources);
  const name = `${BUNDLE_PREFIX}${key.slice(0, 32)}.js`;
  const codePath = path.join(cacheDirectory, name);
  if (existsSync(codePath)) return { codePath, built: false, key };

  const code = await bundle(sources.workflowsPath);
  mkdirSync(cacheDirectory, { recursive: true });
  // Written beside and renamed, so a concurrent start never loads half a bundle.
  const partial = `${codePath}.${String(process.pid)}.partial`;
  writeFileSync(partial, code);
  renameSync(partial, codePath);
  for (const entry of readdirSync(cacheDirectory)) {
    if (entry.startsWith(BUNDLE_PREFIX) && entry !== name && entry.endsWith('.js')) {
      rmSync(path.join(cacheDirectory, entry), { force: true });
    }
  }
  return { codePath, built: true, key };
}
