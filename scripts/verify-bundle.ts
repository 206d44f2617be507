/**
 * `npm run verify-bundle -- <bundle.json | bundle.zip>`: recomputes every hash of an evidence bundle offline
 * (policy/evidence-bundle.ts; docs/audit.md) and prints each check. Exit code 0 when all hold, 1 when one
 * does not, 2 when the file cannot be read as a bundle.
 */
import { readFileSync } from 'node:fs';
import { strFromU8, unzipSync } from 'fflate';
import { historyDigest, verifyBundle } from '../policy/evidence-bundle';
import type { BundleCheck } from '../policy/evidence-bundle';

export function verifyBundleFile(file: string): { ok: boolean; checks: BundleCheck[] } {
  const bytes = readFileSync(file);
  let bundleText: string;
  let rawHistory: string | undefined;
  if (bytes.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))) {
    const files = unzipSync(new Uint8Array(bytes));
    const bundle = files['bundle.json'];
    if (bundle === undefined) throw new Error(`${file}: a zip without bundle.json`);
    bundleText = strFromU8(bundle);
    const history = files['workflow-history.json'];
    rawHistory = history === undefined ? undefined : strFromU8(history);
  } else {
    bundleText = bytes.toString('utf8');
  }
  const bundle = JSON.parse(bundleText) as unknown;
  const result = verifyBundle(bundle);
  const checks = [...result.checks];
  if (rawHistory !== undefined) {
    const stated = (bundle as { workflow_history?: { sha256?: string } }).workflow_history?.sha256;
    const computed = historyDigest(JSON.parse(rawHistory) as Record<string, unknown>);
    checks.push(
      stated === computed
        ? { check: 'workflow-history.json', ok: true }
        : {
            check: 'workflow-history.json',
            ok: false,
            detail: `the raw history hashes to ${computed}, the bundle states ${String(stated)}`,
          },
    );
  }
  return { ok: checks.every((check) => check.ok), checks };
}

function main(): void {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write('usage: npm run verify-bundle -- <bundle.json | bundle.zip>\n');
    process.exit(2);
  }
  let result;
  try {
    result = verifyBundleFile(file);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  const failed = result.checks.filter((check) => !check.ok);
  process.stdout.write(
    `${JSON.stringify({ file, ok: result.ok, checks: result.checks.length, failed }, null, 2)}\n`,
  );
  process.exit(result.ok ? 0 : 1);
}

if (require.main === module) main();
