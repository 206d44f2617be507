import { ConsoleApi, definedFilters } from '../../web/src/api/client';
import type { Actor, CabQueueItem } from '../../web/src/api/model';
import { INTENT_STATUSES, RINGS, SIGN_IN_ROLES, isTerminal } from '../../web/src/api/model';
import {
  ApiProblem,
  messageOf,
  problemFrom,
  retryAfterSeconds,
  waitInWords,
} from '../../web/src/api/problem';
import { ActionKeys } from '../../web/src/lib/action-keys';
import {
  EMPTY_CAB_FORM,
  cabDecisionRequest,
  quorumInWords,
  verdictInWords,
} from '../../web/src/lib/cab-form';
import { evidenceLines } from '../../web/src/lib/evidence-summary';
import {
  countdownInWords,
  dateTime,
  durationInWords,
  percent,
  roleLabel,
  statusLabel,
  statusTone,
  timeLeft,
} from '../../web/src/lib/format';
import { availableActions, cabDecisionPermission, hasRole } from '../../web/src/lib/permissions';
import { homeFor, navigationFor, parseRoute, pathOf } from '../../web/src/lib/routes';
import {
  EMPTY_SUBMIT_FORM,
  EVIDENCE_TEMPLATE,
  formFieldOf,
  missingInWords,
  parseEvidence,
  problemsByField,
  riskRequest,
  submission,
} from '../../web/src/lib/submit-form';
import {
  finalRing,
  gateCheckInWords,
  planStepsFor,
  refreshInterval,
  rollbackInWords,
  ringTimeline,
  soakEndsAt,
} from '../../web/src/lib/timeline';

const NOW = Date.parse('2026-11-28T12:00:00Z');
const ID = '0b9d8f52-6c1e-4d4f-9a4e-3f1b2c3d4e5f';

function actor(id: string, roles: Actor['roles']): Actor {
  return { id, display_name: id, tenant_id: 't', kind: 'user', roles };
}

describe('console formatting', () => {
  it.each([
    [0, '0 s'],
    [45_000, '45 s'],
    [5 * 60_000, '5 min'],
    [3_600_000, '1 h'],
    [3_900_000, '1 h 5 min'],
    [86_400_000, '1 d'],
    [90_000_000, '1 d 1 h'],
    [-5, '0 s'],
  ])('says %d ms as %s', (ms, words) => {
    expect(durationInWords(ms)).toBe(words);
  });

  it('counts down to a deadline and says how long ago it passed', () => {
    expect(timeLeft('2026-11-28T14:30:00Z', NOW)).toBe('2 h 30 min left');
    expect(timeLeft('2026-11-28T11:50:00Z', NOW)).toBe('overdue by 10 min');
    expect(timeLeft('not a date', NOW)).toBe('unknown');
  });

  it('writes times in UTC, rates as percentages, statuses and roles in words', () => {
    expect(dateTime('2026-11-28T16:40:05.123Z')).toBe('2026-11-28 16:40:05 UTC');
    expect(dateTime(null)).toBe('—');
    expect(dateTime(undefined)).toBe('—');
    expect(dateTime('garbage')).toBe('garbage');
    expect(percent(0.9876)).toBe('98.8 %');
    expect(statusLabel('AWAITING_CAB')).toBe('Awaiting CAB');
    expect(statusLabel('ROLLED_BACK')).toBe('Rolled back');
    expect(roleLabel('cab_member')).toBe('CAB member');
    expect(roleLabel('something_new')).toBe('something_new');
  });

  it('gives every status a tone', () => {
    const tones = Object.fromEntries(INTENT_STATUSES.map((status) => [status, statusTone(status)]));
    expect(tones).toMatchObject({
      COMPLETED: 'good',
      ABORTED: 'bad',
      PAUSED: 'waiting',
      DEPLOYING: 'active',
    });
    expect(INTENT_STATUSES.filter(isTerminal)).toEqual([
      'COMPLETED',
      'REJECTED',
      'EXPIRED',
      'ROLLED_BACK',
      'FAILED',
      'ABORTED',
    ]);
    expect(RINGS).toEqual(['LAB', 'CANARY', 'PILOT', 'DEPARTMENT', 'GLOBAL']);
    expect(SIGN_IN_ROLES).toEqual(['submitter', 'cab_member', 'operator', 'auditor', 'admin']);
  });
});

describe('API problems in plain words', () => {
  it('reads Retry-After as seconds or as a date', () => {
    expect(retryAfterSeconds('30', NOW)).toBe(30);
    expect(retryAfterSeconds(new Date(NOW + 90_000).toUTCString(), NOW)).toBe(90);
    expect(retryAfterSeconds(null, NOW)).toBeUndefined();
    expect(retryAfterSeconds(' ', NOW)).toBeUndefined();
    expect(retryAfterSeconds('soon', NOW)).toBeUndefined();
    expect(waitInWords(1)).toBe('in a moment');
    expect(waitInWords(61)).toBe('in 1 minute 1 second');
    expect(waitInWords(120)).toBe('in 2 minutes');
  });

  it('says a rate limit with the wait the server asked for', () => {
    const problem = problemFrom(429, { type: 'https://eucora.dev/problems/rate-limited' }, '75', NOW);
    expect(problem.message).toBe('Too many requests. Try again in 1 minute 15 seconds.');
    expect(problem.retryAfterSeconds).toBe(75);
    expect(problemFrom(429, undefined, null, NOW).message).toBe('Too many requests. Try again in 1 minute.');
  });

  it('explains conflicts, refusals and separation of duties', () => {
    const conflict = problemFrom(
      409,
      {
        type: 'https://eucora.dev/problems/not-awaiting-cab',
        detail: 'the intent is not awaiting a CAB decision',
      },
      null,
      NOW,
    );
    expect(conflict.type).toBe('not-awaiting-cab');
    expect(conflict.message).toBe(
      'This conflicts with the current state. The intent is not awaiting a CAB decision.',
    );
    const own = problemFrom(
      403,
      { type: 'https://eucora.dev/problems/separation-of-duties', detail: 'you submitted this intent' },
      null,
      NOW,
    );
    expect(own.message).toBe('Separation of duties: you submitted this intent.');
    expect(problemFrom(403, { type: 'x/separation-of-duties' }, null, NOW).message).toBe(
      'Separation of duties: you may not act on your own submission.',
    );
    expect(problemFrom(403, {}, null, NOW).message).toBe('You may not do this.');
    expect(problemFrom(418, 'teapot', null, NOW).message).toBe('The server answered 418.');
    expect(
      problemFrom(400, { errors: [{ field: 'name', message: 'letters, digits and . _ - only' }] }, null, NOW)
        .message,
    ).toBe('Some of what you entered is not in a form EUCORA accepts. name: letters, digits and . _ - only.');
    expect(problemFrom(503, { detail: 'temporal is down' }, '5', NOW).message).toBe(
      'A service EUCORA depends on is not answering right now. Temporal is down. Try again in 5 seconds.',
    );
  });

  it('names each bad field, and its sub-fields under it', () => {
    const problem = problemFrom(
      422,
      {
        type: 'https://eucora.dev/problems/evidence-incomplete',
        errors: [
          { field: 'evidence_pack.sbom', message: 'required' },
          { field: 'evidence_pack.signature.status', message: 'invalid' },
          { field: 'version', message: 'too long' },
          { nonsense: true },
          'text',
        ],
      },
      null,
      NOW,
    );
    expect(problem.fields).toHaveLength(3);
    expect(problem.fieldMessage('evidence_pack.sbom')).toBe('required');
    expect(problem.fieldMessage('evidence_pack.signature')).toBe('invalid');
    expect(problem.fieldMessage('app_name')).toBeUndefined();
    expect(problemFrom(400, { errors: 'no' }, null, NOW).fields).toEqual([]);
  });

  it('words a network failure apart from an API answer', () => {
    expect(messageOf(new ApiProblem(404, 'not-found', 'gone'))).toBe('gone');
    expect(messageOf(new TypeError('Failed to fetch'))).toMatch(/could not be reached/);
  });
});

describe('the console API client', () => {
  interface Sent {
    method: string;
    url: string;
    headers: Headers;
    body: string | undefined;
  }
  function fakeFetch(answers: (sent: Sent) => Response) {
    const sent: Sent[] = [];
    const impl = async (input: Request | string | URL, init?: RequestInit): Promise<Response> => {
      const request = input instanceof Request ? input : new Request(input, init);
      const entry = {
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: request.body === null ? undefined : await request.text(),
      };
      sent.push(entry);
      return answers(entry);
    };
    return { sent, api: new ConsoleApi(impl, 'http://console.test', () => NOW) };
  }
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(status === 204 ? null : JSON.stringify(body), {
      status,
      headers: { 'Content-Type': status < 400 ? 'application/json' : 'application/problem+json', ...headers },
    });

  it('sends every write as JSON with the Idempotency-Key of the person’s action, {} when it has no body', async () => {
    const { sent, api } = fakeFetch((request) => {
      if (request.url.endsWith('/pause'))
        return json(202, { intent_id: ID, action: 'pause', status: 'DEPLOYING' });
      if (request.method === 'DELETE') return json(204, null);
      return json(200, { ok: true });
    });
    await api.control('pause', ID, 'key-1');
    await api.control('abort', ID, 'key-2', '  broken build ');
    await api.control('resume', ID, 'key-3');
    await api.control('promote', ID, 'key-4', ' ');
    await api.revokeCredential(ID, 'key-5');
    await api.logout();
    expect(
      sent.map((s) => [s.method, new URL(s.url).pathname, s.headers.get('idempotency-key'), s.body]),
    ).toEqual([
      ['POST', `/api/v1/deployment-intents/${ID}/pause`, 'key-1', '{}'],
      ['POST', `/api/v1/deployment-intents/${ID}/abort`, 'key-2', '{"reason":"broken build"}'],
      ['POST', `/api/v1/deployment-intents/${ID}/resume`, 'key-3', '{}'],
      ['POST', `/api/v1/deployment-intents/${ID}/promote`, 'key-4', '{}'],
      ['DELETE', `/api/v1/connector-credentials/${ID}`, 'key-5', '{}'],
      ['POST', '/api/v1/auth/logout', null, '{}'],
    ]);
    for (const request of sent) expect(request.headers.get('content-type')).toBe('application/json');
  });

  it('reads pages and details, with only the filters chosen', async () => {
    const { sent, api } = fakeFetch((request) => {
      const url = new URL(request.url);
      if (url.pathname.endsWith('/cab/pending'))
        return json(200, { items: [{ intent_id: ID }], next_cursor: null });
      if (url.pathname === '/api/v1/deployment-intents')
        return json(200, { items: [{ id: ID }], next_cursor: null });
      if (url.pathname === '/api/v1/connector-credentials') return json(200, { items: [{ id: ID }] });
      return json(200, { id: ID });
    });
    expect(await api.cabQueue()).toEqual([{ intent_id: ID }]);
    expect(await api.rollouts({ status: 'PAUSED', ring: undefined, app_name: '', submitter: 'me' })).toEqual([
      { id: ID },
    ]);
    expect(await api.rollout(ID)).toEqual({ id: ID });
    expect(await api.evidencePack(ID)).toEqual({ id: ID });
    expect(await api.credentials()).toEqual([{ id: ID }]);
    expect(await api.signInOptions()).toEqual({ id: ID });
    expect(new URL(sent[1]?.url ?? '').search).toBe('?status=PAUSED&submitter=me&limit=200');
    expect(definedFilters({ ring: 'LAB', app_name: '' })).toEqual({ ring: 'LAB' });
  });

  it('posts decisions, submissions, dry runs, credentials and sign-ins', async () => {
    const { sent, api } = fakeFetch(() => json(200, { fine: true }));
    await api.decideCab(ID, { decision: 'APPROVED' }, 'k1');
    await api.submitIntent(
      { app_name: 'a', version: '1', target_ring: 'LAB', connectors: { windows: 'intune' } },
      'k2',
    );
    await api.evaluateRisk(
      { target_ring: 'LAB', connectors: { windows: 'intune' } },
      new AbortController().signal,
    );
    await api.evaluateRisk({ target_ring: 'LAB', connectors: { windows: 'intune' } });
    await api.issueCredential({ scope: 'connector', connector_type: 'intune', name: 'x' }, 'k3');
    await api.devLogin('alice', ['submitter'], '  Alice ');
    await api.devLogin('bob', ['operator']);
    expect(sent.map((s) => s.headers.get('idempotency-key'))).toEqual([
      'k1',
      'k2',
      null,
      null,
      'k3',
      null,
      null,
    ]);
    expect(JSON.parse(sent[5]?.body ?? '')).toEqual({
      username: 'alice',
      roles: ['submitter'],
      display_name: 'Alice',
    });
    expect(JSON.parse(sent[6]?.body ?? '')).toEqual({ username: 'bob', roles: ['operator'] });
  });

  it('knows nobody is signed in from a 401, and throws any other failure as a problem', async () => {
    let status = 401;
    const { api } = fakeFetch(() =>
      status === 200
        ? json(200, actor('a', ['admin']))
        : json(status, { detail: 'nope' }, { 'Retry-After': '3' }),
    );
    expect(await api.me()).toBeUndefined();
    status = 503;
    await expect(api.me()).rejects.toMatchObject({ status: 503, retryAfterSeconds: 3 });
    await expect(api.cabQueue()).rejects.toBeInstanceOf(ApiProblem);
    status = 200;
    expect(await api.me()).toMatchObject({ id: 'a' });
  });
});

describe('idempotency keys per action', () => {
  it('keeps one key for a repeated request, a new one when the request changes or the action is done', () => {
    let n = 0;
    const keys = new ActionKeys(() => `key-${String(++n)}`);
    expect(keys.keyFor('submit', { a: 1 })).toBe('key-1');
    expect(keys.keyFor('submit', { a: 1 })).toBe('key-1');
    expect(keys.keyFor('other', undefined)).toBe('key-2');
    expect(keys.keyFor('submit', { a: 2 })).toBe('key-3');
    keys.done('submit');
    expect(keys.keyFor('submit', { a: 2 })).toBe('key-4');
    expect(new ActionKeys().keyFor('x', null)).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('permissions', () => {
  const submitter = actor('pat', ['submitter']);
  const member = actor('cam', ['cab_member', 'submitter']);
  const operator = actor('ops', ['operator']);
  const admin = actor('root', ['admin']);

  it('lets CAB members decide others’ submissions only, and says why not', () => {
    expect(cabDecisionPermission(member, { submitter_id: 'pat' })).toEqual({ allowed: true });
    expect(cabDecisionPermission(member, { submitter_id: 'cam' }).reason).toMatch(/Separation of duties/);
    expect(cabDecisionPermission(submitter, { submitter_id: 'x' }).allowed).toBe(false);
    expect(cabDecisionPermission(admin, { submitter_id: 'x' }).allowed).toBe(true);
    // A quorum counts a member once: no second approval offered.
    const approvals = [{ approver_id: 'cam', decision: 'APPROVED' as const, at: '2026-11-28T12:00:00Z' }];
    expect(
      cabDecisionPermission(member, { submitter_id: 'pat', approvals, required_approvals: 2 }).reason,
    ).toBe(
      'You approved this intent already; a quorum counts each member once. One more CAB member must approve it.',
    );
    expect(
      cabDecisionPermission(member, { submitter_id: 'pat', approvals, required_approvals: 3 }).reason,
    ).toMatch(/2 more CAB members must approve it/);
    expect(
      cabDecisionPermission(actor('pam', ['cab_member']), {
        submitter_id: 'pat',
        approvals,
        required_approvals: 2,
      }),
    ).toEqual({ allowed: true });
    expect(hasRole(admin, 'operator')).toBe(true);
    expect(hasRole(submitter, 'operator')).toBe(false);
  });

  it('offers each operator action only where the role and the state allow it', () => {
    const names = (who: Actor, status: Parameters<typeof availableActions>[1]['status'], by = 'pat') =>
      availableActions(who, { status, submitter_id: by }).map(
        (a) => `${a.action}:${String(a.permission.allowed)}`,
      );
    expect(names(operator, 'DEPLOYING')).toEqual(['pause:true', 'abort:true']);
    expect(names(operator, 'PAUSED')).toEqual(['resume:true', 'abort:true']);
    expect(names(operator, 'PAUSED', 'ops')).toEqual(['resume:false', 'abort:true']);
    expect(names(operator, 'AWAITING_PROMOTION')).toEqual(['pause:true', 'abort:true', 'promote:true']);
    expect(names(member, 'AWAITING_PROMOTION', 'cam')).toEqual(['promote:false']);
    expect(names(operator, 'COMPLETED')).toEqual([]);
    expect(names(submitter, 'DEPLOYING')).toEqual([]);
  });
});

describe('console routes', () => {
  it.each([
    ['/', '', { page: 'home' }],
    ['/cab/', '', { page: 'cab' }],
    ['/submit', '', { page: 'submit' }],
    ['/credentials', '', { page: 'credentials' }],
    [
      '/rollouts',
      '?status=PAUSED&ring=MOON&app_name=7-Zip&submitter=',
      { page: 'rollouts', filters: { status: 'PAUSED', app_name: '7-Zip' } },
    ],
    [`/rollouts/${ID}`, '', { page: 'rollout', id: ID }],
    ['/rollouts/not-an-id', '', { page: 'not-found', path: '/rollouts/not-an-id' }],
  ])('reads %s%s', (pathname, search, route) => {
    expect(parseRoute(pathname, search)).toEqual(route);
    const [again, query = ''] = pathOf(route as Parameters<typeof pathOf>[0]).split('?');
    expect(parseRoute(again ?? '', query)).toEqual(route);
  });

  it('writes paths back, filters as a query', () => {
    expect(pathOf({ page: 'rollouts', filters: { ring: 'PILOT', submitter: 'a b' } })).toBe(
      '/rollouts?ring=PILOT&submitter=a+b',
    );
    expect(pathOf({ page: 'rollouts', filters: {} })).toBe('/rollouts');
    expect(pathOf({ page: 'home' })).toBe('/');
    expect(pathOf({ page: 'cab' })).toBe('/cab');
  });

  it('shows each person the pages of their roles and opens the first', () => {
    expect(navigationFor(actor('c', ['cab_member'])).map((item) => item.label)).toEqual([
      'CAB queue',
      'Rollouts',
    ]);
    expect(homeFor(actor('c', ['cab_member']))).toEqual({ page: 'cab' });
    expect(navigationFor(actor('s', ['submitter'])).map((item) => item.label)).toEqual([
      'Rollouts',
      'Submit',
    ]);
    expect(navigationFor(actor('a', ['admin'])).map((item) => item.label)).toEqual([
      'CAB queue',
      'Rollouts',
      'Submit',
      'Credentials',
    ]);
    expect(homeFor(actor('m', ['metrics_reader']))).toBeUndefined();
  });
});

describe('CAB decision form', () => {
  it('builds approve, reject and conditional requests, and names what is missing', () => {
    expect(cabDecisionRequest(EMPTY_CAB_FORM)).toEqual({ request: { decision: 'APPROVED' } });
    expect(cabDecisionRequest({ ...EMPTY_CAB_FORM, decision: 'REJECTED' })).toMatchObject({
      field: 'comments',
    });
    expect(cabDecisionRequest({ ...EMPTY_CAB_FORM, decision: 'REJECTED', comments: ' no ' })).toEqual({
      request: { decision: 'REJECTED', comments: 'no' },
    });
    expect(cabDecisionRequest({ ...EMPTY_CAB_FORM, decision: 'CONDITIONAL' })).toMatchObject({
      field: 'conditions',
    });
    expect(
      cabDecisionRequest({
        ...EMPTY_CAB_FORM,
        decision: 'CONDITIONAL',
        maxRing: 'PILOT',
        extraSoak: ' 2h ',
        manualPromotion: true,
        comments: 'ok',
      }),
    ).toEqual({
      request: {
        decision: 'CONDITIONAL',
        conditions: { max_ring: 'PILOT', extra_soak: '2h', manual_promotion: true },
        comments: 'ok',
      },
    });
    expect(verdictInWords({ decision: 'APPROVED', status: 'DEPLOYING' })).toBe(
      'Approved. The rollout continues (deploying).',
    );
    expect(verdictInWords({ decision: 'CONDITIONAL', status: 'APPROVED' })).toMatch(
      /^Approved with conditions/,
    );
    expect(verdictInWords({ decision: 'REJECTED', status: 'REJECTED' })).toBe(
      'Rejected. The intent ends here.',
    );
  });

  it('words a quorum: an approval short of it, the approvals so far, and the member’s own', () => {
    expect(
      verdictInWords({
        decision: 'APPROVED',
        status: 'AWAITING_CAB',
        approvers: ['cam'],
        required_approvals: 2,
      }),
    ).toBe(
      'Your approval is recorded: 1 of 2 approvals. One more CAB member must approve before the rollout starts.',
    );
    expect(
      verdictInWords({
        decision: 'CONDITIONAL',
        status: 'AWAITING_CAB',
        approvers: ['a'],
        required_approvals: 3,
      }),
    ).toMatch(/1 of 3 approvals\. 2 more CAB members must approve/);
    expect(
      verdictInWords({
        decision: 'APPROVED',
        status: 'APPROVED',
        approvers: ['a', 'b'],
        required_approvals: 2,
      }),
    ).toBe('Approved. The rollout continues (approved).');
    const at = '2026-11-28T12:00:00Z';
    expect(quorumInWords({ approvals: [], required_approvals: 1 }, 'cam')).toEqual({
      text: '0 of 1 approval so far',
      approvedByMember: false,
    });
    const one = {
      approvals: [{ approver_id: 'cam', decision: 'APPROVED' as const, at }],
      required_approvals: 2,
    };
    expect(quorumInWords(one, 'cam')).toEqual({
      text: '1 of 2 approvals so far: cam (you)',
      approvedByMember: true,
    });
    expect(quorumInWords(one, 'pat').text).toBe('1 of 2 approvals so far: cam');
  });
});

describe('evidence summary lines', () => {
  const summary: CabQueueItem['evidence_summary'] = {
    evidence_pack_id: ID,
    evidence_hash: 'e'.repeat(64),
    signature_status: 'TRUSTED_PUBLISHER',
    scan_decision: 'PASS',
    vulnerabilities: { critical: 0, high: 1, medium: 2 },
    sbom_complete: true,
    sbom_component_count: 12,
    rollback_platforms: ['windows'],
    rollback_tested: true,
    test_evidence: {
      lab: { status: 'PASSED', devices_tested: 3, success_rate: 1 },
      ring0: null,
    },
    missing_evidence: [],
  };

  it('reads a clean pack as fine throughout', () => {
    expect(evidenceLines(summary, NOW)).toEqual([
      { label: 'Signature', text: 'signed by a trusted publisher', ok: true },
      { label: 'SBOM', text: '12 components, complete', ok: true },
      { label: 'Vulnerability scan', text: '0 critical, 1 high, 2 medium; passed', ok: true },
      { label: 'Rollback plan', text: 'windows; every step tested', ok: true },
      {
        label: 'Test evidence',
        text: 'lab: passed on 3 devices, 100 % success; ring 0: not reported',
        ok: true,
      },
    ]);
  });

  it('flags what a CAB member should look at twice, with the exception’s expiry', () => {
    const lines = evidenceLines(
      {
        ...summary,
        signature_status: 'UNTRUSTED',
        scan_decision: 'EXCEPTION',
        exception_expires_at: '2026-11-30T12:00:00Z',
        sbom_complete: false,
        rollback_tested: false,
        test_evidence: { lab: { status: 'NOT_RUN', devices_tested: 0, success_rate: null }, ring0: null },
        missing_evidence: ['artifact_hash'],
      },
      NOW,
    );
    expect(lines.filter((line) => line.ok)).toEqual([]);
    expect(lines.map((line) => line.text)).toContain(
      '0 critical, 1 high, 2 medium; accepted by exception, expires 2026-11-30 12:00:00 UTC (2 d left)',
    );
    expect(lines.at(-1)).toEqual({ label: 'Missing', text: 'artifact_hash', ok: false });
    const worst = evidenceLines(
      {
        ...summary,
        signature_status: null,
        scan_decision: null,
        vulnerabilities: null,
        sbom_component_count: null,
        rollback_platforms: [],
      },
      NOW,
    ).map((line) => line.text);
    expect(worst.slice(0, 4)).toEqual(['missing', 'missing', 'no scan results; no decision', 'none']);
    expect(
      evidenceLines({ ...summary, signature_status: 'UNSIGNED', scan_decision: 'FAIL' }, NOW)[2]?.text,
    ).toBe('0 critical, 1 high, 2 medium; failed');
    expect(evidenceLines({ ...summary, signature_status: 'UNSIGNED' }, NOW)[0]?.text).toBe('unsigned');
    expect(evidenceLines({ ...summary, scan_decision: 'EXCEPTION' }, NOW)[2]?.text).toMatch(
      /no expiry given/,
    );
  });
});

describe('rollout timeline', () => {
  const deploy = (ring: string, extra: Record<string, unknown> = {}) => ({
    ring,
    action: 'DEPLOY',
    connector_type: 'intune',
    platforms: ['windows'],
    status: 'REPORTED',
    outcome: 'SUCCEEDED',
    success_count: 10,
    failure_count: 0,
    connector_object_id: null,
    attempt: 1,
    started_at: '2026-11-28T12:00:00Z',
    deadline_at: '2026-11-28T13:00:00Z',
    last_report_at: null,
    completed_at: null,
    gate: {
      passed: true,
      success_rate: 1,
      reporting_devices: 10,
      time_to_compliance_ms: 1000,
      checks: [],
      reasons: [],
    },
    ...extra,
  });
  type Detail = Parameters<typeof ringTimeline>[0];

  it('steps through the rings up to the CAB’s limit and skips the rest', () => {
    const intent = {
      target_ring: 'GLOBAL',
      cab: { conditions: { max_ring: 'PILOT' } },
      rings: [
        deploy('LAB'),
        deploy('CANARY', { attempt: 1, outcome: 'FAILED' }),
        deploy('CANARY', { attempt: 2 }),
        deploy('PILOT', { status: 'IN_PROGRESS', outcome: null, gate: null }),
      ],
    } as unknown as Detail;
    expect(finalRing(intent)).toBe('PILOT');
    expect(ringTimeline(intent).map((step) => step.state)).toEqual([
      'done',
      'done',
      'running',
      'skipped',
      'skipped',
    ]);
    expect(
      finalRing({ target_ring: 'CANARY', cab: { conditions: { max_ring: 'GLOBAL' } } } as unknown as Detail),
    ).toBe('CANARY');
    expect(finalRing({ target_ring: 'LAB', cab: null } as unknown as Detail)).toBe('LAB');
  });

  it('shows failed gates, timeouts and rollbacks', () => {
    const intent = {
      target_ring: 'PILOT',
      cab: null,
      rings: [
        deploy('LAB'),
        { ...deploy('LAB'), action: 'ROLLBACK' },
        deploy('CANARY', { gate: { passed: false, checks: [] } }),
        deploy('PILOT', { status: 'TIMED_OUT', outcome: null, gate: null }),
      ],
    } as unknown as Detail;
    expect(ringTimeline(intent).map((step) => step.state)).toEqual(['rolled-back', 'failed', 'failed']);
    expect(ringTimeline({ ...intent, rings: [] }).map((step) => step.state)).toEqual([
      'planned',
      'planned',
      'planned',
    ]);
  });

  it('times the soak from its SOAK_STARTED event and refreshes only while the rollout can change', () => {
    const event = (type: string, payload: Record<string, unknown>) => ({
      id: 1,
      event_type: type,
      intent_id: ID,
      correlation_id: ID,
      request_id: null,
      actor: 'workflow',
      payload,
      occurred_at: '2026-11-28T12:00:00Z',
      seq: 1,
      prev_hash: '0'.repeat(64),
      hash: 'a'.repeat(64),
    });
    expect(
      soakEndsAt({
        status: 'SOAKING',
        recent_events: [event('SOAK_STARTED', { ring: 'LAB', soakMs: 60_000 })],
      }),
    ).toBe(Date.parse('2026-11-28T12:01:00Z'));
    expect(soakEndsAt({ status: 'SOAKING', recent_events: [event('SOAK_STARTED', {})] })).toBeUndefined();
    expect(soakEndsAt({ status: 'SOAKING', recent_events: [] })).toBeUndefined();
    expect(soakEndsAt({ status: 'DEPLOYING', recent_events: [] })).toBeUndefined();
    expect(refreshInterval(undefined)).toBe(2000);
    expect(refreshInterval({ status: 'DEPLOYING' })).toBe(2000);
    expect(refreshInterval({ status: 'COMPLETED' })).toBeUndefined();
  });

  it('words each ring’s rollback and picks the plan’s steps for the platforms it ran on', () => {
    const row = deploy('LAB', { action: 'ROLLBACK', gate: null }) as unknown as Detail['rings'][number];
    expect(rollbackInWords(row)).toBe('Done: 10 devices rolled back, 0 failed');
    expect(rollbackInWords({ ...row, outcome: 'FAILED', failure_count: 2 })).toBe(
      'Failed: 10 devices rolled back, 2 failed',
    );
    expect(rollbackInWords({ ...row, status: 'TIMED_OUT' })).toBe(
      'Timed out: 10 devices rolled back, 0 failed',
    );
    expect(rollbackInWords({ ...row, status: 'CANCELLED' })).toBe('Cancelled');
    expect(rollbackInWords({ ...row, status: 'IN_PROGRESS', success_count: 3 })).toBe(
      'Waiting for intune: 3 devices rolled back, 0 failed so far',
    );
    const steps = [
      { platform: 'windows', instructions: 'uninstall' },
      { platform: 'macos', instructions: 'remove' },
      { platform: 'windows', instructions: 'reboot' },
    ];
    expect(planStepsFor(row, steps).map((step) => step.instructions)).toEqual(['uninstall', 'reboot']);
    expect(planStepsFor({ platforms: ['linux'] }, steps)).toEqual([]);
  });

  it('counts a soak down to the second', () => {
    expect(countdownInWords(25_000)).toBe('25 s');
    expect(countdownInWords(24_001)).toBe('25 s');
    expect(countdownInWords(-5)).toBe('0 s');
    expect(countdownInWords(4 * 60_000 + 5_000)).toBe('4 min 5 s');
    expect(countdownInWords(2 * 3_600_000 + 60_000)).toBe('2 h 1 min 0 s');
    expect(countdownInWords(26 * 3_600_000)).toBe('1 d 2 h');
  });

  it('words gate checks as required against actual', () => {
    expect(gateCheckInWords({ rule: 'min_success_rate', actual: 0.955, required: 0.95 })).toEqual({
      rule: 'success rate',
      actual: '95.5 %',
      required: 'at least 95 %',
    });
    expect(gateCheckInWords({ rule: 'max_time_to_compliance', actual: 5000, required: 3_600_000 })).toEqual({
      rule: 'time to compliance',
      actual: '5 s',
      required: 'at most 3600 s',
    });
    expect(gateCheckInWords({ rule: 'min_devices', actual: 3, required: 1 }).required).toBe('at least 1');
    expect(gateCheckInWords({ rule: 'new_rule', actual: 1, required: 2 }).rule).toBe('new_rule');
  });
});

describe('submit form', () => {
  const filled = {
    ...EMPTY_SUBMIT_FORM,
    appName: ' Contoso Agent ',
    version: '2.1 ',
    evidence: '{"artifact_hash":"abc"}',
  };

  it('builds the intent, or names the first field to fix', () => {
    expect(submission(filled)).toEqual({
      request: {
        app_name: 'Contoso Agent',
        version: '2.1',
        target_ring: 'GLOBAL',
        connectors: { windows: 'intune' },
        evidence_pack: { artifact_hash: 'abc' },
      },
    });
    expect(submission({ ...filled, appName: ' ' })).toMatchObject({ field: 'app_name' });
    expect(submission({ ...filled, version: '' })).toMatchObject({ field: 'version' });
    expect(submission({ ...filled, connectors: {} })).toMatchObject({ field: 'connectors' });
    expect(submission({ ...filled, evidence: '{' })).toMatchObject({
      field: 'evidence_pack',
      message: expect.stringContaining('not valid JSON') as unknown,
    });
    expect(submission({ ...filled, evidence: '[1]' })).toEqual({
      field: 'evidence_pack',
      message: 'The evidence must be a JSON object ({ … }).',
    });
  });

  it('asks for a dry-run only when the evidence parses and a connector is chosen', () => {
    expect(riskRequest({ ...filled, connectors: { macos: 'jamf', linux: 'ansible' } })).toEqual({
      evidence_pack: { artifact_hash: 'abc' },
      target_ring: 'GLOBAL',
      connectors: { macos: 'jamf', linux: 'ansible' },
    });
    expect(riskRequest({ ...filled, evidence: 'null' })).toBeUndefined();
    expect(riskRequest({ ...filled, connectors: {} })).toBeUndefined();
    expect(parseEvidence(EVIDENCE_TEMPLATE)).toHaveProperty('pack.rollback_plan');
  });

  it('puts the API’s field problems next to the form field they belong to', () => {
    expect(formFieldOf('app_name')).toBe('app_name');
    expect(formFieldOf('connectors.windows')).toBe('connectors');
    expect(formFieldOf('evidence_pack.sbom.complete')).toBe('evidence_pack');
    expect(formFieldOf('target_device_count')).toBe('evidence_pack');
    expect(
      problemsByField([
        { field: 'version', message: 'too long' },
        { field: 'evidence_pack.sbom', message: 'required' },
        { field: 'evidence_pack.rollback_plan', message: 'required' },
      ]),
    ).toEqual({
      version: 'too long',
      evidence_pack: 'evidence_pack.sbom: required; evidence_pack.rollback_plan: required',
    });
    expect(missingInWords([])).toBeUndefined();
    expect(missingInWords(['sbom', 'rollback_plan'])).toBe(
      'The pack lacks sbom, rollback plan: the API refuses the intent until they are given.',
    );
  });
});
