/**
 * Which audit events are forwarded to the SIEM (docs/audit.md, "SIEM forwarding"): the privileged and
 * security-relevant ones. Every event stays in the audit trail; these are also queued in the SIEM outbox
 * in the transaction that appends them, when a SIEM is configured.
 */
export const SIEM_FORWARDED_EVENT_TYPES: ReadonlySet<string> = new Set([
  // Sign-in and refusals.
  'SIGNED_IN',
  'SIGN_IN_FAILED',
  'SIGNED_OUT',
  'DEV_LOGIN',
  'AUTHZ_DENIED',
  // CAB decisions (and an intent the CAB let expire).
  'CAB_DECIDED',
  'CAB_APPROVAL_RECORDED',
  'CAB_DECISION_REFUSED',
  'EXPIRED',
  // Risk models.
  'RISK_MODEL_CREATED',
  'RISK_MODEL_ACTIVATED',
  // Credentials and tenant directories.
  'CONNECTOR_CREDENTIAL_ISSUED',
  'CONNECTOR_CREDENTIAL_REVOKED',
  'TENANT_DIRECTORY_LINKED',
  'TENANT_DIRECTORY_UNLINKED',
  // Operator control: pause, resume, abort, manual promotion.
  'PAUSE_REQUESTED',
  'PAUSED',
  'RESUME_REQUESTED',
  'RESUMED',
  'ABORT_REQUESTED',
  'ABORTED',
  'RING_ABORTED',
  'PROMOTION_GRANTED',
  // Rollbacks.
  'ROLLBACK_STARTED',
  'RING_ROLLBACK_STARTED',
  'RING_ROLLED_BACK',
  'RING_ROLLBACK_FAILED',
  'ROLLED_BACK',
]);

/** The record kind of a daily chain anchor: a tenant's audit chain head, so a rewritten chain is detectable. */
export const CHAIN_ANCHOR_EVENT_TYPE = 'AUDIT_CHAIN_ANCHOR';

export function isSiemForwarded(eventType: string): boolean {
  return SIEM_FORWARDED_EVENT_TYPES.has(eventType);
}

/** The stable id of a forwarded event: the same on every resend, so the SIEM side can recognise duplicates. */
export function siemEventRecordId(tenantId: string, eventId: number): string {
  return `${tenantId}:event:${String(eventId)}`;
}

/** The stable id of a tenant's chain anchor for one UTC day: one anchor per tenant and day. */
export function siemAnchorRecordId(tenantId: string, day: string): string {
  return `${tenantId}:anchor:${day}`;
}

/** The UTC calendar day (YYYY-MM-DD) an instant falls on. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/**
 * The wait before retry number `attempt` (1 for the first retry): doubling from `baseMs`, at most `maxMs`,
 * and never shorter than the SIEM's own Retry-After when it gave one.
 */
export function siemRetryDelayMs(
  attempt: number,
  options: { readonly baseMs: number; readonly maxMs: number; readonly retryAfterMs?: number },
): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const backoff = Math.min(options.baseMs * 2 ** exponent, options.maxMs);
  return Math.max(backoff, options.retryAfterMs ?? 0);
}
