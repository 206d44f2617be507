import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { createLogger } from '../../runtime/logger';
import { findTemporalCli } from '../../runtime/temporal-cli';
import { devServerArgs, startDevServer, stopProcess } from '../../runtime/temporal-dev-server';
import { ensureSearchAttributes, temporalHealthy } from '../../runtime/temporal';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { freePort } from '../helpers/free-port';

const logger = createLogger({ level: 'silent' });
const cliPath = process.env.EUCORA_TEST_TEMPORAL_CLI ?? 'temporal';

function fakeExecutable(dir: string, name: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, '#!/bin/sh\nexit 0\n');
  chmodSync(file, 0o755);
  return file;
}

describe('finding the Temporal CLI', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eucora-cli-'));
  const empty = mkdtempSync(path.join(os.tmpdir(), 'eucora-empty-'));

  it('takes TEMPORAL_CLI_PATH first and refuses one that is not executable', () => {
    const configured = fakeExecutable(dir, 'my-temporal');
    expect(findTemporalCli({ configuredPath: configured, searchPath: undefined })).toBe(configured);
    expect(() =>
      findTemporalCli({ configuredPath: path.join(dir, 'missing'), searchPath: undefined }),
    ).toThrow(/^TEMPORAL_CLI_PATH: /);
  });

  it('then looks for `temporal` on PATH', () => {
    const onPath = fakeExecutable(dir, 'temporal');
    expect(
      findTemporalCli({
        configuredPath: undefined,
        searchPath: `${empty}${path.delimiter}${dir}`,
        downloadDir: empty,
      }),
    ).toBe(onPath);
  });

  it("then takes the SDK's cached download, and gives up when there is none", () => {
    const downloads = mkdtempSync(path.join(os.tmpdir(), 'eucora-downloads-'));
    expect(
      findTemporalCli({ configuredPath: undefined, searchPath: empty, downloadDir: downloads }),
    ).toBeUndefined();
    const cached = fakeExecutable(downloads, 'temporal-cli-1.1.0');
    expect(findTemporalCli({ configuredPath: undefined, searchPath: empty, downloadDir: downloads })).toBe(
      cached,
    );
    expect(
      findTemporalCli({ configuredPath: undefined, searchPath: '', downloadDir: path.join(empty, 'nope') }),
    ).toBeUndefined();
  });
});

describe('the Temporal dev server', () => {
  it('is started headless for tests and with its Web UI and a database file for the one-command start', () => {
    const common = {
      cliPath,
      port: 7999,
      namespace: 'default',
      searchAttributes: CUSTOM_SEARCH_ATTRIBUTES,
      logger,
    };
    const headless = devServerArgs({ ...common, uiPort: undefined, dbFile: undefined, fastSqlite: true });
    expect(headless).toEqual(
      expect.arrayContaining(['--headless', 'journal_mode=wal', 'IntentStatus=Keyword', 'RiskScore=Int']),
    );
    const full = devServerArgs({ ...common, uiPort: 8999, dbFile: '/tmp/t.sqlite' });
    expect(full).toEqual(expect.arrayContaining(['--ui-port', '8999', '--db-filename', '/tmp/t.sqlite']));
    expect(full).not.toContain('--headless');
  });

  it('registers the missing search attributes on a server that lacks them, once', async () => {
    const server = await startDevServer({
      cliPath,
      port: await freePort(),
      uiPort: undefined,
      dbFile: undefined,
      namespace: 'default',
      searchAttributes: [],
      fastSqlite: true,
      logger,
    });
    const connection = await Connection.connect({ address: server.address });
    try {
      expect(await temporalHealthy(connection)).toBe(true);
      const added = await ensureSearchAttributes(connection, 'default', CUSTOM_SEARCH_ATTRIBUTES, logger);
      expect(added.sort()).toEqual(['AppName', 'DeployRing', 'IntentStatus', 'RiskScore']);
      expect(await ensureSearchAttributes(connection, 'default', CUSTOM_SEARCH_ATTRIBUTES, logger)).toEqual(
        [],
      );
    } finally {
      await connection.close();
      await server.stop();
    }
    expect(() => process.kill(server.pid, 0)).toThrow();
  });

  it('reports a server that exits before it is ready, with its output', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'eucora-bad-cli-'));
    const failing = path.join(dir, 'temporal');
    writeFileSync(failing, '#!/bin/sh\necho "cannot bind" >&2\nexit 3\n');
    chmodSync(failing, 0o755);
    await expect(
      startDevServer({
        cliPath: failing,
        port: await freePort(),
        uiPort: undefined,
        dbFile: path.join(dir, 'data', 'x.sqlite'),
        namespace: 'default',
        searchAttributes: [],
        logger,
      }),
    ).rejects.toThrow(/exited \(code 3\) before it was ready:\ncannot bind/);
  });

  it('kills a process that ignores SIGTERM once the grace period is over', async () => {
    const stubborn = spawn('sh', ['-c', 'trap "" TERM; sleep 30'], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await stopProcess(stubborn, 300);
    expect(stubborn.signalCode).toBe('SIGKILL');
    await stopProcess(stubborn);
  });
});
