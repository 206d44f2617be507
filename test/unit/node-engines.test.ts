import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * EUCORA runs on Node 20 (package.json's `engines`): a production dependency whose own `engines` excludes it
 * (as @azure/identity 4.13.2+ does with `node >= 22`) may break there at any minor release, so none may.
 */
const ROOT = path.resolve(__dirname, '../..');

interface LockedPackage {
  readonly version?: string;
  readonly dev?: boolean;
  readonly engines?: { readonly node?: string } | readonly string[];
}

// semver comes with npm's own tooling (babel, jest); its few functions needed here are typed by hand.
const semver = createRequire(__filename)('semver') as {
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
};

function read(file: string): unknown {
  return JSON.parse(readFileSync(path.join(ROOT, file), 'utf8'));
}

describe('Node 20 support', () => {
  it('no production dependency in the lock file requires a newer Node than package.json promises', () => {
    const { engines } = read('package.json') as { engines: { node: string } };
    const oldest = semver.minVersion(engines.node)?.version;
    expect(oldest).toMatch(/^20\./);
    const lock = read('package-lock.json') as { packages: Record<string, LockedPackage> };
    const refusing = Object.entries(lock.packages)
      .filter(([name, entry]) => name !== '' && entry.dev !== true)
      .flatMap(([name, entry]) => {
        const range = Array.isArray(entry.engines)
          ? undefined
          : (entry.engines as { node?: string } | undefined)?.node;
        return range !== undefined && !semver.satisfies(oldest ?? '', range)
          ? [`${name.replace(/^.*node_modules\//, '')}@${entry.version ?? '?'} needs node ${range}`]
          : [];
      });
    expect(refusing).toEqual([]);
  });
});
