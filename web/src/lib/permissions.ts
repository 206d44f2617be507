import type { Actor, CabQueueItem, IntentDetail, IntentStatus, Role } from '../api/model';
import type { ControlAction } from '../api/client';

/** Whether the person holds a role; an admin may do what any role may (as the API decides). */
export function hasRole(actor: Actor, ...roles: Role[]): boolean {
  return actor.roles.includes('admin') || roles.some((role) => actor.roles.includes(role));
}

export interface Permission {
  readonly allowed: boolean;
  /** Why not, in words for the person, when not allowed. */
  readonly reason?: string;
}

const ALLOWED: Permission = { allowed: true };

/** Separation of duties: a CAB member never decides their own submission (the API refuses it too). */
export function cabDecisionPermission(
  actor: Actor,
  item: Pick<CabQueueItem, 'submitter_id'> & Partial<Pick<CabQueueItem, 'approvals' | 'required_approvals'>>,
): Permission {
  if (!hasRole(actor, 'cab_member')) return { allowed: false, reason: 'Only CAB members decide.' };
  if (item.submitter_id === actor.id) {
    return {
      allowed: false,
      reason: 'You submitted this intent. Separation of duties: another CAB member must decide it.',
    };
  }
  // A quorum counts each member once: the API refuses a second approval (409 already-approved).
  const approvals = item.approvals ?? [];
  if (approvals.some((approval) => approval.approver_id === actor.id)) {
    const missing = Math.max(1, (item.required_approvals ?? 1) - approvals.length);
    return {
      allowed: false,
      reason:
        `You approved this intent already; a quorum counts each member once. ` +
        `${missing === 1 ? 'One more CAB member' : `${String(missing)} more CAB members`} must approve it.`,
    };
  }
  return ALLOWED;
}

const RUNNING: ReadonlySet<IntentStatus> = new Set([
  'APPROVED',
  'DEPLOYING',
  'SOAKING',
  'AWAITING_PROMOTION',
]);
const ABORTABLE: ReadonlySet<IntentStatus> = new Set([
  'SUBMITTED',
  'AWAITING_CAB',
  'APPROVED',
  'DEPLOYING',
  'SOAKING',
  'AWAITING_PROMOTION',
  'PAUSED',
]);

/** The operator actions this person may take on this rollout now; the others are not offered at all. */
export function availableActions(
  actor: Actor,
  intent: Pick<IntentDetail, 'status' | 'submitter_id'>,
): { action: ControlAction; permission: Permission }[] {
  const own = intent.submitter_id === actor.id;
  const ownReason = 'You submitted this intent. Separation of duties: someone else must do this.';
  const offered: { action: ControlAction; permission: Permission }[] = [];
  if (hasRole(actor, 'operator')) {
    if (RUNNING.has(intent.status)) offered.push({ action: 'pause', permission: ALLOWED });
    if (intent.status === 'PAUSED')
      offered.push({ action: 'resume', permission: own ? { allowed: false, reason: ownReason } : ALLOWED });
    if (ABORTABLE.has(intent.status)) offered.push({ action: 'abort', permission: ALLOWED });
  }
  if (hasRole(actor, 'operator', 'cab_member') && intent.status === 'AWAITING_PROMOTION') {
    offered.push({ action: 'promote', permission: own ? { allowed: false, reason: ownReason } : ALLOWED });
  }
  return offered;
}
