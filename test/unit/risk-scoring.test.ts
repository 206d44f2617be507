import type { z } from 'zod';
import { evidencePackSchema } from '../../policy/evidence-pack';
import type { EvidencePack } from '../../policy/evidence-pack';
import { RISK_FACTOR_IDS, RISK_MODEL_V1 } from '../../policy/risk-model';
import type { RiskModelDefinition } from '../../policy/risk-model';
import { requiresCab, scoreRisk } from '../../policy/risk-scoring';
import type { AutoApprovalBlocker, RiskInput } from '../../policy/risk-scoring';

type EvidencePackInput = z.input<typeof evidencePackSchema>;

const AS_OF = '2025-06-01T12:00:00.000Z';

function pack(evidence: EvidencePackInput): EvidencePack {
  return evidencePackSchema.parse(evidence);
}

/** A pack that scores 0 on every v1.0 factor when targeting LAB on windows. */
const CLEAN_EVIDENCE: EvidencePackInput = {
  artifact_hash: 'ab'.repeat(32),
  artifact_storage_url: 'https://artifacts.example.com/contoso-vpn-5.2.1.msi',
  signature: { status: 'TRUSTED_PUBLISHER', publisher: 'Contoso Ltd' },
  sbom: { format: 'cyclonedx', component_count: 42, complete: true },
  scan_results: { tool: 'Trivy', scanned_at: '2025-05-31T08:00:00Z', critical: 0, high: 0, medium: 0 },
  scan_decision: { decision: 'PASS' },
  privileges: { requires_admin: false, requests_elevation: false },
  rollback_plan: {
    steps: [
      { platform: 'windows', strategy: 'UNINSTALL', instructions: 'msiexec /x {product-code}', tested: true },
    ],
  },
  test_evidence: {
    lab: { status: 'PASSED', devices_tested: 3, success_rate: 1 },
    ring0: { status: 'PASSED', devices_tested: 25, success_rate: 0.99 },
  },
};

function input(evidence: EvidencePackInput, overrides: Partial<RiskInput> = {}): RiskInput {
  return {
    evidence: pack(evidence),
    targetRing: 'LAB',
    targetPlatforms: ['windows'],
    asOf: AS_OF,
    ...overrides,
  };
}

/** One factor, weight 1: the total score is 100 × the requests_elevation rubric value. */
function privilegeOnlyModel(requestsElevation: number, threshold = 50): RiskModelDefinition {
  return {
    version: '9.0',
    description: 'privilege elevation only',
    threshold,
    factors: [
      {
        id: 'privilege_elevation',
        name: 'Privilege Elevation',
        weight: 1,
        rubric: { requires_admin: 1, requests_elevation: requestsElevation, standard_user: 0, missing: 1 },
      },
    ],
  };
}

const REQUESTS_ELEVATION: EvidencePackInput = {
  ...CLEAN_EVIDENCE,
  privileges: { requires_admin: false, requests_elevation: true },
};

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

describe('scoreRisk with model v1.0', () => {
  it('auto-approves a clean pack targeting LAB with a score of 0', () => {
    const result = scoreRisk(RISK_MODEL_V1, input(CLEAN_EVIDENCE));
    expect(result).toMatchObject({
      modelVersion: '1.0',
      threshold: 50,
      score: 0,
      requiresCab: false,
      autoApprovalBlockers: [],
    });
    expect(result.factors.map((factor) => factor.score)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('scores an empty pack as 85 and sends it to CAB for the missing scan decision', () => {
    const result = scoreRisk(RISK_MODEL_V1, input({}));
    expect(result.score).toBe(85);
    expect(result.requiresCab).toBe(true);
    expect(result.autoApprovalBlockers).toEqual(['SCAN_DECISION_MISSING']);
  });

  it('scores the worked example of docs/risk-model.md as 26 with each contribution', () => {
    const evidence: EvidencePackInput = {
      ...REQUESTS_ELEVATION,
      scan_results: { tool: 'Trivy', scanned_at: '2025-05-31T08:00:00Z', critical: 0, high: 1, medium: 2 },
      rollback_plan: {
        steps: [{ platform: 'windows', strategy: 'REINSTALL_PREVIOUS', instructions: 'reinstall 5.1.0' }],
      },
      test_evidence: {
        lab: { status: 'PASSED', devices_tested: 3, success_rate: 1 },
        ring0: { status: 'PASSED', devices_tested: 40, success_rate: 0.97 },
      },
    };
    const result = scoreRisk(RISK_MODEL_V1, input(evidence, { targetRing: 'PILOT', targetDeviceCount: 500 }));
    expect(result.factors.map(({ factor, score, contribution }) => [factor, score, contribution])).toEqual([
      ['privilege_elevation', 0.5, 7.5],
      ['blast_radius', 0.4, 6],
      ['vulnerability_exposure', 0.35, 5.25],
      ['scan_policy_decision', 0, 0],
      ['code_signing', 0, 0],
      ['supply_chain', 0, 0],
      ['rollback_readiness', 0.4, 4],
      ['test_evidence', 0.3, 3],
    ]);
    expect(result.score).toBe(26);
    expect(result.requiresCab).toBe(false);
  });

  it('lists the factors in the order of the model, with names, weights and rationales', () => {
    const result = scoreRisk(RISK_MODEL_V1, input(CLEAN_EVIDENCE));
    expect(result.factors.map((factor) => factor.factor)).toEqual([...RISK_FACTOR_IDS]);
    expect(result.factors[0]).toEqual({
      factor: 'privilege_elevation',
      name: 'Privilege Elevation',
      weight: 0.15,
      score: 0,
      contribution: 0,
      rationale: 'the installer runs with standard user rights',
    });

    const reversed: RiskModelDefinition = { ...RISK_MODEL_V1, factors: [...RISK_MODEL_V1.factors].reverse() };
    expect(scoreRisk(reversed, input(CLEAN_EVIDENCE)).factors.map((factor) => factor.factor)).toEqual(
      [...RISK_FACTOR_IDS].reverse(),
    );
  });
});

describe('the CAB rule', () => {
  it.each<[number, number, AutoApprovalBlocker[], boolean]>([
    [49, 50, [], false],
    [50, 50, [], false],
    [51, 50, [], true],
    [0, 0, [], false],
    [1, 0, [], true],
    [100, 100, [], false],
    [0, 50, ['SCAN_DECISION_FAIL'], true],
    [0, 50, ['SCAN_EXCEPTION_EXPIRED'], true],
    [0, 50, ['SCAN_DECISION_MISSING'], true],
    [100, 100, ['SCAN_DECISION_FAIL'], true],
  ])(
    'with score %d, threshold %d and blockers %j requires CAB: %s',
    (score, threshold, blockers, expected) => {
      expect(requiresCab(score, threshold, blockers)).toBe(expected);
    },
  );

  it.each<[string, number, number, number, boolean]>([
    ['exactly at the threshold', 0.5, 50, 50, false],
    ['one above the threshold', 0.51, 50, 51, true],
    ['one below the threshold', 0.49, 50, 49, false],
    ['one above a lower threshold', 0.5, 49, 50, true],
  ])(
    'scores a total %s (rubric %d, threshold %d) as %d, requiring CAB: %s',
    (_case, rubric, threshold, score, cab) => {
      const result = scoreRisk(privilegeOnlyModel(rubric, threshold), input(REQUESTS_ELEVATION));
      expect(result.score).toBe(score);
      expect(result.threshold).toBe(threshold);
      expect(result.requiresCab).toBe(cab);
    },
  );
});

describe('auto-approval blockers', () => {
  const exceptionExpiring = (expiresAt: string): EvidencePackInput['scan_decision'] => ({
    decision: 'EXCEPTION',
    exception_id: 'EXC-42',
    expires_at: expiresAt,
    compensating_controls: ['EDR in block mode'],
    approved_by: 'ciso@example.com',
  });

  // The model scores privileges only, so the score is 0 and any CAB requirement comes from a blocker.
  it.each<[string, AutoApprovalBlocker[], EvidencePackInput['scan_decision']]>([
    ['a PASS', [], { decision: 'PASS' }],
    ['a FAIL', ['SCAN_DECISION_FAIL'], { decision: 'FAIL', reason: 'critical CVE' }],
    ['an exception expiring 1 ms after asOf', [], exceptionExpiring('2025-06-01T12:00:00.001Z')],
    ['an exception expiring exactly at asOf', ['SCAN_EXCEPTION_EXPIRED'], exceptionExpiring(AS_OF)],
    [
      'an exception that expired yesterday',
      ['SCAN_EXCEPTION_EXPIRED'],
      exceptionExpiring('2025-05-31T12:00:00Z'),
    ],
    ['no scan decision', ['SCAN_DECISION_MISSING'], undefined],
  ])('blocks auto-approval of a 0-score intent with %s by %j', (_case, blockers, scan_decision) => {
    const result = scoreRisk(privilegeOnlyModel(0.5), input({ ...CLEAN_EVIDENCE, scan_decision }));
    expect(result.score).toBe(0);
    expect(result.autoApprovalBlockers).toEqual(blockers);
    expect(result.requiresCab).toBe(blockers.length > 0);
  });
});

describe('rounding and clamping', () => {
  function twoFactorModel(privilegeWeight: number, requestsElevation: number): RiskModelDefinition {
    return {
      ...privilegeOnlyModel(requestsElevation),
      factors: [
        { ...privilegeOnlyModel(requestsElevation).factors[0]!, weight: privilegeWeight },
        {
          id: 'code_signing',
          name: 'Code Signing',
          weight: 1 - privilegeWeight,
          rubric: { trusted_publisher: 0, untrusted: 0.7, unsigned: 1, missing: 1 },
        },
      ],
    };
  }

  it.each<[string, number, number, number]>([
    ['0.5 up', 0.01, 0.5, 1],
    ['0.49 down', 0.01, 0.49, 0],
    ['50.5 up', 0.505, 1, 51],
    ['50.49 down', 0.5049, 1, 50],
    ['14.499999999999998 (binary noise for 14.5) up', 0.29, 0.5, 15],
  ])('rounds a weighted total of %s', (_case, privilegeWeight, requestsElevation, expected) => {
    expect(
      scoreRisk(twoFactorModel(privilegeWeight, requestsElevation), input(REQUESTS_ELEVATION)).score,
    ).toBe(expected);
  });

  it('rounds each contribution to 2 decimals', () => {
    const third = 1 / 3;
    const model: RiskModelDefinition = {
      ...RISK_MODEL_V1,
      factors: RISK_MODEL_V1.factors
        .filter((factor) => ['privilege_elevation', 'code_signing', 'supply_chain'].includes(factor.id))
        .map((factor) => ({ ...factor, weight: third })),
    };
    const result = scoreRisk(model, input({ scan_decision: { decision: 'PASS' } }));
    expect(result.factors.map((factor) => factor.contribution)).toEqual([33.33, 33.33, 33.33]);
    expect(result.score).toBe(100);
  });

  // Validated models cannot do this; the weights here bypass the schema to prove the bounds hold anyway.
  it.each<[string, number, boolean, number]>([
    ['above 100', 100, true, 2],
    ['below 0', 0, false, -1],
    ['of NaN, failing closed,', 100, true, Number.NaN],
  ])('clamps a total %s to %d (CAB: %s)', (_case, expected, cab, weight) => {
    const model: RiskModelDefinition = {
      ...privilegeOnlyModel(0.5),
      factors: [{ ...privilegeOnlyModel(0.5).factors[0]!, weight }],
    };
    const result = scoreRisk(model, input({ scan_decision: { decision: 'PASS' } }));
    expect(result.score).toBe(expected);
    expect(result.requiresCab).toBe(cab);
  });
});

describe('determinism', () => {
  const evidence: EvidencePackInput = {
    ...REQUESTS_ELEVATION,
    scan_decision: exceptionUntil('2025-06-05T00:00:00Z'),
  };

  function exceptionUntil(expiresAt: string): EvidencePackInput['scan_decision'] {
    return {
      decision: 'EXCEPTION',
      exception_id: 'EXC-7',
      expires_at: expiresAt,
      compensating_controls: ['application allow-listing'],
      approved_by: 'ciso@example.com',
    };
  }

  it('gives a deep-equal result for the same input twice', () => {
    const riskInput = input(evidence, { targetRing: 'DEPARTMENT', targetDeviceCount: 1_200 });
    expect(scoreRisk(RISK_MODEL_V1, riskInput)).toEqual(scoreRisk(RISK_MODEL_V1, riskInput));
  });

  it('does not mutate the model or the input', () => {
    const riskInput = deepFreeze(input(evidence, { targetPlatforms: ['windows', 'macos'] }));
    const model = deepFreeze(structuredClone(RISK_MODEL_V1));
    const before = structuredClone({ riskInput, model });
    scoreRisk(model, riskInput);
    expect({ riskInput, model }).toEqual(before);
  });

  it('reads the time from asOf only', () => {
    const riskInput = input(evidence);
    const spy = jest.spyOn(Date, 'now').mockReturnValue(Date.parse('2030-01-01T00:00:00Z'));
    try {
      expect(scoreRisk(RISK_MODEL_V1, riskInput).autoApprovalBlockers).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  });
});
