import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { freePort } from '../helpers/free-port';

const ROOT = path.resolve(__dirname, '../..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT = path.join(ROOT, 'test-output', 'console');
const LOADS = 5;

interface PageTiming {
  /** Navigation start to the app's `console-interactive` mark (its first render that takes input). */
  readonly first_page_interactive_ms: number;
  readonly dom_content_loaded_ms: number;
  readonly load_event_ms: number;
}

/** The timings of the page as it is, from the Performance API of the browser. */
async function pageTiming(page: Page): Promise<PageTiming> {
  return page.evaluate<PageTiming>(`(() => {
    const navigation = performance.getEntriesByType('navigation')[0];
    const mark = performance.getEntriesByName('console-interactive')[0];
    return {
      first_page_interactive_ms: Math.round(mark ? mark.startTime : -1),
      dom_content_loaded_ms: Math.round(navigation ? navigation.domContentLoadedEventEnd : -1),
      load_event_ms: Math.round(navigation ? navigation.loadEventEnd : -1),
    };
  })()`);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? -1;
}

/**
 * "First page interactive in under one second on the one-command start": `npm start`'s own process
 * (scripts/start.mjs: the console build check, an embedded Temporal dev server, PGlite, the in-process
 * session store, the dev login) on free ports, measured in Debian's Chromium. The numbers are written to
 * test-output/console/start-timings.json and not asserted: a loaded CI machine must not fail the suite.
 */
describe('the console on the one-command start (npm start)', () => {
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let output = '';
  let base: string;
  let browser: Browser;
  let healthyAfterMs: number;

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    const port = await freePort();
    base = `http://127.0.0.1:${String(port)}`;
    const startedAt = Date.now();
    child = spawn(process.execPath, ['scripts/start.mjs'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TEMPORAL_CLI_PATH: process.env.EUCORA_TEST_TEMPORAL_CLI,
        DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'eucora-console-start-')),
        PORT: String(port),
        TEMPORAL_DEV_PORT: String(await freePort()),
        TEMPORAL_UI_PORT: String(await freePort()),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exited = new Promise((resolve) => {
      child.once('exit', resolve);
    });
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const deadline = Date.now() + 150_000;
    for (;;) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`npm start did not start:\n${output}`);
      const health = await fetch(`${base}/api/v1/health`).catch(() => undefined);
      if (health?.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    healthyAfterMs = Date.now() - startedAt;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 180_000);

  afterAll(async () => {
    await browser.close();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('measures the first page interactive in Chromium: a fresh browser each load, then a signed-in person', async () => {
    const cold: PageTiming[] = [];
    for (let load = 0; load < LOADS; load++) {
      // A new context: no cache, no cookies, as a person opening the console for the first time.
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      await page.goto(base);
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      await page.waitForFunction("performance.getEntriesByName('console-interactive').length > 0");
      cold.push(await pageTiming(page));
      if (load === 0) {
        expect(await page.getByText('Development only').isVisible()).toBe(true);
        await page.screenshot({ path: path.join(OUTPUT, 'start-sign-in.png'), fullPage: true });
      }
      await context.close();
    }

    // Signed in through the dev login, the console opened again: the person's first page (the rollouts).
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(base);
    await page.getByLabel('User name').fill('packager@example.com');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.goto(base);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.waitForFunction("performance.getEntriesByName('console-interactive').length > 0");
    const signedIn = await pageTiming(page);
    await context.close();

    const interactive = cold.map((timing) => timing.first_page_interactive_ms);
    const report = {
      measured_at: new Date().toISOString(),
      command: 'node scripts/start.mjs (npm start) on the embedded defaults',
      load_average: os.loadavg().map((value) => Math.round(value * 100) / 100),
      healthy_after_ms: healthyAfterMs,
      sign_in_page_fresh_browser: cold,
      first_page_interactive_ms: {
        median: median(interactive),
        min: Math.min(...interactive),
        max: Math.max(...interactive),
      },
      signed_in_first_page: signedIn,
    };
    writeFileSync(path.join(OUTPUT, 'start-timings.json'), JSON.stringify(report, null, 2));
    process.stdout.write(`console on npm start: ${JSON.stringify(report)}\n`);
    // Every load reached its mark (a measurement, not a bound).
    for (const timing of [...cold, signedIn]) expect(timing.first_page_interactive_ms).toBeGreaterThan(0);
  }, 120_000);
});
