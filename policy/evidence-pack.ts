import { z } from 'zod';
import { nonBlankText } from './text';
import { PLATFORMS } from './connectors';

/**
 * The evidence a packager submits with an intent. Stored once, immutable, addressed by the SHA-256 of
 * its canonical JSON. The schema checks shape and bounds; `missingEvidence` says whether a pack is
 * complete enough to deploy (the API answers 422 naming every missing part).
 */

const shortText = (max = 200) => nonBlankText(max);
const count = z.number().int().min(0).max(10_000_000);
const sha256 = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, 'a SHA-256 digest: 64 hexadecimal characters')
  .transform((value) => value.toLowerCase());
const httpsOrBlobUrl = z
  .url({ protocol: /^(https|s3|az|gs)$/ })
  .max(2048)
  .describe('https, s3, az or gs URL of the stored artifact');

export const signatureSchema = z
  .strictObject({
    status: z
      .enum(['TRUSTED_PUBLISHER', 'UNTRUSTED', 'UNSIGNED'])
      .describe('UNSIGNED is the explicit unsigned marker'),
    publisher: shortText().optional(),
    thumbprint: z
      .string()
      .regex(/^[0-9a-fA-F]{40,128}$/)
      .optional(),
  })
  .meta({ id: 'Signature' });

export const sbomSchema = z
  .strictObject({
    format: z.enum(['spdx', 'cyclonedx']),
    component_count: count,
    complete: z.boolean().describe('every shipped component is listed, with a version and a supplier'),
    uri: z.url().max(2048).optional(),
  })
  .meta({ id: 'Sbom' });

export const scanResultsSchema = z
  .strictObject({
    tool: shortText(100),
    scanned_at: z.iso.datetime({ offset: true }),
    critical: count,
    high: count,
    medium: count,
    low: count.default(0),
  })
  .meta({ id: 'ScanResults' });

export const scanDecisionSchema = z
  .discriminatedUnion('decision', [
    z.strictObject({ decision: z.literal('PASS') }),
    z.strictObject({ decision: z.literal('FAIL'), reason: shortText(1000).optional() }),
    z.strictObject({
      decision: z.literal('EXCEPTION'),
      exception_id: shortText(100),
      expires_at: z.iso.datetime({ offset: true }),
      compensating_controls: z.array(shortText(500)).min(1).max(50),
      approved_by: shortText(200),
    }),
  ])
  .meta({ id: 'ScanDecision' });

export const rollbackStepSchema = z.strictObject({
  platform: z.enum(PLATFORMS),
  strategy: z.enum(['UNINSTALL', 'REINSTALL_PREVIOUS', 'SUPERSEDE', 'SCRIPT']),
  instructions: shortText(2000),
  tested: z.boolean().default(false),
});

export const rollbackPlanSchema = z
  .strictObject({
    steps: z.array(rollbackStepSchema).min(1).max(10),
  })
  .meta({ id: 'RollbackPlan' });

const testRunSchema = z.strictObject({
  status: z.enum(['PASSED', 'FAILED', 'NOT_RUN']),
  devices_tested: count.default(0),
  success_rate: z.number().min(0).max(1).optional(),
  report_url: z.url().max(2048).optional(),
});

export const testEvidenceSchema = z
  .strictObject({
    lab: testRunSchema.optional(),
    ring0: testRunSchema.optional(),
  })
  .meta({ id: 'TestEvidence' });

export const privilegesSchema = z
  .strictObject({
    requires_admin: z.boolean(),
    requests_elevation: z.boolean(),
  })
  .meta({ id: 'Privileges' });

export const evidencePackSchema = z
  .strictObject({
    artifact_hash: sha256.optional(),
    artifact_storage_url: httpsOrBlobUrl.optional(),
    artifact_size_bytes: z.number().int().min(0).max(1e12).optional(),
    signature: signatureSchema.optional(),
    sbom: sbomSchema.optional(),
    scan_results: scanResultsSchema.optional(),
    scan_decision: scanDecisionSchema.optional(),
    privileges: privilegesSchema.optional(),
    rollback_plan: rollbackPlanSchema.optional(),
    test_evidence: testEvidenceSchema.optional(),
  })
  .meta({ id: 'EvidencePack' });

export type EvidencePack = z.infer<typeof evidencePackSchema>;
export type ScanDecision = z.infer<typeof scanDecisionSchema>;

/** Parts the seed requires before an intent may be accepted. */
export const REQUIRED_EVIDENCE = [
  'artifact_hash',
  'signature',
  'artifact_storage_url',
  'sbom',
  'scan_results',
  'scan_decision',
  'rollback_plan',
] as const;
export type RequiredEvidence = (typeof REQUIRED_EVIDENCE)[number];

/** The required parts this pack lacks, in a stable order (empty when complete). */
export function missingEvidence(pack: EvidencePack): RequiredEvidence[] {
  return REQUIRED_EVIDENCE.filter((part) => pack[part] === undefined);
}
