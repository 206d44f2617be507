import { z } from 'zod';
import { text } from '../../policy/text';
import { CAB_DECISIONS } from '../../policy/cab-decision';
import { PLATFORMS } from '../../policy/connectors';
import { parseDuration } from '../../policy/duration';
import { REQUIRED_EVIDENCE } from '../../policy/evidence-pack';
import { INTENT_STATUSES } from '../../policy/intent-status';
import { RINGS } from '../../policy/rings';
import { pageOf, pageQuery, riskSummarySchema } from './common';

/** A CAB may lengthen soaks, not park a rollout indefinitely: beyond this it should reject instead. */
export const MAX_EXTRA_SOAK_MS = 30 * 86_400_000;

/** The milliseconds of a duration such as `2h` or `1h30m`, or undefined when the text is not one we accept. */
export function extraSoakMs(text: string): number | undefined {
  try {
    const ms = parseDuration(text);
    return ms <= MAX_EXTRA_SOAK_MS ? ms : undefined;
  } catch {
    return undefined;
  }
}

export const pendingCabQuery = z.strictObject({ ...pageQuery });

export const cabDecisionParams = z.strictObject({ intent_id: z.uuid().describe('the deployment intent') });

export const cabDecisionBodySchema = z
  .strictObject({
    decision: z.enum(CAB_DECISIONS),
    comments: text().trim().max(4000).optional(),
    conditions: z
      .strictObject({
        max_ring: z.enum(RINGS).optional().describe('the rollout stops after this ring'),
        extra_soak: z
          .string()
          .max(32)
          // A malformed duration is one problem, not two: the range check runs only on a well-formed one.
          .regex(/^(?:[0-9]+(?:ms|s|m|h|d))+$/, {
            error: 'a duration such as 2h, 30m or 1h30m, at most 30d',
            abort: true,
          })
          .refine((text) => extraSoakMs(text) !== undefined, {
            error: 'a duration such as 2h, 30m or 1h30m, at most 30d',
          })
          .optional()
          .describe('added to every ring’s soak time, e.g. `2h` or `30m`'),
        manual_promotion: z.boolean().optional().describe('each ring waits for an operator’s promote'),
      })
      .optional()
      .describe('only with CONDITIONAL, which needs at least one'),
    evidence_hash: z
      .string()
      .regex(/^[0-9a-f]{64}$/, { error: 'a SHA-256 in lowercase hex' })
      .optional()
      .describe(
        'the SHA-256 of the evidence pack the member reviewed (the queue’s evidence_summary.evidence_hash): ' +
          'the decision is refused with 409 stale-evidence when it is not the intent’s',
      ),
  })
  .meta({ id: 'CabDecisionRequest' });

export const cabConditionsSchema = z
  .object({
    max_ring: z.enum(RINGS).optional(),
    extra_soak_ms: z.number().int().min(0).optional(),
    manual_promotion: z.boolean().optional(),
  })
  .meta({ id: 'CabConditions' });

export const cabVerdictSchema = z
  .object({
    intent_id: z.uuid(),
    status: z
      .enum(INTENT_STATUSES)
      .describe(
        'the intent’s status once the workflow recorded the decision: AWAITING_CAB while its quorum still ' +
          'lacks approvals',
      ),
    decision: z.enum(CAB_DECISIONS),
    conditions: cabConditionsSchema.nullable(),
    approvers: z.array(z.string()).describe('the distinct members who have approved so far, in order'),
    required_approvals: z
      .number()
      .int()
      .min(1)
      .describe('how many distinct approvals the intent needs (its risk sets the quorum)'),
  })
  .meta({ id: 'CabVerdict' });

const testRunSummarySchema = z.object({
  status: z.enum(['PASSED', 'FAILED', 'NOT_RUN']),
  devices_tested: z.number().int().min(0),
  success_rate: z.number().min(0).max(1).nullable(),
});

export const evidenceSummarySchema = z
  .object({
    evidence_pack_id: z.uuid(),
    evidence_hash: z
      .string()
      .describe('SHA-256 of the evidence pack: send it with the decision to bind the decision to it'),
    signature_status: z.enum(['TRUSTED_PUBLISHER', 'UNTRUSTED', 'UNSIGNED']).nullable(),
    scan_decision: z.enum(['PASS', 'FAIL', 'EXCEPTION']).nullable(),
    exception_expires_at: z.string().optional().describe('when the scan exception lapses (EXCEPTION only)'),
    vulnerabilities: z
      .object({
        critical: z.number().int().min(0),
        high: z.number().int().min(0),
        medium: z.number().int().min(0),
      })
      .nullable(),
    sbom_complete: z.boolean(),
    sbom_component_count: z.number().int().min(0).nullable().describe('null without an SBOM'),
    rollback_platforms: z.array(z.enum(PLATFORMS)).describe('platforms the rollback plan has a step for'),
    rollback_tested: z
      .boolean()
      .describe('every step of the rollback plan was tested (false without a plan)'),
    test_evidence: z
      .object({ lab: testRunSummarySchema.nullable(), ring0: testRunSummarySchema.nullable() })
      .describe('the test runs the pack reports; null for a run it does not mention'),
    missing_evidence: z.array(z.enum(REQUIRED_EVIDENCE)),
  })
  .meta({ id: 'EvidenceSummary' });

export const cabQueueItemSchema = z
  .object({
    intent_id: z.uuid(),
    correlation_id: z.uuid(),
    app_name: z.string(),
    version: z.string(),
    target_ring: z.enum(RINGS),
    submitter_id: z.string(),
    requested_at: z.string(),
    deadline_at: z.string().describe('the intent expires unless decided by then'),
    risk: riskSummarySchema.nullable(),
    evidence_summary: evidenceSummarySchema,
    required_approvals: z
      .number()
      .int()
      .min(1)
      .describe('distinct approvals the intent needs: more than one at or above the quorum’s risk score'),
    approvals: z
      .array(
        z.object({
          approver_id: z.string(),
          decision: z.enum(['APPROVED', 'CONDITIONAL']),
          at: z.string(),
        }),
      )
      .describe('approvals taken so far towards the quorum, oldest first'),
  })
  .meta({ id: 'CabQueueItem' });

export const cabQueuePageSchema = pageOf(cabQueueItemSchema, 'CabQueuePage');
