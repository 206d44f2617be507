import { z } from 'zod';
import type { Actor } from '../request-context';
import { problems } from '../problem';
import type { RiskSummary } from '../../workflows/definitions';
import { RISK_FACTOR_IDS } from '../../policy/risk-model';
import { CONNECTOR_PLATFORMS, CONNECTOR_TYPES } from '../../policy/connectors';
import type { Platform } from '../../policy/connectors';
import type { CabConditions } from '../../policy/cab-decision';

/** Shared request and response pieces; the schemas named with `.meta({ id })` become OpenAPI components. */

export const uuid = z.uuid();

/** The connectors that can reach `platform` (CONNECTOR_PLATFORMS), as the enum the document shows. */
function connectorFor(platform: Platform) {
  const reaching = CONNECTOR_TYPES.filter((type) => CONNECTOR_PLATFORMS[type].includes(platform));
  const [first, ...rest] = reaching;
  if (first === undefined) throw new Error(`no connector reaches ${platform}`);
  return z.enum([first, ...rest]);
}

export const connectorMapSchema = z
  .strictObject({
    windows: connectorFor('windows').optional(),
    macos: connectorFor('macos').optional(),
    linux: connectorFor('linux').optional(),
  })
  .refine((map) => Object.keys(map).length > 0, { error: 'name a connector for at least one platform' })
  .describe(
    'the connector that deploys to each target platform, e.g. { "windows": "intune", "macos": "jamf" }; ' +
      'each platform lists the connectors that can reach it',
  )
  // The refinement above, as the document states it.
  .meta({ id: 'ConnectorMap', minProperties: 1 });

/** `exactlyOneEvidenceSource` as the document states it. */
export const EXACTLY_ONE_EVIDENCE_SOURCE = {
  oneOf: [{ required: ['evidence_pack'] }, { required: ['evidence_pack_id'] }],
};

export const idParams = z.strictObject({ id: z.uuid().describe('resource id') });

/** Keyset pagination: `limit` (1..200, default 50) and the `cursor` of the previous page's `next_cursor`. */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z
    .string()
    .max(512)
    .regex(/^[A-Za-z0-9_-]+$/, 'a cursor from a previous page')
    .optional(),
};

export function pageOf<T extends z.ZodType>(item: T, id: string) {
  return z
    .object({
      items: z.array(item),
      next_cursor: z
        .string()
        .nullable()
        .describe('pass as `cursor` for the next page; null on the last page'),
    })
    .meta({ id });
}

export const factorScoreSchema = z
  .object({
    factor: z.enum(RISK_FACTOR_IDS),
    name: z.string(),
    weight: z.number(),
    score: z.number().min(0).max(1),
    contribution: z.number(),
    rationale: z.string(),
  })
  .meta({ id: 'FactorScore' });

export const riskSummarySchema = z
  .object({
    model_version: z.string(),
    score: z.number().int().min(0).max(100),
    threshold: z.number().int(),
    requires_cab: z.boolean(),
    auto_approval_blockers: z.array(z.string()),
    factors: z.array(factorScoreSchema),
    evidence_hash: z.string().optional(),
  })
  .meta({ id: 'RiskSummary' });

/** One row of the append-only audit trail, as the API shows it. */
export const auditEventSchema = z
  .object({
    id: z.number().int(),
    event_type: z.string(),
    intent_id: z.uuid().nullable(),
    correlation_id: z.uuid().describe('the intent’s; for an event outside any intent, one of its own'),
    request_id: z
      .string()
      .nullable()
      .describe('the X-Correlation-ID of the request that caused it; null when no request did'),
    actor: z.string(),
    payload: z.record(z.string(), z.unknown()),
    occurred_at: z.string(),
    seq: z.number().int().describe('position in the tenant’s audit hash chain'),
    prev_hash: z.string().describe('the previous event’s hash (64 zeros for the first)'),
    hash: z.string().describe('SHA-256 of prev_hash ‖ the canonical JSON of the event (docs/audit.md)'),
  })
  .meta({ id: 'AuditEvent' });

export type RiskSummaryBody = z.infer<typeof riskSummarySchema>;

export function riskSummaryBody(
  risk: Omit<RiskSummary, 'evidenceHash'> & { evidenceHash?: string },
): RiskSummaryBody {
  return {
    model_version: risk.modelVersion,
    score: risk.score,
    threshold: risk.threshold,
    requires_cab: risk.requiresCab,
    auto_approval_blockers: [...risk.autoApprovalBlockers],
    factors: risk.factors.map((factor) => ({ ...factor })),
    ...(risk.evidenceHash === undefined ? {} : { evidence_hash: risk.evidenceHash }),
  };
}

/** CAB conditions as the API spells them; null when there are none. */
export function cabConditionsBody(conditions: CabConditions | null | undefined) {
  if (conditions === null || conditions === undefined) return null;
  return {
    ...(conditions.maxRing === undefined ? {} : { max_ring: conditions.maxRing }),
    ...(conditions.extraSoakMs === undefined ? {} : { extra_soak_ms: conditions.extraSoakMs }),
    ...(conditions.manualPromotion === undefined ? {} : { manual_promotion: conditions.manualPromotion }),
  };
}

/** Evidence comes inline or by reference: exactly one of the two. */
export function exactlyOneEvidenceSource(
  body: { evidence_pack?: unknown; evidence_pack_id?: string },
  ctx: z.RefinementCtx,
): void {
  if ((body.evidence_pack === undefined) === (body.evidence_pack_id === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['evidence_pack'],
      message: 'give exactly one of evidence_pack (inline) or evidence_pack_id',
    });
  }
}

/** The caller, which `access` already guaranteed; a route reaching here without one is a bug. */
export function requireActor(actor: Actor | undefined): Actor {
  if (actor === undefined) throw problems.unauthenticated();
  return actor;
}

export function isoDate(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}

export function auditEventBody(event: {
  id: number;
  eventType: string;
  intentId: string | null;
  correlationId: string;
  requestId: string | null;
  actor: string;
  payload: Record<string, unknown>;
  occurredAt: Date;
  seq: number;
  prevHash: string;
  hash: string;
}): z.infer<typeof auditEventSchema> {
  return {
    id: event.id,
    event_type: event.eventType,
    intent_id: event.intentId,
    correlation_id: event.correlationId,
    request_id: event.requestId,
    actor: event.actor,
    payload: event.payload,
    occurred_at: event.occurredAt.toISOString(),
    seq: event.seq,
    prev_hash: event.prevHash,
    hash: event.hash,
  };
}
