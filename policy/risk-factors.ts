import type { Platform } from './connectors';
import type { EvidencePack } from './evidence-pack';
import type { Ring } from './rings';
import type { RiskFactorDefinition, RiskFactorId } from './risk-model';
import type { RiskInput } from './risk-scoring';

/**
 * Evaluates one factor's rubric against the evidence. Pure and deterministic (the time is `asOf`),
 * with no runtime imports, so workflow code can call it. Missing evidence takes the rubric's
 * `missing` score, never a safe one.
 */

export interface FactorEvaluation {
  score: number;
  rationale: string;
}

type RubricOf<Id extends RiskFactorId> = Extract<RiskFactorDefinition, { id: Id }>['rubric'];
type TestRun = NonNullable<NonNullable<EvidencePack['test_evidence']>['lab']>;
type TestRunBar = RubricOf<'test_evidence'>['lab'];

const DAY_MS = 86_400_000;

export function evaluateFactor(factor: RiskFactorDefinition, input: RiskInput): FactorEvaluation {
  const evaluation = evaluateRubric(factor, input);
  return { score: boundedScore(evaluation.score), rationale: evaluation.rationale };
}

/** True when the exception is no longer valid at `asOf`; an unreadable time counts as expired. */
export function isScanExceptionExpired(expiresAt: string, asOf: string): boolean {
  return !(msUntil(expiresAt, asOf) > 0);
}

function evaluateRubric(factor: RiskFactorDefinition, input: RiskInput): FactorEvaluation {
  switch (factor.id) {
    case 'privilege_elevation':
      return privilegeElevation(factor.rubric, input.evidence);
    case 'blast_radius':
      return blastRadius(factor.rubric, input.targetRing, input.targetDeviceCount);
    case 'vulnerability_exposure':
      return vulnerabilityExposure(factor.rubric, input.evidence);
    case 'scan_policy_decision':
      return scanPolicyDecision(factor.rubric, input.evidence, input.asOf);
    case 'code_signing':
      return codeSigning(factor.rubric, input.evidence);
    case 'supply_chain':
      return supplyChain(factor.rubric, input.evidence);
    case 'rollback_readiness':
      return rollbackReadiness(factor.rubric, input.evidence, input.targetPlatforms);
    case 'test_evidence':
      return testEvidence(factor.rubric, input.evidence);
  }
}

function privilegeElevation(
  rubric: RubricOf<'privilege_elevation'>,
  evidence: EvidencePack,
): FactorEvaluation {
  const privileges = evidence.privileges;
  if (privileges === undefined) {
    return {
      score: rubric.missing,
      rationale: 'privileges missing from the evidence pack: treated as the worst case',
    };
  }
  if (privileges.requires_admin) {
    return { score: rubric.requires_admin, rationale: 'the installer requires administrator rights' };
  }
  if (privileges.requests_elevation) {
    return { score: rubric.requests_elevation, rationale: 'the installer requests elevation at run time' };
  }
  return { score: rubric.standard_user, rationale: 'the installer runs with standard user rights' };
}

function blastRadius(
  rubric: RubricOf<'blast_radius'>,
  targetRing: Ring,
  targetDeviceCount: number | undefined,
): FactorEvaluation {
  const ringScore = rubric.ring_scores[targetRing];
  if (targetDeviceCount === undefined) {
    return {
      score: ringScore,
      rationale: `target ring ${targetRing}; no device count given, so the ring decides`,
    };
  }
  // The band reached decides, whatever the array order; the device count can only raise the ring's score.
  const band = rubric.device_count_bands
    .filter((candidate) => targetDeviceCount >= candidate.min_devices)
    .reduce<{ min_devices: number; score: number } | undefined>(
      (highest, candidate) =>
        highest === undefined || candidate.min_devices > highest.min_devices ? candidate : highest,
      undefined,
    );
  const deviceScore = band?.score ?? 0;
  return {
    score: Math.max(ringScore, deviceScore),
    rationale:
      `target ring ${targetRing} scores ${ringScore}; ${targetDeviceCount} target devices score ` +
      `${deviceScore}; the higher counts`,
  };
}

function vulnerabilityExposure(
  rubric: RubricOf<'vulnerability_exposure'>,
  evidence: EvidencePack,
): FactorEvaluation {
  const scan = evidence.scan_results;
  if (scan === undefined) {
    return { score: rubric.missing, rationale: 'no vulnerability scan results in the evidence pack' };
  }
  const exposure =
    scan.critical * rubric.per_critical + scan.high * rubric.per_high + scan.medium * rubric.per_medium;
  return {
    score: Math.min(1, exposure),
    rationale: `${scan.tool} found ${scan.critical} critical, ${scan.high} high and ${scan.medium} medium vulnerabilities`,
  };
}

function scanPolicyDecision(
  rubric: RubricOf<'scan_policy_decision'>,
  evidence: EvidencePack,
  asOf: string,
): FactorEvaluation {
  const decision = evidence.scan_decision;
  if (decision === undefined) {
    return { score: rubric.missing, rationale: 'no scan policy decision in the evidence pack' };
  }
  switch (decision.decision) {
    case 'PASS':
      return { score: rubric.pass, rationale: 'the scan policy passed' };
    case 'FAIL':
      return {
        score: rubric.fail,
        rationale: `the scan policy failed${decision.reason === undefined ? '' : `: ${decision.reason}`}`,
      };
    case 'EXCEPTION': {
      const exception = `exception ${decision.exception_id}`;
      if (isScanExceptionExpired(decision.expires_at, asOf)) {
        return {
          score: rubric.expired_exception,
          rationale: `${exception} expired at ${decision.expires_at} (as of ${asOf})`,
        };
      }
      const controls = `${decision.compensating_controls.length} compensating control(s)`;
      if (msUntil(decision.expires_at, asOf) <= rubric.expiring_soon_days * DAY_MS) {
        return {
          score: rubric.exception_expiring_soon,
          rationale: `${exception} with ${controls} expires within ${rubric.expiring_soon_days} days, at ${decision.expires_at}`,
        };
      }
      return {
        score: rubric.exception,
        rationale: `${exception} approved by ${decision.approved_by} with ${controls}, valid until ${decision.expires_at}`,
      };
    }
  }
}

function codeSigning(rubric: RubricOf<'code_signing'>, evidence: EvidencePack): FactorEvaluation {
  const signature = evidence.signature;
  if (signature === undefined) {
    return { score: rubric.missing, rationale: 'no signature status in the evidence pack' };
  }
  switch (signature.status) {
    case 'TRUSTED_PUBLISHER':
      return {
        score: rubric.trusted_publisher,
        rationale: `signed by trusted publisher ${signature.publisher ?? '(unnamed)'}`,
      };
    case 'UNTRUSTED':
      return { score: rubric.untrusted, rationale: 'signed, but not by a trusted publisher' };
    case 'UNSIGNED':
      return { score: rubric.unsigned, rationale: 'the artifact is unsigned' };
  }
}

function supplyChain(rubric: RubricOf<'supply_chain'>, evidence: EvidencePack): FactorEvaluation {
  const sbom = evidence.sbom;
  if (sbom === undefined) {
    return { score: rubric.missing, rationale: 'no SBOM in the evidence pack' };
  }
  if (!sbom.complete) {
    return { score: rubric.incomplete, rationale: `the ${sbom.format} SBOM is marked incomplete` };
  }
  // Every artifact ships at least itself, so an empty "complete" SBOM is not believable.
  if (sbom.component_count === 0) {
    return { score: rubric.incomplete, rationale: `the ${sbom.format} SBOM lists no components` };
  }
  return {
    score: rubric.complete,
    rationale: `complete ${sbom.format} SBOM with ${sbom.component_count} components`,
  };
}

function rollbackReadiness(
  rubric: RubricOf<'rollback_readiness'>,
  evidence: EvidencePack,
  targetPlatforms: readonly Platform[],
): FactorEvaluation {
  const plan = evidence.rollback_plan;
  if (plan === undefined) {
    return { score: rubric.missing, rationale: 'no rollback plan in the evidence pack' };
  }
  const platforms = [...new Set(targetPlatforms)];
  if (platforms.length === 0) {
    return {
      score: rubric.platform_uncovered,
      rationale: 'no target platforms given, so rollback coverage cannot be confirmed',
    };
  }
  const stepsFor = (platform: Platform) => plan.steps.filter((step) => step.platform === platform);
  const uncovered = platforms.filter((platform) => stepsFor(platform).length === 0);
  if (uncovered.length > 0) {
    return { score: rubric.platform_uncovered, rationale: `no rollback step for ${uncovered.join(', ')}` };
  }
  const untested = platforms.filter((platform) => stepsFor(platform).some((step) => !step.tested));
  if (untested.length > 0) {
    return {
      score: rubric.covered_untested,
      rationale: `untested rollback steps for ${untested.join(', ')}`,
    };
  }
  return { score: rubric.covered_and_tested, rationale: `tested rollback steps for ${platforms.join(', ')}` };
}

function testEvidence(rubric: RubricOf<'test_evidence'>, evidence: EvidencePack): FactorEvaluation {
  const lab = testRun('lab', evidence.test_evidence?.lab, rubric.lab, rubric);
  const ring0 = testRun('ring 0', evidence.test_evidence?.ring0, rubric.ring0, rubric);
  return {
    score: rubric.lab.weight * lab.score + rubric.ring0.weight * ring0.score,
    rationale: `${lab.rationale}; ${ring0.rationale}`,
  };
}

function testRun(
  label: string,
  run: TestRun | undefined,
  bar: TestRunBar,
  rubric: RubricOf<'test_evidence'>,
): FactorEvaluation {
  if (run === undefined) return { score: rubric.not_run, rationale: `${label}: no results` };
  switch (run.status) {
    case 'NOT_RUN':
      return { score: rubric.not_run, rationale: `${label}: not run` };
    case 'FAILED':
      return { score: rubric.failed, rationale: `${label}: failed` };
    case 'PASSED':
      if (run.devices_tested < bar.min_devices_tested) {
        return {
          score: rubric.passed_with_shortfall,
          rationale: `${label}: passed on ${run.devices_tested} devices, fewer than ${bar.min_devices_tested}`,
        };
      }
      if (run.success_rate === undefined) {
        return {
          score: rubric.passed_with_shortfall,
          rationale: `${label}: passed without a reported success rate`,
        };
      }
      if (run.success_rate < bar.min_success_rate) {
        return {
          score: rubric.passed_with_shortfall,
          rationale: `${label}: passed at success rate ${run.success_rate}, below ${bar.min_success_rate}`,
        };
      }
      return {
        score: rubric.passed,
        rationale: `${label}: passed on ${run.devices_tested} devices at success rate ${run.success_rate}`,
      };
  }
}

/** Milliseconds from `asOf` to `time`; NaN when either is not a timestamp. */
function msUntil(time: string, asOf: string): number {
  return Date.parse(time) - Date.parse(asOf);
}

/**
 * Keeps a score within [0, 1] and drops binary noise (3 × 0.05 is 0.15, not 0.15000000000000002).
 * A NaN, possible only from an unvalidated model, fails closed as the worst case.
 */
function boundedScore(score: number): number {
  if (Number.isNaN(score)) return 1;
  return Math.min(1, Math.max(0, Number(score.toPrecision(12))));
}
