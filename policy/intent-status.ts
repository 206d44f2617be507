/** Lifecycle of a deployment intent, as the workflow drives it and the read model shows it. */
export const INTENT_STATUSES = [
  'SUBMITTED',
  'AWAITING_CAB',
  'APPROVED',
  'DEPLOYING',
  'SOAKING',
  'AWAITING_PROMOTION',
  'PAUSED',
  'ROLLING_BACK',
  'COMPLETED',
  'REJECTED',
  'EXPIRED',
  'ROLLED_BACK',
  'FAILED',
  'ABORTED',
] as const;
export type IntentStatus = (typeof INTENT_STATUSES)[number];

export const TERMINAL_STATUSES: readonly IntentStatus[] = [
  'COMPLETED',
  'REJECTED',
  'EXPIRED',
  'ROLLED_BACK',
  'FAILED',
  'ABORTED',
];

export function isTerminal(status: IntentStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}
