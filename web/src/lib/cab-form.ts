import type { CabDecisionRequest, CabQueueItem, Ring } from '../api/model';

export type DecisionChoice = 'APPROVED' | 'REJECTED' | 'CONDITIONAL';

export interface CabForm {
  readonly decision: DecisionChoice;
  readonly comments: string;
  readonly maxRing: Ring | '';
  readonly extraSoak: string;
  readonly manualPromotion: boolean;
}

export const EMPTY_CAB_FORM: CabForm = {
  decision: 'APPROVED',
  comments: '',
  maxRing: '',
  extraSoak: '',
  manualPromotion: false,
};

/** The request a CAB form makes, or the reason it cannot be sent yet (named by the field to fix). */
export function cabDecisionRequest(
  form: CabForm,
): { request: CabDecisionRequest } | { field: 'conditions' | 'comments'; message: string } {
  const comments = form.comments.trim();
  if (form.decision === 'REJECTED' && comments === '') {
    return { field: 'comments', message: 'Say why the change is rejected: the submitter reads it.' };
  }
  if (form.decision !== 'CONDITIONAL') {
    return { request: { decision: form.decision, ...(comments === '' ? {} : { comments }) } };
  }
  const conditions = {
    ...(form.maxRing === '' ? {} : { max_ring: form.maxRing }),
    ...(form.extraSoak.trim() === '' ? {} : { extra_soak: form.extraSoak.trim() }),
    ...(form.manualPromotion ? { manual_promotion: true } : {}),
  };
  if (Object.keys(conditions).length === 0) {
    return { field: 'conditions', message: 'Approving with conditions needs at least one condition.' };
  }
  return { request: { decision: 'CONDITIONAL', conditions, ...(comments === '' ? {} : { comments }) } };
}

/** What the API's answer to a decision means, in words. */
export function verdictInWords(verdict: {
  decision: string;
  status: string;
  approvers?: readonly string[];
  required_approvals?: number;
}): string {
  const approvals = verdict.approvers?.length ?? 0;
  const required = verdict.required_approvals ?? 1;
  if (verdict.status === 'AWAITING_CAB' && verdict.decision !== 'REJECTED' && approvals < required) {
    const missing = required - approvals;
    return (
      `Your approval is recorded: ${String(approvals)} of ${String(required)} approvals. ` +
      `${missing === 1 ? 'One more CAB member' : `${String(missing)} more CAB members`} must approve before ` +
      'the rollout starts.'
    );
  }
  switch (verdict.decision) {
    case 'APPROVED':
      return `Approved. The rollout continues (${verdict.status.toLowerCase().replace(/_/g, ' ')}).`;
    case 'CONDITIONAL':
      return `Approved with conditions. The rollout continues (${verdict.status.toLowerCase().replace(/_/g, ' ')}).`;
    default:
      return 'Rejected. The intent ends here.';
  }
}

/** How far an intent's quorum is: approvals taken and needed, and whether this member is among them. */
export function quorumInWords(
  item: Pick<CabQueueItem, 'approvals' | 'required_approvals'>,
  memberId: string,
): { text: string; approvedByMember: boolean } {
  const approvers = item.approvals.map((approval) => approval.approver_id);
  const approvedByMember = approvers.includes(memberId);
  const needed = item.required_approvals;
  const count = `${String(approvers.length)} of ${String(needed)} approval${needed === 1 ? '' : 's'}`;
  const names = approvers.map((id) => (id === memberId ? `${id} (you)` : id));
  return {
    text: names.length === 0 ? `${count} so far` : `${count} so far: ${names.join(', ')}`,
    approvedByMember,
  };
}
