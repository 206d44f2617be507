import {
  HUMAN_GATES,
  anyAuthenticated,
  authorizeAccess,
  publicAccess,
  roles,
  separationOfDuties,
} from '../../policy/authorization';
import type { Access, Principal, Role } from '../../policy/authorization';
import { refuseCabDecision } from '../../policy/cab-decision';

const as = (...held: Role[]): Principal => ({
  id: `someone-with-${held.join('+') || 'nothing'}`,
  roles: held,
});

describe('authorizeAccess', () => {
  const operatorsOnly = roles('operator');
  const adminsOnly = roles();

  it.each<[string, Access, Principal | undefined, number | 'allowed']>([
    ['anyone on a public operation', publicAccess, undefined, 'allowed'],
    ['a signed-in caller on a public operation', publicAccess, as('auditor'), 'allowed'],
    ['nobody on an authenticated operation', anyAuthenticated, undefined, 401],
    ['a caller with no role on an authenticated operation', anyAuthenticated, as(), 'allowed'],
    ['nobody on a role operation', operatorsOnly, undefined, 401],
    ['the named role', operatorsOnly, as('operator'), 'allowed'],
    ['one of several roles held', operatorsOnly, as('auditor', 'operator'), 'allowed'],
    ['an admin, always', operatorsOnly, as('admin'), 'allowed'],
    ['another role', operatorsOnly, as('submitter'), 403],
    ['a connector on a people operation', operatorsOnly, as('connector'), 403],
    ['roles() alone: an admin', adminsOnly, as('admin'), 'allowed'],
    ['roles() alone: anyone else', adminsOnly, as('operator', 'cab_member', 'auditor', 'submitter'), 403],
  ])('%s', (_case, access, principal, expected) => {
    const decision = authorizeAccess(access, principal);
    expect(decision.allowed ? 'allowed' : decision.status).toBe(expected);
  });

  it('names the roles an operation needs, and why an unauthenticated caller was refused', () => {
    expect(authorizeAccess(roles('operator'), as('auditor'))).toEqual({
      allowed: false,
      status: 403,
      type: 'forbidden',
      reason: 'this needs one of the roles: operator, admin',
    });
    expect(authorizeAccess(anyAuthenticated, undefined, 'the API key is unknown or revoked')).toMatchObject({
      status: 401,
      reason: 'the API key is unknown or revoked',
    });
  });

  it('lists admin once however often it is named', () => {
    expect(roles('admin', 'operator')).toEqual({ kind: 'roles', roles: ['admin', 'operator'] });
  });
});

describe('separationOfDuties', () => {
  const intent = { submitterId: 'packager@example.com' };

  it.each(
    HUMAN_GATES.flatMap((gate) => [
      [gate, 'packager@example.com', 403] as const,
      [gate, 'cab.chair@example.com', 'allowed'] as const,
    ]),
  )('%s by %s: %s', (gate, actorId, expected) => {
    const decision = separationOfDuties(gate, actorId, intent);
    expect(decision.allowed ? 'allowed' : decision.status).toBe(expected);
    if (!decision.allowed) expect(decision.type).toBe('separation-of-duties');
  });

  it('is the rule the workflow’s CAB validator applies, with the same words', () => {
    const context = { awaitingCab: true, submitterId: 'packager@example.com', targetRing: 'GLOBAL' as const };
    const own = refuseCabDecision({ decision: 'APPROVED', approverId: 'packager@example.com' }, context);
    const duties = separationOfDuties('decide_cab', 'packager@example.com', context);
    expect(own).toEqual({
      type: 'SelfApprovalForbidden',
      message: "the intent's submitter cannot decide on it",
    });
    expect(duties.allowed ? undefined : duties.reason).toBe(own?.message);
    expect(
      refuseCabDecision({ decision: 'APPROVED', approverId: 'cab.chair@example.com' }, context),
    ).toBeUndefined();
  });
});
