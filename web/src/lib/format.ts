import type { IntentStatus } from '../api/model';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A duration in words a person reads at a glance: "2 d 3 h", "1 h 5 min", "45 s". */
export function durationInWords(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  if (total >= DAY) {
    const days = Math.floor(total / DAY);
    const hours = Math.floor((total % DAY) / HOUR);
    return hours === 0 ? `${String(days)} d` : `${String(days)} d ${String(hours)} h`;
  }
  if (total >= HOUR) {
    const hours = Math.floor(total / HOUR);
    const minutes = Math.floor((total % HOUR) / MINUTE);
    return minutes === 0 ? `${String(hours)} h` : `${String(hours)} h ${String(minutes)} min`;
  }
  if (total >= MINUTE) return `${String(Math.floor(total / MINUTE))} min`;
  return `${String(Math.floor(total / 1000))} s`;
}

/** A countdown to the second, for a timer a person watches move: "2 h 5 min 3 s", "4 min 0 s", "45 s". */
export function countdownInWords(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  if (total * 1000 >= DAY) return durationInWords(total * 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (hours > 0) return `${String(hours)} h ${String(minutes)} min ${String(seconds)} s`;
  if (minutes > 0) return `${String(minutes)} min ${String(seconds)} s`;
  return `${String(seconds)} s`;
}

/** Time left before a deadline: "3 h 20 min left", or how long ago it passed. */
export function timeLeft(deadline: string, now: number): string {
  const remaining = Date.parse(deadline) - now;
  if (Number.isNaN(remaining)) return 'unknown';
  return remaining >= 0 ? `${durationInWords(remaining)} left` : `overdue by ${durationInWords(-remaining)}`;
}

/** A timestamp as UTC, the same for every reader: "2026-11-28 16:40:05 UTC". */
export function dateTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A rate between 0 and 1 as a percentage with at most one decimal. */
export function percent(rate: number): string {
  return `${String(Math.round(rate * 1000) / 10)} %`;
}

/** "AWAITING_CAB" → "Awaiting CAB". */
export function statusLabel(status: string): string {
  const words = status.toLowerCase().split('_');
  return words
    .map((word, index) =>
      word === 'cab' ? 'CAB' : index === 0 ? word.charAt(0).toUpperCase() + word.slice(1) : word,
    )
    .join(' ');
}

const ROLE_LABELS: Readonly<Record<string, string>> = {
  submitter: 'Submitter (packager)',
  cab_member: 'CAB member',
  operator: 'Operator',
  auditor: 'Auditor',
  admin: 'Administrator',
  connector: 'Connector',
  metrics_reader: 'Metrics reader',
};

export function roleLabel(role: string): string {
  return ROLE_LABELS[role] ?? role;
}

/** The tone a status badge takes: good, bad, waiting or neutral. */
export function statusTone(status: IntentStatus): 'good' | 'bad' | 'waiting' | 'active' {
  switch (status) {
    case 'COMPLETED':
    case 'APPROVED':
      return 'good';
    case 'REJECTED':
    case 'EXPIRED':
    case 'ROLLED_BACK':
    case 'FAILED':
    case 'ABORTED':
    case 'ROLLING_BACK':
      return 'bad';
    case 'AWAITING_CAB':
    case 'AWAITING_PROMOTION':
    case 'PAUSED':
      return 'waiting';
    case 'SUBMITTED':
    case 'DEPLOYING':
    case 'SOAKING':
      return 'active';
  }
}
