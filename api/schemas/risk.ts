import { z } from 'zod';
import type { RiskModelRow } from '../../db/repositories/risk-models';
import { evidencePackSchema } from '../../policy/evidence-pack';
import { RINGS } from '../../policy/rings';
import { RISK_FACTOR_IDS, riskModelDefinitionSchema } from '../../policy/risk-model';
import {
  EXACTLY_ONE_EVIDENCE_SOURCE,
  connectorMapSchema,
  exactlyOneEvidenceSource,
  isoDate,
  riskSummarySchema,
} from './common';
import { missingEvidenceSchema } from './evidence-packs';

const modelVersion = riskModelDefinitionSchema.shape.version;

export const riskModelVersionParams = z.strictObject({
  version: modelVersion.describe('risk model version'),
});

export const riskEvaluationRequestSchema = z
  .strictObject({
    evidence_pack: evidencePackSchema.optional(),
    evidence_pack_id: z.uuid().optional().describe('a stored evidence pack of this tenant'),
    target_ring: z.enum(RINGS),
    connectors: connectorMapSchema,
    target_device_count: z.number().int().min(1).max(10_000_000).optional(),
    model_version: modelVersion.optional().describe('score with this version instead of the active one'),
  })
  .superRefine(exactlyOneEvidenceSource)
  .meta({ id: 'RiskEvaluationRequest', ...EXACTLY_ONE_EVIDENCE_SOURCE });

export const riskEvaluationSchema = riskSummarySchema
  .extend({
    missing_evidence: missingEvidenceSchema,
    as_of: z.string().describe('the time the evidence was scored at (scan exceptions expire)'),
  })
  .meta({ id: 'RiskEvaluation' });

const riskModelFields = {
  version: z.string(),
  description: z.string(),
  threshold: z.number().int().describe('CAB is required when the score is strictly greater than this'),
  active: z.boolean().describe('the model new intents are scored with; exactly one per tenant'),
  created_at: z.string(),
  created_by: z.string(),
  activated_at: z.string().nullable().describe('when it last became active; null if it never was'),
};

export const riskModelSummarySchema = z
  .object({
    ...riskModelFields,
    factors: z.array(z.object({ id: z.enum(RISK_FACTOR_IDS), name: z.string(), weight: z.number() })),
  })
  .meta({ id: 'RiskModelSummary' });

export const riskModelListSchema = z
  .object({ items: z.array(riskModelSummarySchema).describe('newest first') })
  .meta({ id: 'RiskModelList' });

export const riskModelSchema = z
  .object({ ...riskModelFields, factors: riskModelDefinitionSchema.shape.factors })
  .meta({ id: 'RiskModel' });

function riskModelHeader(row: RiskModelRow) {
  return {
    version: row.version,
    description: row.definition.description,
    threshold: row.definition.threshold,
    active: row.active,
    created_at: row.createdAt.toISOString(),
    created_by: row.createdBy,
    activated_at: isoDate(row.activatedAt),
  };
}

export function riskModelSummaryBody(row: RiskModelRow): z.infer<typeof riskModelSummarySchema> {
  return {
    ...riskModelHeader(row),
    factors: row.definition.factors.map(({ id, name, weight }) => ({ id, name, weight })),
  };
}

export function riskModelBody(row: RiskModelRow): z.infer<typeof riskModelSchema> {
  return { ...riskModelHeader(row), factors: row.definition.factors };
}
