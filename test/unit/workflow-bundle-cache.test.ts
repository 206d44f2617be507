import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cachedWorkflowBundle, workflowBundleKey } from '../../runtime/workflow-bundle-cache';
import type { WorkflowBundleSources } from '../../runtime/workflow-bundle-cache';
import { deploymentWorkflowSources } from '../../runtime/deployment-worker';

describe('cachedWorkflowBundle', () => {
  let root: string;
  let sources: WorkflowBundleSources;
  let cache: string;
  let bundlerCalls: number;
  const bundler = (workflowsPath: string) => {
    bundlerCalls++;
    return Promise.resolve(`// bundle ${String(bundlerCalls)} of ${readFileSync(workflowsPath, 'utf8')}`);
  };

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'eucora-bundle-'));
    mkdirSync(path.join(root, 'workflows'));
    mkdirSync(path.join(root, 'policy', 'nested'), { recursive: true });
    writeFileSync(path.join(root, 'workflows', 'index.ts'), 'export const a = 1;\n');
    writeFileSync(path.join(root, 'policy', 'nested', 'gate.ts'), 'export const gate = 1;\n');
    sources = {
      workflowsPath: path.join(root, 'workflows', 'index.ts'),
      sourceDirectories: [path.join(root, 'workflows'), path.join(root, 'policy')],
      packageVersions: { '@temporalio/workflow': '1.24.0' },
    };
    cache = path.join(root, 'data', 'workflow-bundle');
    bundlerCalls = 0;
  });

  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('bundles on the first start and reuses the stored bundle when no source changed', async () => {
    const first = await cachedWorkflowBundle(sources, cache, bundler);
    const second = await cachedWorkflowBundle(sources, cache, bundler);

    expect(first.built).toBe(true);
    expect(second).toEqual({ codePath: first.codePath, built: false, key: first.key });
    expect(bundlerCalls).toBe(1);
    expect(readFileSync(second.codePath, 'utf8')).toBe('// bundle 1 of export const a = 1;\n');
  });

  it('bundles again when a policy file the workflows import changes, and removes the stale bundle', async () => {
    const first = await cachedWorkflowBundle(sources, cache, bundler);
    writeFileSync(path.join(root, 'policy', 'nested', 'gate.ts'), 'export const gate = 2;\n');
    const second = await cachedWorkflowBundle(sources, cache, bundler);

    expect(second.built).toBe(true);
    expect(second.codePath).not.toBe(first.codePath);
    expect(bundlerCalls).toBe(2);
    expect(readdirSync(cache)).toEqual([path.basename(second.codePath)]);
  });

  it('bundles again when a source file is added or the Temporal version changes', async () => {
    const first = await cachedWorkflowBundle(sources, cache, bundler);
    writeFileSync(path.join(root, 'workflows', 'extra.ts'), 'export {};\n');
    const added = await cachedWorkflowBundle(sources, cache, bundler);
    const upgraded = await cachedWorkflowBundle(
      { ...sources, packageVersions: { '@temporalio/workflow': '1.25.0' } },
      cache,
      bundler,
    );

    expect(new Set([first.key, added.key, upgraded.key]).size).toBe(3);
    expect(bundlerCalls).toBe(3);
  });

  it('gives the project workflows the same key on every start while nothing changes', () => {
    const project = deploymentWorkflowSources();

    expect(workflowBundleKey(project)).toBe(workflowBundleKey(deploymentWorkflowSources()));
    expect(project.sourceDirectories.map((directory) => path.basename(directory))).toEqual([
      'workflows',
      'policy',
    ]);
    expect(project.packageVersions['@temporalio/workflow']).toMatch(/^\d+\.\d+\.\d+/);
  });
});
