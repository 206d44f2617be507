import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { listen } from '../../runtime/http-listener';
import type { Listener } from '../../runtime/http-listener';
import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';
import { freePort } from '../helpers/free-port';
import { highRiskEvidence, quorumRiskEvidence } from '../fixtures/evidence';

const ROOT = path.resolve(__dirname, '../..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT = path.join(ROOT, 'test-output', 'console');
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

interface AxeResult {
  violations: { id: string; impact: string | null; help: string; nodes: { target: unknown }[] }[];
}

/**
 * The browser console in Debian's Chromium, against the real API (served with the console's build,
 * as `npm start` serves it), a real worker on the Temporal dev server, and connectors over HTTP.
 * Every page is screenshotted under test-output/console/ and checked by axe-core.
 */
describe('the browser console', () => {
  let api: ApiHarness;
  let listener: Listener;
  let browser: Browser;
  let base: string;
  const problems: string[] = [];
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    // The build `npm start` serves; made here when missing or stale, as `npm start` and `npm test` make it.
    execFileSync(process.execPath, [path.join(ROOT, 'scripts/ensure-console.mjs')], { stdio: 'inherit' });
    mkdirSync(OUTPUT, { recursive: true });
    const port = await freePort();
    base = `http://127.0.0.1:${String(port)}`;
    api = await ApiHarness.start({
      publicUrl: base,
      overrides: {
        consoleRoot: path.join(ROOT, 'dist', 'console'),
        temporalWorkflowUrl: (workflowId) =>
          `http://127.0.0.1:8233/namespaces/default/workflows/${workflowId}`,
      },
    });
    listener = await listen(api.app, port, '127.0.0.1');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    // A Vite build may run first (a few seconds; more on a loaded machine).
  }, 240_000);
  afterAll(async () => {
    writeFileSync(path.join(OUTPUT, 'timings.json'), JSON.stringify(timings, null, 2));
    await browser.close();
    await listener.close();
    await api.close();
  });
  afterEach(() => {
    expect(problems.splice(0)).toEqual([]);
  });

  /** A person's own browser (own cookies), reporting CSP violations, script errors and failed loads. */
  async function person(width = 1280): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
        problems.push(message.text());
    });
    page.on('response', (response) => {
      // 4xx answers the console expects and shows (refusals, a signed-out /auth/me) are not failures.
      if (response.status() >= 500) problems.push(`${String(response.status())} ${response.url()}`);
    });
    await page.addInitScript({
      content:
        "document.addEventListener('securitypolicyviolation', (event) => " +
        'console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`));',
    });
    return { context, page };
  }

  /** axe-core on the page as it is (zero serious or critical violations), and a full-page screenshot. */
  async function check(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: path.join(OUTPUT, `${name}.png`), fullPage: true });
    // Evaluated through the debugging protocol, which the page's CSP does not govern.
    await page.evaluate(AXE);
    const result = await page.evaluate<AxeResult>('axe.run(document, { resultTypes: ["violations"] })');
    const serious = result.violations
      .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
      .map(
        (violation) =>
          `${name}: ${violation.id} (${violation.help}) at ${JSON.stringify(violation.nodes.map((n) => n.target))}`,
      );
    expect(serious).toEqual([]);
  }

  async function signIn(page: Page, username: string, roles: string[], displayName?: string): Promise<void> {
    await page.goto(base);
    await page.getByLabel('User name').fill(username);
    if (displayName !== undefined) await page.getByLabel('Display name (optional)').fill(displayName);
    // The form starts with "submitter" ticked.
    for (const box of await page.getByRole('checkbox').all()) await box.uncheck();
    for (const role of roles) await page.locator(`input[name="roles"][value="${role}"]`).check();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
  }

  async function submitHighRisk(agent: Agent, app: string, evidence = highRiskEvidence()): Promise<string> {
    const res = await agent.post('/api/v1/deployment-intents').send({
      app_name: app,
      version: '1.0',
      target_ring: 'GLOBAL',
      connectors: { windows: 'intune' },
      evidence_pack: evidence,
    });
    expect(res.status).toBe(201);
    return (res.body as { id: string }).id;
  }

  it('opens on a sign-in page that lists the dev login’s roles, interactive in under a second', async () => {
    const { context, page } = await person();
    await page.goto(base);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await page.getByLabel('User name').focus();
    // From the navigation's start to the console's first render that takes input (the app marks it):
    // measured and reported in test-output/console/timings.json, not asserted.
    timings.first_page_interactive_ms = await page.evaluate(() =>
      Math.round(performance.getEntriesByName('console-interactive')[0]?.startTime ?? -1),
    );
    timings.dom_content_loaded_ms = await page.evaluate<number>(
      "Math.round(performance.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd ?? -1)",
    );
    expect(await page.getByText('Development only').isVisible()).toBe(true);
    for (const role of ['Submitter (packager)', 'CAB member', 'Operator', 'Auditor', 'Administrator'])
      expect(await page.getByLabel(role).count()).toBe(1);
    await check(page, 'sign-in');
    await context.close();
  });

  interface WorkItem {
    correlation_id: string;
    intent_id: string;
    ring: string;
    action: string;
    connector_type: string;
  }

  /**
   * An intune connector over HTTP: reports every ring (deploy or rollback) of one intent as done on 10
   * devices until the intent's status matches (at `ring`, when given).
   */
  async function connectorCompletes(intentId: string, until: RegExp, ring?: string): Promise<string> {
    const { agent } = await api.connector('intune');
    const reader = await api.agent('reader@example.com', ['auditor']);
    const deadline = Date.now() + 90_000;
    for (;;) {
      const intent = await reader.get(`/api/v1/deployment-intents/${intentId}`).expect(200);
      const { status, current_ring: at } = intent.body as { status: string; current_ring: string | null };
      if (until.test(status) && (ring === undefined || at === ring)) return status;
      if (Date.now() > deadline) throw new Error(`intent still ${status}`);
      for (const path of ['/api/v1/connectors/pending-deployments', '/api/v1/connectors/pending-rollbacks']) {
        const work = await agent.get(path).expect(200);
        for (const item of work.body as WorkItem[]) {
          if (item.intent_id !== intentId) continue;
          await agent.post('/api/v1/connectors/update-deployment-status').send({
            correlation_id: item.correlation_id,
            ring: item.ring,
            connector_type: item.connector_type,
            action: item.action,
            success_count: 10,
            failure_count: 0,
            final: true,
          });
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  let submitted: string | undefined;
  const signedHighRisk = () =>
    highRiskEvidence({ signature: { status: 'TRUSTED_PUBLISHER', publisher: 'Contoso Ltd' } });
  let approved: string | undefined;

  it('lets a submitter submit a high-risk intent with a live risk dry-run; a double click makes one intent', async () => {
    const { context, page } = await person();
    await signIn(page, 'packager@example.com', ['submitter']);
    await page.getByRole('link', { name: 'Submit' }).click();
    await page.getByRole('heading', { name: 'Submit an intent' }).waitFor();
    const dryRun = page.getByRole('region', { name: 'Risk dry-run' });
    // A pack that lacks parts: the dry-run names them, and the API's 422 names them next to the field.
    const incomplete: Record<string, unknown> = { ...highRiskEvidence() };
    delete incomplete.rollback_plan;
    delete incomplete.sbom;
    await page.getByLabel('Application').fill('Contoso Agent');
    await page.getByLabel('Version').fill('1.0');
    await page.getByLabel('Evidence pack (JSON)').fill(JSON.stringify(incomplete, null, 2));
    await dryRun.getByText(/The pack lacks .*sbom.*rollback plan/).waitFor();
    await page.getByRole('button', { name: 'Submit intent' }).click();
    await page.locator('#evidence_pack-error').waitFor();
    expect(await page.getByLabel('Evidence pack (JSON)').getAttribute('aria-invalid')).toBe('true');
    // The complete pack: the score and its factors follow the form.
    // Signed: the CAB decides, with a score under 80 (where two CAB approvals are asked).
    await page.getByLabel('Evidence pack (JSON)').fill(JSON.stringify(signedHighRisk(), null, 2));
    await dryRun.getByText('The CAB decides this one.').waitFor();
    expect(await dryRun.getByRole('table', { name: 'Risk factors of this form' }).count()).toBe(1);
    const globalScore = await dryRun.locator('.risk').textContent();
    await page.getByLabel('Target ring').selectOption('LAB');
    await dryRun.locator('.risk', { hasNotText: globalScore ?? '' }).waitFor();
    const labScore = await dryRun.locator('.risk').textContent();
    await page.getByLabel('Target ring').selectOption('GLOBAL');
    await dryRun.locator('.risk', { hasNotText: labScore ?? '' }).waitFor();
    expect(await page.locator('#evidence_pack-error').count()).toBe(0);
    await check(page, 'submit');
    await page.getByRole('button', { name: 'Submit intent' }).dblclick();
    await page.getByText('Submitted:').waitFor();
    const reader = await api.agent('reader@example.com', ['auditor']);
    const list = await reader
      .get('/api/v1/deployment-intents')
      .query({ app_name: 'Contoso Agent' })
      .expect(200);
    const items = (list.body as { items: { id: string; submitter_id: string; status: string }[] }).items;
    expect(items.map((item) => [item.submitter_id, item.status])).toEqual([
      ['packager@example.com', 'AWAITING_CAB'],
    ]);
    submitted = items[0]?.id;
    await context.close();
  });

  it('shows a CAB member the queue: their own submission explained, another one approved up to PILOT', async () => {
    const member = await api.agent('cab.chair@example.com', ['cab_member', 'submitter']);
    const submitter = await api.agent('packager@example.com', ['submitter']);
    const theirs = submitted ?? (await submitHighRisk(submitter, 'Contoso Agent'));
    const own = await submitHighRisk(member, 'Chair Own Tool');
    const { context, page } = await person();
    // Display names can hold markup: the console shows it as text.
    await signIn(page, 'cab.chair@example.com', ['cab_member', 'submitter'], '<img src=x>Chair <b>Board</b>');
    expect(await page.getByText('<img src=x>Chair <b>Board</b>').count()).toBe(1);
    expect(await page.locator('header img, header b').count()).toBe(0);
    await page.getByRole('heading', { name: 'CAB queue' }).waitFor();
    const ownCard = page.getByRole('article', { name: 'Chair Own Tool 1.0' });
    await ownCard.waitFor();
    expect(await ownCard.getByText('Separation of duties').isVisible()).toBe(true);
    expect(await ownCard.getByRole('button', { name: 'Record decision' }).count()).toBe(0);
    const card = page.getByRole('article', { name: 'Contoso Agent 1.0' });
    await check(page, 'cab-queue');
    // The same queue in a second tab, left open while the first tab decides.
    const stale = await context.newPage();
    await stale.goto(`${base}/cab`);
    const staleCard = stale.getByRole('article', { name: 'Contoso Agent 1.0' });
    await staleCard.waitFor();
    await card.getByLabel('Approve with conditions').check();
    await card.getByLabel('Stop after ring').selectOption('PILOT');
    await card.getByLabel('Comment').fill('pilot first, then we look again');
    await card.getByRole('button', { name: 'Record decision' }).click();
    await page.getByText('Approved with conditions').waitFor();
    // The stale tab's decision comes too late: the API's 409, in plain words.
    await staleCard.getByRole('button', { name: 'Record decision' }).click();
    await staleCard
      .getByRole('alert')
      .getByText(/conflicts with the current state/)
      .waitFor();
    await stale.close();
    const after = await submitter.get(`/api/v1/deployment-intents/${theirs}`).expect(200);
    if ((after.body as { status: string }).status === 'AWAITING_CAB') {
      // A quorum of two CAB approvals (high scores): a second member approves the same conditions.
      const second = await api.agent('cab.second@example.com', ['cab_member']);
      await second
        .post(`/api/v1/cab/${theirs}/decision`)
        .send({ decision: 'CONDITIONAL', conditions: { max_ring: 'PILOT' } })
        .expect(200);
    }
    const intent = await submitter.get(`/api/v1/deployment-intents/${theirs}`).expect(200);
    expect((intent.body as { cab: { conditions: unknown; approver_id: string } }).cab).toMatchObject({
      approver_id: 'cab.chair@example.com',
      conditions: { max_ring: 'PILOT' },
    });
    expect(own).toBeDefined();
    approved = theirs;
    await context.close();
  });

  it('shows the submitter the rollout reach COMPLETED at PILOT, ring by ring, while a connector reports', async () => {
    const id = approved ?? '';
    const { context, page } = await person();
    await signIn(page, 'packager@example.com', ['submitter']);
    await page.getByRole('link', { name: 'Rollouts' }).click();
    await page.getByLabel('App').fill('Contoso Agent');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('link', { name: 'Contoso Agent 1.0' }).click();
    await page.getByRole('heading', { name: 'Contoso Agent 1.0' }).waitFor();
    expect(await connectorCompletes(id, /^COMPLETED$/)).toBe('COMPLETED');
    // The page refreshes itself: no reload.
    await page.locator('.status-line').getByText('Completed').waitFor({ timeout: 30_000 });
    await page.getByText('at PILOT').waitFor();
    const rings = page.getByRole('list', { name: 'Ring by ring' });
    expect(await rings.getByText('— done').count()).toBe(3);
    expect(await rings.getByText('— skipped').count()).toBe(2);
    expect(await page.getByText('Gate passed').count()).toBe(3);
    expect(await page.getByRole('link', { name: /in the Temporal UI/ }).getAttribute('href')).toContain(
      '/workflows/',
    );
    await check(page, 'rollout-timeline');
    await page.getByRole('link', { name: 'Rollouts' }).click();
    await page.getByRole('table').waitFor();
    await check(page, 'rollouts');
    // Filters: status, ring, submitter (app is used above); each in the address bar.
    await page.getByLabel('App').fill('');
    await page.getByLabel('Status').selectOption('COMPLETED');
    await page.getByLabel('Current ring').selectOption('PILOT');
    await page.getByLabel('Submitter').fill('packager@example.com');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/status=COMPLETED.*ring=PILOT.*submitter=packager/);
    await page.getByRole('link', { name: 'Contoso Agent 1.0' }).waitFor();
    expect(await page.getByRole('link', { name: 'Chair Own Tool 1.0' }).count()).toBe(0);
    await page.getByLabel('Status').selectOption('AWAITING_CAB');
    await page.getByLabel('Current ring').selectOption('');
    await page.getByLabel('Submitter').fill('cab.chair@example.com');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('link', { name: 'Chair Own Tool 1.0' }).waitFor();
    expect(await page.getByRole('link', { name: 'Contoso Agent 1.0' }).count()).toBe(0);
    await context.close();
  }, 180_000);

  /** Waits until the intent's status matches (the workflow moves on its own). */
  async function statusOf(intentId: string, until: RegExp): Promise<string> {
    const reader = await api.agent('reader@example.com', ['auditor']);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const intent = await reader.get(`/api/v1/deployment-intents/${intentId}`).expect(200);
      const { status } = intent.body as { status: string };
      if (until.test(status)) return status;
      if (Date.now() > deadline) throw new Error(`intent still ${status}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  it('shows an operator a live soak countdown, then lets them abort after two rings and see each ring roll back', async () => {
    const submitter = await api.agent('packager@example.com', ['submitter']);
    const id = await submitHighRisk(submitter, 'Fabrikam Viewer', signedHighRisk());
    await statusOf(id, /^AWAITING_CAB$/);
    // Every ring soaks 25 s more than the test policy's none: long enough to watch the timer move.
    const member = await api.agent('cab.second@example.com', ['cab_member']);
    await member
      .post(`/api/v1/cab/${id}/decision`)
      .send({ decision: 'CONDITIONAL', conditions: { extra_soak: '25s' } })
      .expect(200);
    const { context, page } = await person(720);
    await signIn(page, 'ops@example.com', ['operator']);
    await page.goto(`${base}/rollouts/${id}`);
    await page.getByRole('heading', { name: 'Fabrikam Viewer 1.0' }).waitFor();
    await page.evaluate('window.openedOnce = true');
    expect(await connectorCompletes(id, /^SOAKING$/, 'LAB')).toBe('SOAKING');
    // The soak timer appears by itself and counts down, to the second, with no reload.
    const timer = page.getByRole('timer', { name: 'Soak timer' });
    await timer.getByText(/^Soaking at LAB: \d+ s left \(until \d{4}-\d\d-\d\d [\d:]+ UTC\)$/).waitFor();
    const secondsLeft = async () => Number(/(\d+) s left/.exec((await timer.textContent()) ?? '')?.[1]);
    const first = await secondsLeft();
    await page.waitForTimeout(2_500);
    const second = await secondsLeft();
    expect(first).toBeLessThanOrEqual(25);
    expect(second).toBeLessThan(first);
    expect(second).toBeGreaterThanOrEqual(first - 4);
    expect(await page.evaluate('window.openedOnce')).toBe(true);
    await check(page, 'rollout-soaking');
    // LAB's soak ends, CANARY deploys and soaks: two rings ran when the operator aborts.
    expect(await connectorCompletes(id, /^SOAKING$/, 'CANARY')).toBe('SOAKING');
    await timer.getByText(/^Soaking at CANARY:/).waitFor();
    await page.getByRole('button', { name: 'Abort and roll back' }).click();
    await page.getByLabel('Why abort? (recorded in the audit trail)').fill('wrong build went out');
    await check(page, 'rollout-abort-confirmation');
    await page.getByRole('button', { name: 'Yes, abort and roll back' }).click();
    await page.getByText('accepted; it takes effect between steps').waitFor();
    expect(await connectorCompletes(id, /^(ROLLED_BACK|ABORTED|FAILED)$/)).toBe('ROLLED_BACK');
    await page.locator('.status-line').getByText('Rolled back').waitFor({ timeout: 30_000 });
    expect(await page.getByRole('button', { name: 'Abort and roll back' }).count()).toBe(0);
    expect(await page.getByRole('timer').count()).toBe(0);
    // Each ring that ran shows its rollback: the connector's report and the plan's steps for its platforms.
    const rings = page.getByRole('list', { name: 'Ring by ring' });
    expect(await rings.getByText('— rolled back').count()).toBe(2);
    for (const ring of ['LAB', 'CANARY']) {
      const rollback = page.getByRole('region', { name: `Rollback of ${ring}` });
      await rollback.getByText('Done: 10 devices rolled back, 0 failed').waitFor();
      const steps = rollback.getByRole('list', { name: `Rollback steps of ${ring}` });
      expect(await steps.getByRole('listitem').allTextContents()).toEqual([
        expect.stringMatching(/^windows: .* — .+ \((not )?tested\)$/),
      ]);
    }
    expect(await page.getByRole('region', { name: 'Rollback of PILOT' }).count()).toBe(0);
    expect(await page.evaluate('window.openedOnce')).toBe(true);
    await page.getByRole('cell', { name: 'ops@example.com' }).first().waitFor();
    await check(page, 'rollout-aborted');
    await context.close();
  }, 180_000);

  it('counts a high-risk intent’s CAB quorum: one member’s approval is recorded, a second member’s decides', async () => {
    const submitter = await api.agent('packager@example.com', ['submitter']);
    const id = await submitHighRisk(submitter, 'Litware Suite', quorumRiskEvidence());
    await statusOf(id, /^AWAITING_CAB$/);
    const first = await person();
    await signIn(first.page, 'cab.chair@example.com', ['cab_member']);
    const card = first.page.getByRole('article', { name: 'Litware Suite 1.0' });
    await card.getByText('0 of 2 approvals so far').waitFor();
    await card.getByRole('button', { name: 'Record decision' }).click();
    await first.page
      .getByText('Your approval is recorded: 1 of 2 approvals. One more CAB member must approve')
      .waitFor();
    // The queue read again: the member's approval counted, and no second one offered to them.
    await card.getByText('1 of 2 approvals so far: cab.chair@example.com (you)').waitFor();
    expect(await card.getByRole('button', { name: 'Record decision' }).count()).toBe(0);
    await card.getByText('You approved this intent already').waitFor();
    await check(first.page, 'cab-quorum-one-of-two');
    await first.context.close();

    const second = await person();
    await signIn(second.page, 'cab.second@example.com', ['cab_member']);
    const theirCard = second.page.getByRole('article', { name: 'Litware Suite 1.0' });
    await theirCard.getByText('1 of 2 approvals so far: cab.chair@example.com').waitFor();
    expect(await theirCard.getByText('(you)').count()).toBe(0);
    await theirCard.getByRole('button', { name: 'Record decision' }).click();
    await second.page.getByText(/Litware Suite 1.0: Approved\. The rollout continues/).waitFor();
    await theirCard.waitFor({ state: 'detached' });
    expect(await statusOf(id, /^(APPROVED|DEPLOYING|SOAKING|COMPLETED)$/)).toMatch(/^[A-Z]+$/);
    const intent = await submitter.get(`/api/v1/deployment-intents/${id}`).expect(200);
    expect((intent.body as { cab: { state: string; approver_id: string } }).cab).toMatchObject({
      state: 'APPROVED',
      approver_id: 'cab.second@example.com',
    });
    await second.context.close();
  }, 120_000);

  it('lets an admin issue a connector key (shown once, copied) and revoke it', async () => {
    const { context, page } = await person();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await signIn(page, 'admin@example.com', ['admin']);
    await page.getByRole('link', { name: 'Credentials' }).click();
    await page.getByRole('heading', { name: 'Connector credentials' }).waitFor();
    // A name the API refuses (400): its words, next to the field.
    await page.getByLabel('Name').fill('Intune West');
    await page.getByRole('button', { name: 'Issue key' }).click();
    await page.getByText(/not in a form EUCORA accepts\..*letters, digits/).waitFor();
    await page.getByLabel('Name').fill('intune-west');
    await page.getByLabel('Connector', { exact: true }).selectOption('intune');
    await page.getByRole('button', { name: 'Issue key' }).click();
    await page.getByText('Shown this once.').waitFor();
    const key = await page.getByLabel('API key').inputValue();
    expect(key.length).toBeGreaterThan(20);
    await page.getByRole('button', { name: 'Copy key' }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(key);
    await page.getByRole('rowheader', { name: 'intune-west' }).waitFor();
    const pending = () =>
      api.anonymous().get('/api/v1/connectors/pending-deployments').set('Authorization', `Bearer ${key}`);
    expect((await pending()).status).toBe(200);
    await check(page, 'credentials');
    page.once('dialog', (dialog) => {
      void dialog.accept();
    });
    await page.getByRole('button', { name: 'Revoke intune-west' }).click();
    await page.getByText('is revoked: its key is refused from now on.').waitFor();
    // The list is read again after the revoke: the row's button goes once it has been.
    await page.getByRole('button', { name: 'Revoke intune-west' }).waitFor({ state: 'detached' });
    expect((await pending()).status).toBe(401);
    // Shown once: the page reopened has no key to show.
    await page.reload();
    await page.getByRole('heading', { name: 'Connector credentials' }).waitFor();
    expect(await page.getByLabel('API key').count()).toBe(0);
    await check(page, 'credentials-revoked');
    await context.close();
  });
});
