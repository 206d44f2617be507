import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { securityHeaders } from '../../api/middleware/security-headers';
import { listen } from '../../runtime/http-listener';
import type { Listener } from '../../runtime/http-listener';
import { ApiHarness } from '../helpers/api';
import { freePort } from '../helpers/free-port';

/** Debian's chromium: no browser download here. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function directives(csp: string | undefined): Map<string, string> {
  return new Map(
    (csp ?? '')
      .split(';')
      .map((part) => part.trim())
      .filter((part) => part !== '')
      .map((part) => {
        const [name = '', ...values] = part.split(/\s+/);
        return [name, values.join(' ')];
      }),
  );
}

describe('security headers', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await ApiHarness.start();
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  it('sends helmet’s headers and a same-origin CSP on the API and the docs, and no HSTS over plain http', async () => {
    for (const url of ['/api/v1/health', '/api/schema', '/api/schema/swagger-ui/']) {
      const res = await api.anonymous().get(url).expect(200);
      const csp = directives(res.headers['content-security-policy']);
      expect({ url, script: csp.get('script-src') }).toEqual({ url, script: "'self'" });
      expect(csp.get('default-src')).toBe("'self'");
      expect(csp.get('style-src')).toBe("'self'");
      expect(csp.get('connect-src')).toBe("'self'");
      expect(csp.get('object-src')).toBe("'none'");
      expect(csp.get('frame-ancestors')).toBe("'none'");
      expect(csp.has('upgrade-insecure-requests')).toBe(false);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(res.headers['strict-transport-security']).toBeUndefined();
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
  });

  it('adds HSTS and upgrade-insecure-requests in production', async () => {
    const production = await ApiHarness.start({ overrides: { production: true } });
    try {
      const res = await production.anonymous().get('/api/v1/health').expect(200);
      expect(res.headers['strict-transport-security']).toMatch(/^max-age=\d{8,}; includeSubDomains$/);
      expect(directives(res.headers['content-security-policy']).has('upgrade-insecure-requests')).toBe(true);
      production.contractViolations();
    } finally {
      await production.close();
    }
  });

  it('marks every response that can carry a secret Cache-Control: no-store', async () => {
    const anonymous = api.anonymous();
    const login = await anonymous
      .post('/api/v1/auth/dev-login')
      .send({ username: 'admin@example.com', roles: ['admin'] })
      .expect(200);
    expect(login.headers['set-cookie']).toBeDefined();
    expect(login.headers['cache-control']).toBe('no-store');
    const issued = await anonymous
      .post('/api/v1/connector-credentials')
      .send({ connector_type: 'intune', name: 'no-store' })
      .expect(201);
    expect((issued.body as { api_key: string }).api_key).toMatch(/^eucora_ck_/);
    expect(issued.headers['cache-control']).toBe('no-store');
    for (const url of [
      '/api/v1/auth/me',
      '/api/v1/connector-credentials',
      '/api/v1/events',
      '/api/v1/nowhere',
    ]) {
      const res = await anonymous.get(url);
      expect({ url, cacheControl: res.headers['cache-control'] }).toEqual({ url, cacheControl: 'no-store' });
    }
    const refused = await api.anonymous().get('/api/v1/auth/me').expect(401);
    expect(refused.headers['cache-control']).toBe('no-store');
  });
});

describe('the Content-Security-Policy in a real browser', () => {
  let api: ApiHarness;
  let listener: Listener;
  let browser: Browser;
  let base: string;

  /** Opens a page and collects every CSP violation and script error it reports. */
  async function open(url: string): Promise<{ page: Page; problems: string[] }> {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      // Failed loads are reported below with their URL.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
        problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${String(response.status())} ${response.url()}`);
    });
    await page.addInitScript({
      content:
        "document.addEventListener('securitypolicyviolation', (event) => " +
        'console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`));',
    });
    await page.goto(url);
    return { page, problems };
  }

  beforeAll(async () => {
    // Swagger UI calls the document's server, PUBLIC_URL: the port the browser will use.
    const port = await freePort();
    base = `http://127.0.0.1:${String(port)}`;
    api = await ApiHarness.start({ publicUrl: base });
    // A single-page console as Vite builds it: a module entry that imports a chunk, a stylesheet, fonts and
    // images by URL, fetches /api with the session cookie. Served with the very middleware createApp uses.
    const root = mkdtempSync(path.join(os.tmpdir(), 'eucora-spa-'));
    mkdirSync(path.join(root, 'assets'));
    writeFileSync(
      path.join(root, 'index.html'),
      '<!doctype html><html><head><meta charset="utf-8"><title>console</title><link rel="icon" href="data:,">' +
        '<script type="module" crossorigin src="/console/assets/index-3f5a.js"></script>' +
        '<link rel="stylesheet" crossorigin href="/console/assets/index-9c1e.css"></head>' +
        '<body><div id="root"></div></body></html>',
    );
    writeFileSync(
      path.join(root, 'assets', 'index-3f5a.js'),
      "const { render } = await import('./chunk-7b2d.js');\n" +
        "const health = await fetch('/api/v1/health', { credentials: 'same-origin' }).then((r) => r.json());\n" +
        'render(health.status);\n',
    );
    writeFileSync(
      path.join(root, 'assets', 'chunk-7b2d.js'),
      'export function render(status) {\n' +
        "  const root = document.getElementById('root');\n" +
        "  const badge = document.createElement('span');\n" +
        "  badge.id = 'status'; badge.textContent = status; badge.style.color = 'green';\n" +
        '  root.append(badge);\n' +
        '}\n',
    );
    writeFileSync(
      path.join(root, 'assets', 'index-9c1e.css'),
      "#root { background: url('data:image/gif;base64,R0lGODlhAQABAAAAACw=') }\n",
    );
    const app = express();
    app.use('/console', securityHeaders({ production: false }), express.static(root));
    app.use(api.app);
    listener = await listen(app, port, '127.0.0.1');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser.close();
    await listener.close();
    await api.close();
  });

  it('lets the bundled Swagger UI load the document and render every operation', async () => {
    const { page, problems } = await open(`${base}/api/schema/swagger-ui/`);
    await page.waitForSelector('.opblock', { timeout: 30_000 });
    expect(await page.locator('.opblock').count()).toBeGreaterThan(20);
    expect(await page.locator('.information-container .title').textContent()).toContain('EUCORA');
    // Open an operation, try it out and run it: the rendered answer comes from a same-origin fetch.
    await page.locator('#operations-Telemetry-getHealth').click();
    await page.locator('#operations-Telemetry-getHealth .try-out__btn').click();
    await page.locator('#operations-Telemetry-getHealth .execute').click();
    await page.waitForSelector('#operations-Telemetry-getHealth .live-responses-table .response-col_status');
    expect(
      await page.locator('#operations-Telemetry-getHealth .live-responses-table').textContent(),
    ).toContain('"status": "ok"');
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it('lets a same-origin single-page console with bundled scripts and styles run and call the API', async () => {
    const { page, problems } = await open(`${base}/console/index.html`);
    await page.waitForSelector('#status', { timeout: 30_000 });
    expect(await page.locator('#status').textContent()).toBe('ok');
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it('blocks what the policy forbids: inline scripts and other origins', async () => {
    const { page, problems } = await open(`${base}/console/index.html`);
    await page.waitForSelector('#status');
    await page.evaluate(
      "const inline = document.createElement('script'); inline.textContent = 'window.injected = true'; document.body.append(inline);",
    );
    expect(await page.evaluate('window.injected')).toBeUndefined();
    expect(problems.some((problem) => problem.includes('CSP violation: script-src'))).toBe(true);
    await page.close();
  }, 60_000);
});
