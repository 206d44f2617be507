import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiHarness } from '../helpers/api';

const ROOT = path.resolve(__dirname, '../..');
const TYPES = path.join(ROOT, 'web/src/api/openapi.gen.ts');

/** openapi-typescript's output for an OpenAPI document (its CLI, as `npm run` would run it). */
function typesOf(document: unknown): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eucora-openapi-'));
  const input = path.join(dir, 'openapi.json');
  const output = path.join(dir, 'openapi.gen.ts');
  writeFileSync(input, JSON.stringify(document));
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'node_modules/openapi-typescript/bin/cli.js'), input, '-o', output],
    { stdio: 'pipe' },
  );
  return readFileSync(output, 'utf8');
}

describe('the console’s API types', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await ApiHarness.start();
  });
  afterAll(() => api.close());

  it('are generated from the OpenAPI document the server serves, and current', async () => {
    const served = await api.anonymous().get('/api/schema').expect(200);
    const generated = typesOf(served.body);
    // UPDATE_CONSOLE_API_TYPES=1 rewrites the committed file after an API change.
    if (process.env.UPDATE_CONSOLE_API_TYPES === '1') writeFileSync(TYPES, generated);
    expect(readFileSync(TYPES, 'utf8')).toBe(generated);
  }, 60_000);
});
