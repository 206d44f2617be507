import { evidenceHash } from '../api/services/intents';
import { canonicalJson } from '../policy/canonical-json';
import { evaluatePromotionGate } from '../policy/promotion-gate';
import type { RingOutcome } from '../policy/promotion-gate';
import { RISK_MODEL_V1 } from '../policy/risk-model';
import { scoreRisk } from '../policy/risk-scoring';
import type { RiskInput } from '../policy/risk-scoring';
import { defaultRolloutPolicy } from '../policy/rollout-policy';
import { highRiskEvidence, lowRiskEvidence } from '../test/fixtures/evidence';
import { runMicroBenchmark } from './micro';
import type { BenchResult } from './result';

export interface PolicySuiteSize {
  readonly warmup: number;
  readonly iterations: number;
  readonly timeBudgetMs: number;
}

/** The target an intent most often has: every platform, GLOBAL, a realistic fleet. */
function riskInput(evidence: RiskInput['evidence']): RiskInput {
  return {
    evidence,
    targetRing: 'GLOBAL',
    targetPlatforms: ['windows', 'macos', 'linux'],
    targetDeviceCount: 5_000,
    asOf: '2026-12-01T00:00:00Z',
  };
}

/** The pure functions on the hot path of every intent: risk scoring, promotion gates, evidence hashing. */
export function runPolicySuite(size: PolicySuiteSize, progress: (line: string) => void): BenchResult[] {
  const lowRisk = riskInput(lowRiskEvidence());
  const highRisk = riskInput(highRiskEvidence());
  const canary = defaultRolloutPolicy().rings.CANARY;
  const passing: RingOutcome = {
    ring: 'CANARY',
    successCount: 995,
    failureCount: 5,
    timeToComplianceMs: 3_600_000,
  };
  // Fails all three checks, so the verdict also formats three reasons.
  const failing: RingOutcome = {
    ring: 'CANARY',
    successCount: 4,
    failureCount: 5,
    timeToComplianceMs: 3 * 86_400_000,
  };
  const pack = lowRiskEvidence();
  const packBytes = Buffer.byteLength(canonicalJson(pack));

  const benchmarks = [
    {
      name: 'risk_scoring.low_risk',
      run: () => scoreRisk(RISK_MODEL_V1, lowRisk),
      note: 'scoreRisk(RISK_MODEL_V1) on lowRiskEvidence(), GLOBAL, 3 platforms, 5000 devices',
    },
    {
      name: 'risk_scoring.high_risk',
      run: () => scoreRisk(RISK_MODEL_V1, highRisk),
      note: 'scoreRisk(RISK_MODEL_V1) on highRiskEvidence(), GLOBAL, 3 platforms, 5000 devices',
    },
    {
      name: 'promotion_gate.pass',
      run: () => evaluatePromotionGate(passing, canary),
      note: 'evaluatePromotionGate, CANARY defaults, 995/1000 succeeded: every check passes',
    },
    {
      name: 'promotion_gate.fail',
      run: () => evaluatePromotionGate(failing, canary),
      note: 'evaluatePromotionGate, CANARY defaults: all three checks fail and reasons are formatted',
    },
    {
      name: 'evidence_hash',
      run: () => evidenceHash(pack),
      note: `evidenceHash (canonical JSON + SHA-256) of lowRiskEvidence(), ${String(packBytes)} bytes canonical`,
    },
  ];

  return benchmarks.map((benchmark) => {
    progress(`${benchmark.name}: ${String(size.iterations)} iterations`);
    return runMicroBenchmark({ ...benchmark, ...size });
  });
}
