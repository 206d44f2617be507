/**
 * Who may do what, as pure functions: the API asks these before any side effect, and the workflow's
 * CAB validator asks the same separation-of-duties rule, so the two can never disagree.
 */

export const ROLES = [
  'submitter',
  'cab_member',
  'operator',
  'auditor',
  'admin',
  'connector',
  'metrics_reader',
] as const;
export type Role = (typeof ROLES)[number];

/** What an operation requires of its caller; every operation declares one. */
export type Access =
  | { readonly kind: 'public' }
  | { readonly kind: 'authenticated' }
  | { readonly kind: 'roles'; readonly roles: readonly Role[] };

export const publicAccess: Access = { kind: 'public' };
export const anyAuthenticated: Access = { kind: 'authenticated' };

/** The named roles, and admin: an admin may do what any role may. `roles()` alone is admins only. */
export function roles(...allowed: Role[]): Access {
  return { kind: 'roles', roles: [...new Set<Role>([...allowed, 'admin'])] };
}

/** The caller as the rules see it: who, and with which roles. */
export interface Principal {
  readonly id: string;
  readonly roles: readonly Role[];
}

export type Decision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly status: 401 | 403; readonly type: string; readonly reason: string };

const ALLOWED: Decision = { allowed: true };

/** May this caller (undefined: nobody signed in, no valid key) call an operation with this access? */
export function authorizeAccess(
  access: Access,
  principal: Principal | undefined,
  authenticationFailure?: string,
): Decision {
  if (access.kind === 'public') return ALLOWED;
  if (principal === undefined) {
    return {
      allowed: false,
      status: 401,
      type: 'unauthenticated',
      reason: authenticationFailure ?? 'sign in, or present an API key',
    };
  }
  if (access.kind === 'roles' && !principal.roles.some((role) => access.roles.includes(role))) {
    return {
      allowed: false,
      status: 403,
      type: 'forbidden',
      reason: `this needs one of the roles: ${access.roles.join(', ')}`,
    };
  }
  return ALLOWED;
}

/** The human gates an intent passes after submission: each needs someone other than its submitter. */
export const HUMAN_GATES = ['decide_cab', 'promote', 'resume'] as const;
export type HumanGate = (typeof HUMAN_GATES)[number];

const OWN_GATE_REASONS: Record<HumanGate, string> = {
  // The workflow's CAB validator has answered with this text since the first release: keep it.
  decide_cab: "the intent's submitter cannot decide on it",
  promote: "the intent's submitter cannot promote it to its next ring",
  resume: "the intent's submitter cannot resume it",
};

/**
 * Separation of duties: whoever submitted an intent may not pass it through a human gate (decide its
 * CAB request, promote it, resume it), whatever roles they hold, admin included. Stopping one's own
 * intent (pause, abort) is never refused: it only makes a rollout safer.
 */
export function separationOfDuties(
  gate: HumanGate,
  actorId: string,
  intent: { readonly submitterId: string },
): Decision {
  if (actorId !== intent.submitterId) return ALLOWED;
  return { allowed: false, status: 403, type: 'separation-of-duties', reason: OWN_GATE_REASONS[gate] };
}
