import type { z } from 'zod';
import type { Platform } from '../../policy/connectors';
import { evidencePackSchema } from '../../policy/evidence-pack';
import type { EvidencePack } from '../../policy/evidence-pack';
import type { Ring } from '../../policy/rings';
import { evaluateFactor, isScanExceptionExpired } from '../../policy/risk-factors';
import { RISK_FACTOR_IDS, RISK_MODEL_V1 } from '../../policy/risk-model';
import type { RiskFactorDefinition, RiskFactorId } from '../../policy/risk-model';
import type { RiskInput } from '../../policy/risk-scoring';

type EvidencePackInput = z.input<typeof evidencePackSchema>;
type FactorOf<Id extends RiskFactorId> = Extract<RiskFactorDefinition, { id: Id }>;

const AS_OF = '2025-06-01T12:00:00.000Z';
const DAY_MS = 86_400_000;

function v1Factor<Id extends RiskFactorId>(id: Id): FactorOf<Id> {
  return RISK_MODEL_V1.factors.find((factor): factor is FactorOf<Id> => factor.id === id)!;
}

function pack(evidence: EvidencePackInput): EvidencePack {
  return evidencePackSchema.parse(evidence);
}

function input(overrides: Partial<RiskInput> = {}): RiskInput {
  return { evidence: {}, targetRing: 'LAB', targetPlatforms: ['windows'], asOf: AS_OF, ...overrides };
}

function evaluateV1(id: RiskFactorId, overrides: Partial<RiskInput>) {
  return evaluateFactor(v1Factor(id), input(overrides));
}

function hoursAfterAsOf(hours: number): string {
  return new Date(Date.parse(AS_OF) + hours * 3_600_000).toISOString();
}

describe('missing evidence', () => {
  it.each(RISK_FACTOR_IDS.filter((id) => id !== 'blast_radius'))(
    'scores %s as 1 when the evidence pack is empty',
    (id) => {
      const { score, rationale } = evaluateV1(id, { evidence: {} });
      expect(score).toBe(1);
      expect(rationale).not.toBe('');
    },
  );
});

describe('privilege elevation', () => {
  it.each<[string, number, EvidencePackInput['privileges']]>([
    ['requiring admin', 1, { requires_admin: true, requests_elevation: false }],
    ['requiring admin and requesting elevation', 1, { requires_admin: true, requests_elevation: true }],
    ['requesting elevation', 0.5, { requires_admin: false, requests_elevation: true }],
    ['needing neither', 0, { requires_admin: false, requests_elevation: false }],
    ['missing from the pack', 1, undefined],
  ])('scores privilege elevation %s as %d', (_case, expected, privileges) => {
    expect(evaluateV1('privilege_elevation', { evidence: pack({ privileges }) }).score).toBe(expected);
  });

  it('says missing privileges are treated as the worst case', () => {
    expect(evaluateV1('privilege_elevation', { evidence: {} }).rationale).toMatch(
      /privileges missing.*worst case/,
    );
  });
});

describe('blast radius', () => {
  it.each<[Ring, number]>([
    ['LAB', 0],
    ['CANARY', 0.2],
    ['PILOT', 0.4],
    ['DEPARTMENT', 0.7],
    ['GLOBAL', 1],
  ])('scores blast radius of ring %s without a device count as %d', (targetRing, expected) => {
    const { score, rationale } = evaluateV1('blast_radius', { targetRing });
    expect(score).toBe(expected);
    expect(rationale).toContain('no device count');
  });

  it.each<[Ring, number, number]>([
    ['LAB', 0, 0],
    ['LAB', 99, 0],
    ['CANARY', 99, 0.2],
    ['CANARY', 100, 0.3],
    ['CANARY', 999, 0.3],
    ['CANARY', 1_000, 0.6],
    ['CANARY', 9_999, 0.6],
    ['CANARY', 10_000, 1],
    ['LAB', 250_000, 1],
    ['DEPARTMENT', 500, 0.7],
    ['GLOBAL', 1, 1],
  ])('scores blast radius of ring %s with %d devices as %d', (targetRing, targetDeviceCount, expected) => {
    expect(evaluateV1('blast_radius', { targetRing, targetDeviceCount }).score).toBe(expected);
  });

  it('takes the highest band reached even when the bands are listed out of order', () => {
    const base = v1Factor('blast_radius');
    const shuffled: FactorOf<'blast_radius'> = {
      ...base,
      rubric: {
        ...base.rubric,
        device_count_bands: [
          { min_devices: 1_000, score: 0.6 },
          { min_devices: 100, score: 0.3 },
        ],
      },
    };
    expect(evaluateFactor(shuffled, input({ targetDeviceCount: 5_000 })).score).toBe(0.6);
  });
});

describe('vulnerability exposure', () => {
  it.each<[string, number, { critical: number; high: number; medium: number; low?: number }]>([
    ['no findings', 0, { critical: 0, high: 0, medium: 0 }],
    ['only low findings', 0, { critical: 0, high: 0, medium: 0, low: 500 }],
    ['1 medium', 0.05, { critical: 0, high: 0, medium: 1 }],
    ['3 medium', 0.15, { critical: 0, high: 0, medium: 3 }],
    ['19 medium', 0.95, { critical: 0, high: 0, medium: 19 }],
    ['20 medium', 1, { critical: 0, high: 0, medium: 20 }],
    ['21 medium', 1, { critical: 0, high: 0, medium: 21 }],
    ['1 high', 0.25, { critical: 0, high: 1, medium: 0 }],
    ['3 high', 0.75, { critical: 0, high: 3, medium: 0 }],
    ['4 high', 1, { critical: 0, high: 4, medium: 0 }],
    ['2 high and 5 medium', 0.75, { critical: 0, high: 2, medium: 5 }],
    ['1 critical', 1, { critical: 1, high: 0, medium: 0 }],
    ['12 critical', 1, { critical: 12, high: 3, medium: 40 }],
  ])('scores vulnerability exposure of %s as %d', (_case, expected, counts) => {
    const evidence = pack({
      scan_results: { tool: 'Trivy', scanned_at: '2025-05-31T08:00:00Z', ...counts },
    });
    expect(evaluateV1('vulnerability_exposure', { evidence }).score).toBe(expected);
  });

  it('names the scanner and the counts in the rationale', () => {
    const evidence = pack({
      scan_results: { tool: 'Trivy', scanned_at: '2025-05-31T08:00:00Z', critical: 0, high: 2, medium: 5 },
    });
    expect(evaluateV1('vulnerability_exposure', { evidence }).rationale).toBe(
      'Trivy found 0 critical, 2 high and 5 medium vulnerabilities',
    );
  });
});

describe('scan policy decision', () => {
  const exception = (expiresAt: string): EvidencePackInput['scan_decision'] => ({
    decision: 'EXCEPTION',
    exception_id: 'EXC-42',
    expires_at: expiresAt,
    compensating_controls: ['EDR in block mode', 'network egress restricted'],
    approved_by: 'ciso@example.com',
  });

  it.each<[string, number, EvidencePackInput['scan_decision']]>([
    ['PASS', 0, { decision: 'PASS' }],
    ['FAIL', 1, { decision: 'FAIL', reason: 'critical CVE-2025-0001' }],
    ['FAIL without a reason', 1, { decision: 'FAIL' }],
    ['an EXCEPTION valid for 30 more days', 0.5, exception(hoursAfterAsOf(30 * 24))],
    [
      'an EXCEPTION expiring 7 days and 1 ms after asOf',
      0.5,
      exception(new Date(Date.parse(AS_OF) + 7 * DAY_MS + 1).toISOString()),
    ],
    ['an EXCEPTION expiring exactly 7 days after asOf', 0.75, exception(hoursAfterAsOf(7 * 24))],
    ['an EXCEPTION expiring 1 ms after asOf', 0.75, exception('2025-06-01T12:00:00.001Z')],
    ['an EXCEPTION expiring exactly at asOf', 1, exception(AS_OF)],
    ['an EXCEPTION expiring at asOf written in another offset', 1, exception('2025-06-01T14:00:00+02:00')],
    ['an EXCEPTION that expired a day before asOf', 1, exception(hoursAfterAsOf(-24))],
    ['missing from the pack', 1, undefined],
  ])('scores scan policy decision %s as %d', (_case, expected, scan_decision) => {
    expect(evaluateV1('scan_policy_decision', { evidence: pack({ scan_decision }) }).score).toBe(expected);
  });

  it.each<[string, string]>([
    ['FAIL', 'the scan policy failed: critical CVE-2025-0001'],
    ['an expired EXCEPTION', `exception EXC-42 expired at ${AS_OF} (as of ${AS_OF})`],
    ['a live EXCEPTION', 'exception EXC-42 approved by ciso@example.com with 2 compensating control(s)'],
  ])('explains a scan policy decision of %s', (decision, rationale) => {
    const scan_decision: EvidencePackInput['scan_decision'] =
      decision === 'FAIL'
        ? { decision: 'FAIL', reason: 'critical CVE-2025-0001' }
        : exception(decision === 'a live EXCEPTION' ? hoursAfterAsOf(30 * 24) : AS_OF);
    expect(evaluateV1('scan_policy_decision', { evidence: pack({ scan_decision }) }).rationale).toContain(
      rationale,
    );
  });

  it('treats an exception as expired when asOf is not a timestamp', () => {
    const evidence = pack({ scan_decision: exception(hoursAfterAsOf(30 * 24)) });
    expect(evaluateV1('scan_policy_decision', { evidence, asOf: 'yesterday' }).score).toBe(1);
  });
});

describe('isScanExceptionExpired', () => {
  it.each<[string, string, boolean]>([
    ['2025-06-01T11:59:59.999Z', 'an instant before asOf', true],
    [AS_OF, 'exactly asOf', true],
    ['2025-06-01T12:00:00.001Z', 'an instant after asOf', false],
    ['2025-06-01T13:00:00+02:00', 'an hour before asOf in another offset', true],
    ['not-a-date', 'an unreadable time', true],
  ])('says an exception expiring at %s (%s) expired: %s', (expiresAt, _case, expected) => {
    expect(isScanExceptionExpired(expiresAt, AS_OF)).toBe(expected);
  });
});

describe('code signing', () => {
  it.each<[string, number, EvidencePackInput['signature']]>([
    ['signed by a trusted publisher', 0, { status: 'TRUSTED_PUBLISHER', publisher: 'Contoso Ltd' }],
    ['signed by an unnamed trusted publisher', 0, { status: 'TRUSTED_PUBLISHER' }],
    ['signed by an untrusted signer', 0.7, { status: 'UNTRUSTED', publisher: 'Someone' }],
    ['unsigned', 1, { status: 'UNSIGNED' }],
    ['missing from the pack', 1, undefined],
  ])('scores code signing %s as %d', (_case, expected, signature) => {
    expect(evaluateV1('code_signing', { evidence: pack({ signature }) }).score).toBe(expected);
  });

  it.each<[EvidencePackInput['signature'], string]>([
    [{ status: 'TRUSTED_PUBLISHER', publisher: 'Contoso Ltd' }, 'signed by trusted publisher Contoso Ltd'],
    [{ status: 'TRUSTED_PUBLISHER' }, 'signed by trusted publisher (unnamed)'],
  ])('names the trusted publisher of %j', (signature, rationale) => {
    expect(evaluateV1('code_signing', { evidence: pack({ signature }) }).rationale).toBe(rationale);
  });
});

describe('supply chain', () => {
  it.each<[string, number, EvidencePackInput['sbom']]>([
    ['a complete SBOM', 0, { format: 'cyclonedx', component_count: 42, complete: true }],
    ['a complete SBOM of 1 component', 0, { format: 'spdx', component_count: 1, complete: true }],
    ['a "complete" SBOM listing no components', 0.5, { format: 'spdx', component_count: 0, complete: true }],
    ['an incomplete SBOM', 0.5, { format: 'cyclonedx', component_count: 42, complete: false }],
    ['a missing SBOM', 1, undefined],
  ])('scores supply chain with %s as %d', (_case, expected, sbom) => {
    expect(evaluateV1('supply_chain', { evidence: pack({ sbom }) }).score).toBe(expected);
  });
});

describe('rollback readiness', () => {
  type Step = NonNullable<EvidencePackInput['rollback_plan']>['steps'][number];
  const step = (platform: Platform, tested: boolean): Step => ({
    platform,
    strategy: 'UNINSTALL',
    instructions: 'uninstall the new version',
    tested,
  });

  it.each<[string, number, Platform[], Step[] | undefined]>([
    ['a tested step for the only platform', 0, ['windows'], [step('windows', true)]],
    ['an untested step for the only platform', 0.4, ['windows'], [step('windows', false)]],
    [
      'tested steps for both platforms',
      0,
      ['windows', 'macos'],
      [step('windows', true), step('macos', true)],
    ],
    [
      'one tested and one untested step for a platform',
      0.4,
      ['windows'],
      [step('windows', true), step('windows', false)],
    ],
    ['no step for the second platform', 1, ['windows', 'macos'], [step('windows', true)]],
    ['steps only for another platform', 1, ['linux'], [step('windows', true)]],
    [
      'an untested step only for a platform not targeted',
      0,
      ['windows'],
      [step('windows', true), step('linux', false)],
    ],
    ['a plan but no target platforms', 1, [], [step('windows', true)]],
    ['no rollback plan', 1, ['windows'], undefined],
  ])('scores rollback readiness with %s as %d', (_case, expected, targetPlatforms, steps) => {
    const evidence = pack({ rollback_plan: steps === undefined ? undefined : { steps } });
    expect(evaluateV1('rollback_readiness', { evidence, targetPlatforms }).score).toBe(expected);
  });

  it.each<[string, Platform[], Step[], string]>([
    [
      'uncovered',
      ['windows', 'macos', 'linux'],
      [step('windows', true)],
      'no rollback step for macos, linux',
    ],
    [
      'untested',
      ['macos', 'windows'],
      [step('windows', false), step('macos', false)],
      'untested rollback steps for macos, windows',
    ],
    ['covered', ['windows', 'windows'], [step('windows', true)], 'tested rollback steps for windows'],
  ])('names the %s platforms once each', (_case, targetPlatforms, steps, rationale) => {
    const evidence = pack({ rollback_plan: { steps } });
    expect(evaluateV1('rollback_readiness', { evidence, targetPlatforms }).rationale).toBe(rationale);
  });
});

describe('test evidence', () => {
  type Run = NonNullable<EvidencePackInput['test_evidence']>['lab'];
  const labPassed: Run = { status: 'PASSED', devices_tested: 3, success_rate: 1 };
  const ring0Passed: Run = { status: 'PASSED', devices_tested: 25, success_rate: 0.99 };

  it.each<[string, number, Run, Run]>([
    ['lab and ring 0 passed', 0, labPassed, ring0Passed],
    ['no lab results', 0.4, undefined, ring0Passed],
    ['lab NOT_RUN', 0.4, { status: 'NOT_RUN' }, ring0Passed],
    ['lab FAILED', 0.4, { status: 'FAILED', devices_tested: 3, success_rate: 0.5 }, ring0Passed],
    ['lab passed on 0 devices', 0.2, { status: 'PASSED', success_rate: 1 }, ring0Passed],
    [
      'lab passed on exactly 1 device',
      0,
      { status: 'PASSED', devices_tested: 1, success_rate: 1 },
      ring0Passed,
    ],
    ['lab passed at 0.99', 0.2, { status: 'PASSED', devices_tested: 3, success_rate: 0.99 }, ring0Passed],
    ['lab passed without a success rate', 0.2, { status: 'PASSED', devices_tested: 3 }, ring0Passed],
    ['no ring 0 results', 0.6, labPassed, undefined],
    ['ring 0 NOT_RUN', 0.6, labPassed, { status: 'NOT_RUN' }],
    ['ring 0 FAILED', 0.6, labPassed, { status: 'FAILED', devices_tested: 25, success_rate: 0.9 }],
    ['ring 0 passed on 9 devices', 0.3, labPassed, { status: 'PASSED', devices_tested: 9, success_rate: 1 }],
    [
      'ring 0 passed on exactly 10 devices at exactly 0.98',
      0,
      labPassed,
      { status: 'PASSED', devices_tested: 10, success_rate: 0.98 },
    ],
    ['ring 0 passed at 0.979', 0.3, labPassed, { status: 'PASSED', devices_tested: 25, success_rate: 0.979 }],
    ['ring 0 passed without a success rate', 0.3, labPassed, { status: 'PASSED', devices_tested: 25 }],
    [
      'both passed with a shortfall',
      0.5,
      { status: 'PASSED', devices_tested: 3 },
      { status: 'PASSED', devices_tested: 9, success_rate: 1 },
    ],
    ['both FAILED', 1, { status: 'FAILED' }, { status: 'FAILED' }],
  ])('scores test evidence with %s as %d', (_case, expected, lab, ring0) => {
    const evidence = pack({ test_evidence: { lab, ring0 } });
    expect(evaluateV1('test_evidence', { evidence }).score).toBe(expected);
  });

  it('explains both runs', () => {
    const evidence = pack({
      test_evidence: { lab: labPassed, ring0: { status: 'PASSED', devices_tested: 25, success_rate: 0.97 } },
    });
    expect(evaluateV1('test_evidence', { evidence }).rationale).toBe(
      'lab: passed on 3 devices at success rate 1; ring 0: passed at success rate 0.97, below 0.98',
    );
  });
});

describe('factor score bounds', () => {
  const privilege = v1Factor('privilege_elevation');
  const vulnerability = v1Factor('vulnerability_exposure');
  const criticalScan = pack({
    scan_results: { tool: 'Trivy', scanned_at: '2025-05-31T08:00:00Z', critical: 3, high: 0, medium: 0 },
  });

  // Models reach scoring already validated; these rubrics bypass the schema to prove the bounds hold anyway.
  it.each<[string, RiskFactorDefinition, EvidencePack, number]>([
    ['a rubric score above 1', { ...privilege, rubric: { ...privilege.rubric, missing: 7 } }, {}, 1],
    ['a negative rubric score', { ...privilege, rubric: { ...privilege.rubric, missing: -3 } }, {}, 0],
    ['a NaN rubric score', { ...privilege, rubric: { ...privilege.rubric, missing: Number.NaN } }, {}, 1],
    [
      'a per-finding score summing above 1',
      { ...vulnerability, rubric: { ...vulnerability.rubric, per_critical: 0.9 } },
      criticalScan,
      1,
    ],
  ])('keeps the factor score within [0, 1] given %s', (_case, factor, evidence, expected) => {
    expect(evaluateFactor(factor, input({ evidence })).score).toBe(expected);
  });
});
