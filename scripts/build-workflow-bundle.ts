import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

/**
 * Bundles workflows/ ahead of time (`npm run build`), so a production worker loads
 * `workflowBundle: { codePath }` and starts without running webpack.
 */
async function main(): Promise<void> {
  const workflowsPath = path.resolve(__dirname, '../workflows');
  const { code } = await bundleWorkflowCode({ workflowsPath });
  const out = path.resolve(__dirname, '../workflow-bundle.js');
  writeFileSync(out, code);
  process.stdout.write(`workflow bundle written to ${out} (${String(code.length)} bytes)\n`);
}

void main();
