import type { AuditEvent, IntentDetail, Ring, RingDeployment } from '../api/model';
import { RINGS } from '../api/model';

export type RingState = 'done' | 'running' | 'failed' | 'rolled-back' | 'planned' | 'skipped';

export interface RingStep {
  readonly ring: Ring;
  readonly state: RingState;
  readonly deploy: RingDeployment | undefined;
  readonly rollback: RingDeployment | undefined;
}

/** The last ring this rollout may reach: its target, or the CAB's max_ring when lower. */
export function finalRing(intent: Pick<IntentDetail, 'target_ring' | 'cab'>): Ring {
  const cap = intent.cab?.conditions?.max_ring;
  if (cap === undefined) return intent.target_ring;
  return RINGS.indexOf(cap) < RINGS.indexOf(intent.target_ring) ? cap : intent.target_ring;
}

function latest(rows: readonly RingDeployment[]): RingDeployment | undefined {
  return [...rows].sort((a, b) => b.attempt - a.attempt || b.started_at.localeCompare(a.started_at))[0];
}

/** One step per ring up to the target, with its deployment and rollback and a state to show. */
export function ringTimeline(intent: Pick<IntentDetail, 'target_ring' | 'cab' | 'rings'>): RingStep[] {
  const last = RINGS.indexOf(finalRing(intent));
  return RINGS.slice(0, RINGS.indexOf(intent.target_ring) + 1).map((ring, index) => {
    const deploy = latest(intent.rings.filter((row) => row.ring === ring && row.action === 'DEPLOY'));
    const rollback = latest(intent.rings.filter((row) => row.ring === ring && row.action === 'ROLLBACK'));
    let state: RingState;
    if (index > last) state = 'skipped';
    else if (rollback !== undefined) state = 'rolled-back';
    else if (deploy === undefined) state = 'planned';
    else if (deploy.outcome === 'FAILED' || deploy.gate?.passed === false || deploy.status === 'TIMED_OUT')
      state = 'failed';
    else if (deploy.status === 'REPORTED' && deploy.outcome === 'SUCCEEDED') state = 'done';
    else state = 'running';
    return { ring, state, deploy, rollback };
  });
}

/** When the soak of the ring soaking now ends (from its SOAK_STARTED event), if the rollout soaks. */
export function soakEndsAt(intent: Pick<IntentDetail, 'status' | 'recent_events'>): number | undefined {
  if (intent.status !== 'SOAKING') return undefined;
  const started = [...intent.recent_events]
    .reverse()
    .find((event: AuditEvent) => event.event_type === 'SOAK_STARTED');
  const soakMs = started?.payload.soakMs;
  if (started === undefined || typeof soakMs !== 'number') return undefined;
  return Date.parse(started.occurred_at) + soakMs;
}

/** A ring's rollback in words: where it stands and what the connector reported. */
export function rollbackInWords(row: RingDeployment): string {
  const counts = `${String(row.success_count)} devices rolled back, ${String(row.failure_count)} failed`;
  switch (row.status) {
    case 'REPORTED':
      return `${row.outcome === 'FAILED' ? 'Failed' : 'Done'}: ${counts}`;
    case 'TIMED_OUT':
      return `Timed out: ${counts}`;
    case 'CANCELLED':
      return 'Cancelled';
    default:
      return `Waiting for ${row.connector_type}: ${counts} so far`;
  }
}

/** The steps of a rollback plan that apply to a ring's row: those of the platforms it deployed to. */
export function planStepsFor<Step extends { platform: string }>(
  row: Pick<RingDeployment, 'platforms'>,
  steps: readonly Step[],
): Step[] {
  return steps.filter((step) => row.platforms.some((platform) => platform === step.platform));
}

/** How often the detail page asks again: every 2 s while anything can still change, never after. */
export function refreshInterval(intent: Pick<IntentDetail, 'status'> | undefined): number | undefined {
  if (intent === undefined) return 2000;
  return ['COMPLETED', 'REJECTED', 'EXPIRED', 'ROLLED_BACK', 'FAILED', 'ABORTED'].includes(intent.status)
    ? undefined
    : 2000;
}

const RULES: Readonly<Record<string, string>> = {
  min_success_rate: 'success rate',
  min_devices: 'reporting devices',
  max_time_to_compliance: 'time to compliance',
};

/** A gate check's rule in words, and its numbers formatted for that rule. */
export function gateCheckInWords(check: { rule: string; actual: number; required: number }): {
  rule: string;
  actual: string;
  required: string;
} {
  const format = (value: number) =>
    check.rule === 'min_success_rate'
      ? `${String(Math.round(value * 1000) / 10)} %`
      : check.rule === 'max_time_to_compliance'
        ? `${String(Math.round(value / 1000))} s`
        : String(value);
  const prefix = check.rule.startsWith('max_') ? 'at most ' : 'at least ';
  return {
    rule: RULES[check.rule] ?? check.rule,
    actual: format(check.actual),
    required: prefix + format(check.required),
  };
}
