import { z } from 'zod';
import { RISK_FACTOR_IDS, RISK_MODEL_V1, riskModelDefinitionSchema } from '../../policy/risk-model';
import type { RiskFactorId } from '../../policy/risk-model';

interface Issue {
  path: PropertyKey[];
  message: string;
}

function issuesOf(model: unknown): Issue[] {
  const result = riskModelDefinitionSchema.safeParse(model);
  return result.success ? [] : result.error.issues.map(({ path, message }) => ({ path, message }));
}

/** RISK_MODEL_V1 with top-level fields replaced. */
function v1With(fields: Record<string, unknown>): unknown {
  return { ...RISK_MODEL_V1, ...fields };
}

/** RISK_MODEL_V1 with fields of one factor replaced. */
function v1WithFactor(id: RiskFactorId, fields: Record<string, unknown>): unknown {
  return v1With({
    factors: RISK_MODEL_V1.factors.map((factor) => (factor.id === id ? { ...factor, ...fields } : factor)),
  });
}

/** RISK_MODEL_V1 with rubric parameters of one factor replaced. */
function v1WithRubric(id: RiskFactorId, parameters: Record<string, unknown>): unknown {
  const factor = RISK_MODEL_V1.factors.find((candidate) => candidate.id === id)!;
  return v1WithFactor(id, { rubric: { ...factor.rubric, ...parameters } });
}

function weightsOf(weights: readonly number[]): unknown {
  return v1With({
    factors: RISK_MODEL_V1.factors.map((factor, index) => ({ ...factor, weight: weights[index] })),
  });
}

describe('RISK_MODEL_V1', () => {
  it('passes the schema unchanged', () => {
    expect(riskModelDefinitionSchema.parse(RISK_MODEL_V1)).toEqual(RISK_MODEL_V1);
  });

  it('is version 1.0 with a threshold of 50', () => {
    expect(RISK_MODEL_V1).toMatchObject({ version: '1.0', threshold: 50 });
  });

  it.each<[RiskFactorId, number]>([
    ['privilege_elevation', 0.15],
    ['blast_radius', 0.15],
    ['vulnerability_exposure', 0.15],
    ['scan_policy_decision', 0.15],
    ['code_signing', 0.1],
    ['supply_chain', 0.1],
    ['rollback_readiness', 0.1],
    ['test_evidence', 0.1],
  ])('weighs %s at %d', (id, weight) => {
    expect(RISK_MODEL_V1.factors.find((factor) => factor.id === id)?.weight).toBe(weight);
  });

  it('has the eight factors in RISK_FACTOR_IDS order', () => {
    expect(RISK_MODEL_V1.factors.map((factor) => factor.id)).toEqual([...RISK_FACTOR_IDS]);
  });

  it('publishes as the RiskModelDefinition JSON schema', () => {
    const jsonSchema = z.toJSONSchema(riskModelDefinitionSchema, { io: 'input' });
    expect(jsonSchema.$ref).toBe('#/$defs/RiskModelDefinition');
  });
});

describe('riskModelDefinitionSchema', () => {
  it.each(['1.0', '2.10', '1.2.3', '10.0.0'])('accepts version %s', (version) => {
    expect(issuesOf(v1With({ version }))).toEqual([]);
  });

  it.each(['1', 'v1.0', '1.0.0.0', '1.a', '1.0-beta', '', ' 1.0', `1.${'0'.repeat(40)}`])(
    'rejects version "%s"',
    (version) => {
      expect(issuesOf(v1With({ version })).map((issue) => issue.path)).toEqual([['version']]);
    },
  );

  it.each<[string, number[], string]>([
    [
      '0.9',
      [0.05, 0.15, 0.15, 0.15, 0.1, 0.1, 0.1, 0.1],
      'factor weights must sum to 1, but they sum to 0.9',
    ],
    [
      '1.1',
      [0.25, 0.15, 0.15, 0.15, 0.1, 0.1, 0.1, 0.1],
      'factor weights must sum to 1, but they sum to 1.1',
    ],
    ['1 + 2e-9', [0.150000002, 0.15, 0.15, 0.15, 0.1, 0.1, 0.1, 0.1], 'but they sum to 1.000000002'],
  ])('rejects weights summing to %s on the factors path', (_case, weights, message) => {
    const issues = issuesOf(weightsOf(weights));
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toEqual(['factors']);
    expect(issues[0]?.message).toContain(message);
  });

  it('accepts weights summing to 1 within 1e-9', () => {
    expect(issuesOf(weightsOf([0.1500000005, 0.15, 0.15, 0.15, 0.1, 0.1, 0.1, 0.1]))).toEqual([]);
  });

  it('accepts a model of fewer factors whose weights sum to 1', () => {
    const [first, second] = RISK_MODEL_V1.factors;
    expect(
      issuesOf(
        v1With({
          factors: [
            { ...first, weight: 0.4 },
            { ...second, weight: 0.6 },
          ],
        }),
      ),
    ).toEqual([]);
  });

  it('rejects a factor id used twice, naming the repeat', () => {
    const [first] = RISK_MODEL_V1.factors;
    const duplicate = v1With({
      factors: [
        { ...first, weight: 0.5 },
        { ...first, weight: 0.5 },
      ],
    });
    expect(issuesOf(duplicate)).toEqual([
      { path: ['factors', 1, 'id'], message: 'factor privilege_elevation appears more than once' },
    ]);
  });

  it.each<[string, unknown, PropertyKey[]]>([
    ['no factors', v1With({ factors: [] }), ['factors']],
    ['nine factors', v1With({ factors: [...RISK_MODEL_V1.factors, RISK_MODEL_V1.factors[0]] }), ['factors']],
    ['an unknown factor id', v1WithFactor('code_signing', { id: 'vibes' }), ['factors', 4, 'id']],
    ['a weight above 1', v1WithFactor('code_signing', { weight: 1.5 }), ['factors', 4, 'weight']],
    ['a negative weight', v1WithFactor('code_signing', { weight: -0.1 }), ['factors', 4, 'weight']],
    ['an empty factor name', v1WithFactor('code_signing', { name: ' ' }), ['factors', 4, 'name']],
    ['an unknown factor key', v1WithFactor('code_signing', { enabled: true }), ['factors', 4]],
    ['an unknown model key', v1With({ active: true }), []],
    ['a threshold above 100', v1With({ threshold: 101 }), ['threshold']],
    ['a negative threshold', v1With({ threshold: -1 }), ['threshold']],
    ['a fractional threshold', v1With({ threshold: 50.5 }), ['threshold']],
    ['an empty description', v1With({ description: '' }), ['description']],
    ['a description over 2000 characters', v1With({ description: 'x'.repeat(2001) }), ['description']],
    [
      'a rubric score above 1',
      v1WithRubric('code_signing', { untrusted: 1.2 }),
      ['factors', 4, 'rubric', 'untrusted'],
    ],
    [
      'a negative rubric score',
      v1WithRubric('supply_chain', { incomplete: -0.5 }),
      ['factors', 5, 'rubric', 'incomplete'],
    ],
    [
      'a missing rubric parameter',
      v1WithRubric('privilege_elevation', { missing: undefined }),
      ['factors', 0, 'rubric', 'missing'],
    ],
    [
      'an unknown rubric parameter',
      v1WithRubric('privilege_elevation', { guest: 0 }),
      ['factors', 0, 'rubric'],
    ],
    [
      'a ring without a score',
      v1WithRubric('blast_radius', { ring_scores: { LAB: 0, CANARY: 0.2, PILOT: 0.4, DEPARTMENT: 0.7 } }),
      ['factors', 1, 'rubric', 'ring_scores', 'GLOBAL'],
    ],
    [
      'device count bands out of order',
      v1WithRubric('blast_radius', {
        device_count_bands: [
          { min_devices: 1_000, score: 0.6 },
          { min_devices: 100, score: 0.3 },
        ],
      }),
      ['factors', 1, 'rubric', 'device_count_bands'],
    ],
    [
      'two device count bands at the same count',
      v1WithRubric('blast_radius', {
        device_count_bands: [
          { min_devices: 100, score: 0.3 },
          { min_devices: 100, score: 0.6 },
        ],
      }),
      ['factors', 1, 'rubric', 'device_count_bands'],
    ],
    [
      'more than 10 device count bands',
      v1WithRubric('blast_radius', {
        device_count_bands: Array.from({ length: 11 }, (_, index) => ({
          min_devices: index + 1,
          score: 0.5,
        })),
      }),
      ['factors', 1, 'rubric', 'device_count_bands'],
    ],
    [
      'an expiring-soon window over a year',
      v1WithRubric('scan_policy_decision', { expiring_soon_days: 366 }),
      ['factors', 3, 'rubric', 'expiring_soon_days'],
    ],
    [
      'lab and ring 0 weights not summing to 1',
      v1WithRubric('test_evidence', {
        lab: { weight: 0.5, min_devices_tested: 1, min_success_rate: 1 },
        ring0: { weight: 0.6, min_devices_tested: 10, min_success_rate: 0.98 },
      }),
      ['factors', 7, 'rubric', 'lab', 'weight'],
    ],
    [
      'a minimum success rate above 1',
      v1WithRubric('test_evidence', {
        ring0: { weight: 0.6, min_devices_tested: 10, min_success_rate: 98 },
      }),
      ['factors', 7, 'rubric', 'ring0', 'min_success_rate'],
    ],
  ])('rejects a model with %s', (_case, model, path) => {
    expect(issuesOf(model).map((issue) => issue.path)).toContainEqual(path);
  });

  it('defaults the threshold to 50', () => {
    const withoutThreshold = Object.fromEntries(
      Object.entries(RISK_MODEL_V1).filter(([key]) => key !== 'threshold'),
    );
    expect(riskModelDefinitionSchema.parse(withoutThreshold).threshold).toBe(50);
  });
});
