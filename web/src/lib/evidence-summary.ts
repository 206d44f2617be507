import type { Schemas } from '../api/model';
import { dateTime, percent, timeLeft } from './format';

type EvidenceSummary = Schemas['EvidenceSummary'];
type TestRun = NonNullable<EvidenceSummary['test_evidence']['lab']>;

export interface EvidenceLine {
  readonly label: string;
  readonly text: string;
  /** false when a CAB member should look twice. */
  readonly ok: boolean;
}

function signature(status: EvidenceSummary['signature_status']): EvidenceLine {
  switch (status) {
    case 'TRUSTED_PUBLISHER':
      return { label: 'Signature', text: 'signed by a trusted publisher', ok: true };
    case 'UNTRUSTED':
      return { label: 'Signature', text: 'signed, but not by a trusted publisher', ok: false };
    case 'UNSIGNED':
      return { label: 'Signature', text: 'unsigned', ok: false };
    case null:
      return { label: 'Signature', text: 'missing', ok: false };
  }
}

function scan(summary: EvidenceSummary, now: number): EvidenceLine {
  const counts =
    summary.vulnerabilities === null
      ? 'no scan results'
      : `${String(summary.vulnerabilities.critical)} critical, ${String(summary.vulnerabilities.high)} high, ${String(summary.vulnerabilities.medium)} medium`;
  switch (summary.scan_decision) {
    case 'PASS':
      return {
        label: 'Vulnerability scan',
        text: `${counts}; passed`,
        ok: summary.vulnerabilities?.critical === 0,
      };
    case 'FAIL':
      return { label: 'Vulnerability scan', text: `${counts}; failed`, ok: false };
    case 'EXCEPTION': {
      const expiry = summary.exception_expires_at;
      const until =
        expiry === undefined ? 'no expiry given' : `expires ${dateTime(expiry)} (${timeLeft(expiry, now)})`;
      return { label: 'Vulnerability scan', text: `${counts}; accepted by exception, ${until}`, ok: false };
    }
    case null:
      return { label: 'Vulnerability scan', text: `${counts}; no decision`, ok: false };
  }
}

function testRun(name: string, run: TestRun | null): string {
  if (run === null) return `${name}: not reported`;
  const rate = run.success_rate === null ? '' : `, ${percent(run.success_rate)} success`;
  return `${name}: ${run.status.toLowerCase().replace('_', ' ')} on ${String(run.devices_tested)} devices${rate}`;
}

/** The evidence summary of a CAB queue item as lines a CAB member reads top to bottom. */
export function evidenceLines(summary: EvidenceSummary, now: number): EvidenceLine[] {
  const { lab, ring0 } = summary.test_evidence;
  return [
    signature(summary.signature_status),
    {
      label: 'SBOM',
      text:
        summary.sbom_component_count === null
          ? 'missing'
          : `${String(summary.sbom_component_count)} components, ${summary.sbom_complete ? 'complete' : 'incomplete'}`,
      ok: summary.sbom_complete,
    },
    scan(summary, now),
    {
      label: 'Rollback plan',
      text:
        summary.rollback_platforms.length === 0
          ? 'none'
          : `${summary.rollback_platforms.join(', ')}; ${summary.rollback_tested ? 'every step tested' : 'not every step tested'}`,
      ok: summary.rollback_platforms.length > 0 && summary.rollback_tested,
    },
    {
      label: 'Test evidence',
      text: `${testRun('lab', lab)}; ${testRun('ring 0', ring0)}`,
      ok: lab?.status === 'PASSED' && ring0?.status !== 'FAILED',
    },
    ...(summary.missing_evidence.length === 0
      ? []
      : [{ label: 'Missing', text: summary.missing_evidence.join(', '), ok: false }]),
  ];
}
