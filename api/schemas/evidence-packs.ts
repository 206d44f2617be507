import { z } from 'zod';
import type { EvidencePackRow } from '../../db/repositories/evidence-packs';
import { REQUIRED_EVIDENCE, evidencePackSchema, missingEvidence } from '../../policy/evidence-pack';

export const missingEvidenceSchema = z
  .array(z.enum(REQUIRED_EVIDENCE))
  .describe('required parts the pack lacks: an intent referring to it is refused (422) until they are given');

export const storedEvidencePackSchema = z
  .object({
    id: z.uuid(),
    content_hash: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .describe('SHA-256 of the canonical JSON of evidence_pack'),
    created_at: z.string(),
    created_by: z.string(),
    evidence_pack: evidencePackSchema,
    missing_evidence: missingEvidenceSchema,
  })
  .meta({ id: 'StoredEvidencePack' });

export type StoredEvidencePackBody = z.infer<typeof storedEvidencePackSchema>;

export function storedEvidencePackBody(row: EvidencePackRow): StoredEvidencePackBody {
  return {
    id: row.id,
    content_hash: row.contentHash,
    created_at: row.createdAt.toISOString(),
    created_by: row.createdBy,
    evidence_pack: row.content,
    missing_evidence: missingEvidence(row.content),
  };
}
