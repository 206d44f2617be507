import { z } from 'zod';
import { nonBlankText } from './text';

/**
 * A risk model is versioned data: weighted factors, each with a rubric whose parameters live here
 * (so a new version can retune them) and whose evaluation lives in risk-factors.ts, per factor id.
 */

export const RISK_FACTOR_IDS = [
  'privilege_elevation',
  'blast_radius',
  'vulnerability_exposure',
  'scan_policy_decision',
  'code_signing',
  'supply_chain',
  'rollback_readiness',
  'test_evidence',
] as const;
export type RiskFactorId = (typeof RISK_FACTOR_IDS)[number];

/** Weights may differ from 1 by this much, so decimal weights such as 0.15 + 0.1 still add up. */
const WEIGHT_SUM_TOLERANCE = 1e-9;

const factorScore = z.number().min(0).max(1).describe('factor score, 0 (no risk) to 1 (worst case)');
const weight = z.number().min(0).max(1);
const deviceCount = z.number().int().min(0).max(10_000_000);

function factorSchema<const Id extends RiskFactorId, Rubric extends z.ZodType>(id: Id, rubric: Rubric) {
  return z.strictObject({
    id: z.literal(id),
    name: nonBlankText(100),
    weight: weight.describe("the factor's share of the total score; a model's weights sum to 1"),
    rubric,
  });
}

const privilegeElevationRubric = z.strictObject({
  requires_admin: factorScore.describe(
    'the installer needs administrator rights (wins over requests_elevation)',
  ),
  requests_elevation: factorScore.describe('the installer asks for elevation at run time'),
  standard_user: factorScore.describe('neither: installs with standard user rights'),
  missing: factorScore.describe('the evidence pack does not state privileges'),
});

const deviceCountBand = z.strictObject({
  min_devices: deviceCount.min(1),
  score: factorScore,
});

const blastRadiusRubric = z.strictObject({
  // Every ring, spelled out: the document lists all five as required (a record over the enum did not).
  ring_scores: z
    .strictObject({
      LAB: factorScore,
      CANARY: factorScore,
      PILOT: factorScore,
      DEPARTMENT: factorScore,
      GLOBAL: factorScore,
    })
    .describe('score of each target ring'),
  device_count_bands: z
    .array(deviceCountBand)
    .max(10)
    .refine(
      (bands) =>
        bands.every((band, index) =>
          bands.slice(index + 1).every((later) => later.min_devices > band.min_devices),
        ),
      'device count bands must be in strictly ascending min_devices order',
    )
    .describe(
      'the highest band whose min_devices the target device count reaches; can only raise the ring score',
    ),
});

const vulnerabilityExposureRubric = z.strictObject({
  per_critical: factorScore.describe('added per critical finding'),
  per_high: factorScore.describe('added per high finding'),
  per_medium: factorScore.describe('added per medium finding'),
  missing: factorScore.describe('the evidence pack has no scan results'),
});

const scanPolicyDecisionRubric = z.strictObject({
  pass: factorScore,
  exception: factorScore.describe('a live exception with compensating controls'),
  exception_expiring_soon: factorScore.describe('a live exception that expires within expiring_soon_days'),
  expiring_soon_days: z.number().int().min(0).max(365),
  expired_exception: factorScore.describe('an exception that expires at or before the time of scoring'),
  fail: factorScore,
  missing: factorScore.describe('the evidence pack has no scan decision'),
});

const codeSigningRubric = z.strictObject({
  trusted_publisher: factorScore,
  untrusted: factorScore.describe('signed, but not by a trusted publisher'),
  unsigned: factorScore,
  missing: factorScore.describe('the evidence pack does not state the signature'),
});

const supplyChainRubric = z.strictObject({
  complete: factorScore.describe('an SBOM marked complete that lists at least one component'),
  incomplete: factorScore,
  missing: factorScore.describe('the evidence pack has no SBOM'),
});

const rollbackReadinessRubric = z.strictObject({
  covered_and_tested: factorScore.describe('every target platform has rollback steps, all tested'),
  covered_untested: factorScore.describe('every target platform has rollback steps, some untested'),
  platform_uncovered: factorScore.describe(
    'a target platform has no rollback step, or no platform is targeted',
  ),
  missing: factorScore.describe('the evidence pack has no rollback plan'),
});

const testRunBar = z.strictObject({
  weight: weight.describe("the run's share of the factor score; lab and ring0 weights sum to 1"),
  min_devices_tested: deviceCount,
  min_success_rate: z.number().min(0).max(1),
});

const testEvidenceRubric = z
  .strictObject({
    lab: testRunBar,
    ring0: testRunBar,
    passed: factorScore.describe('PASSED on enough devices at or above the minimum success rate'),
    passed_with_shortfall: factorScore.describe(
      'PASSED, but on too few devices, below the minimum success rate, or without a success rate',
    ),
    failed: factorScore,
    not_run: factorScore.describe('NOT_RUN, or no result in the evidence pack'),
  })
  .refine((rubric) => Math.abs(rubric.lab.weight + rubric.ring0.weight - 1) <= WEIGHT_SUM_TOLERANCE, {
    error: 'lab and ring0 weights must sum to 1',
    path: ['lab', 'weight'],
  });

const riskFactorSchema = z.discriminatedUnion('id', [
  factorSchema('privilege_elevation', privilegeElevationRubric),
  factorSchema('blast_radius', blastRadiusRubric),
  factorSchema('vulnerability_exposure', vulnerabilityExposureRubric),
  factorSchema('scan_policy_decision', scanPolicyDecisionRubric),
  factorSchema('code_signing', codeSigningRubric),
  factorSchema('supply_chain', supplyChainRubric),
  factorSchema('rollback_readiness', rollbackReadinessRubric),
  factorSchema('test_evidence', testEvidenceRubric),
]);

export const riskModelDefinitionSchema = z
  .strictObject({
    version: z
      .string()
      .max(32)
      .regex(/^\d+\.\d+(\.\d+)?$/, 'a version such as 1.0 or 1.2.3'),
    description: nonBlankText(2000),
    threshold: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(50)
      .describe('CAB is required when the score is strictly greater than this'),
    factors: z
      .array(riskFactorSchema)
      .min(1)
      .max(RISK_FACTOR_IDS.length)
      .superRefine((factors, ctx) => {
        const seen = new Set<RiskFactorId>();
        factors.forEach((factor, index) => {
          if (seen.has(factor.id)) {
            ctx.addIssue({
              code: 'custom',
              message: `factor ${factor.id} appears more than once`,
              path: [index, 'id'],
            });
          }
          seen.add(factor.id);
        });
        const sum = factors.reduce((total, factor) => total + factor.weight, 0);
        if (Math.abs(sum - 1) > WEIGHT_SUM_TOLERANCE) {
          ctx.addIssue({
            code: 'custom',
            message: `factor weights must sum to 1, but they sum to ${Number(sum.toPrecision(12))}`,
          });
        }
      }),
  })
  .meta({ id: 'RiskModelDefinition' });

export type RiskModelDefinition = z.infer<typeof riskModelDefinitionSchema>;
export type RiskFactorDefinition = RiskModelDefinition['factors'][number];

/** One factor's part of a risk score, as stored with the assessment and shown to the CAB. */
export interface FactorScore {
  readonly factor: RiskFactorId;
  readonly name: string;
  readonly weight: number;
  readonly score: number;
  /** weight × score × 100, rounded to 2 decimals. */
  readonly contribution: number;
  readonly rationale: string;
}

/** The model every tenant starts with; docs/risk-model.md explains each rubric. */
export const RISK_MODEL_V1: RiskModelDefinition = {
  version: '1.0',
  description:
    'Eight factors over the evidence pack and the rollout target. Missing evidence scores as risky; ' +
    'CAB review above a score of 50.',
  threshold: 50,
  factors: [
    {
      id: 'privilege_elevation',
      name: 'Privilege Elevation',
      weight: 0.15,
      rubric: { requires_admin: 1, requests_elevation: 0.5, standard_user: 0, missing: 1 },
    },
    {
      id: 'blast_radius',
      name: 'Blast Radius',
      weight: 0.15,
      rubric: {
        ring_scores: { LAB: 0, CANARY: 0.2, PILOT: 0.4, DEPARTMENT: 0.7, GLOBAL: 1 },
        device_count_bands: [
          { min_devices: 100, score: 0.3 },
          { min_devices: 1_000, score: 0.6 },
          { min_devices: 10_000, score: 1 },
        ],
      },
    },
    {
      id: 'vulnerability_exposure',
      name: 'Vulnerability Exposure',
      weight: 0.15,
      rubric: { per_critical: 1, per_high: 0.25, per_medium: 0.05, missing: 1 },
    },
    {
      id: 'scan_policy_decision',
      name: 'Scan Policy Decision',
      weight: 0.15,
      rubric: {
        pass: 0,
        exception: 0.5,
        exception_expiring_soon: 0.75,
        expiring_soon_days: 7,
        expired_exception: 1,
        fail: 1,
        missing: 1,
      },
    },
    {
      id: 'code_signing',
      name: 'Code Signing',
      weight: 0.1,
      rubric: { trusted_publisher: 0, untrusted: 0.7, unsigned: 1, missing: 1 },
    },
    {
      id: 'supply_chain',
      name: 'Supply Chain',
      weight: 0.1,
      rubric: { complete: 0, incomplete: 0.5, missing: 1 },
    },
    {
      id: 'rollback_readiness',
      name: 'Rollback Readiness',
      weight: 0.1,
      rubric: { covered_and_tested: 0, covered_untested: 0.4, platform_uncovered: 1, missing: 1 },
    },
    {
      id: 'test_evidence',
      name: 'Test Evidence',
      weight: 0.1,
      rubric: {
        // The bars match the LAB and CANARY promotion gates in rollout-policy.ts.
        lab: { weight: 0.4, min_devices_tested: 1, min_success_rate: 1 },
        ring0: { weight: 0.6, min_devices_tested: 10, min_success_rate: 0.98 },
        passed: 0,
        passed_with_shortfall: 0.5,
        failed: 1,
        not_run: 1,
      },
    },
  ],
};
