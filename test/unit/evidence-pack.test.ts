import { REQUIRED_EVIDENCE, evidencePackSchema, missingEvidence } from '../../policy/evidence-pack';
import type { EvidencePack, RequiredEvidence } from '../../policy/evidence-pack';
import { highRiskEvidence, lowRiskEvidence } from '../fixtures/evidence';

const EXCEPTION = {
  decision: 'EXCEPTION',
  exception_id: 'EXC-2026-114',
  expires_at: '2027-06-30T00:00:00Z',
  compensating_controls: ['application allow-listing'],
  approved_by: 'ciso@example.com',
} as const;

function issuePaths(evidence: unknown): PropertyKey[][] {
  return (evidencePackSchema.safeParse(evidence).error?.issues ?? []).map((issue) => issue.path);
}

// Replaces parts of the low-risk fixture with raw, possibly invalid, input.
function withPart(part: Record<string, unknown>): unknown {
  return { ...lowRiskEvidence(), ...part };
}

describe('evidencePackSchema: accepted packs', () => {
  it.each<{ case: string; evidence: EvidencePack }>([
    { case: 'accepts the low-risk fixture unchanged', evidence: lowRiskEvidence() },
    {
      case: 'accepts the high-risk fixture, with its scan exception, unchanged',
      evidence: highRiskEvidence(),
    },
  ])('$case', ({ evidence }) => {
    expect(evidencePackSchema.parse(evidence)).toEqual(evidence);
  });

  it.each<{ case: string; evidence: unknown }>([
    { case: 'accepts an empty pack (completeness is missingEvidence’s job)', evidence: {} },
    {
      case: 'accepts an s3:// storage URL',
      evidence: withPart({ artifact_storage_url: 's3://artifacts/7z.msi' }),
    },
    {
      case: 'accepts an az:// storage URL',
      evidence: withPart({ artifact_storage_url: 'az://container/7z.msi' }),
    },
    {
      case: 'accepts a gs:// storage URL',
      evidence: withPart({ artifact_storage_url: 'gs://bucket/7z.msi' }),
    },
    {
      case: 'accepts an explicit UNSIGNED signature',
      evidence: withPart({ signature: { status: 'UNSIGNED' } }),
    },
    {
      case: 'accepts a signature thumbprint of 40 hexadecimal characters',
      evidence: withPart({ signature: { status: 'TRUSTED_PUBLISHER', thumbprint: 'AB'.repeat(20) } }),
    },
    {
      case: 'accepts a FAIL scan decision with a reason',
      evidence: withPart({ scan_decision: { decision: 'FAIL', reason: 'critical CVE' } }),
    },
    {
      case: 'accepts a scan time with an offset',
      evidence: withPart({
        scan_results: {
          tool: 'defender',
          scanned_at: '2026-11-20T10:00:00+01:00',
          critical: 0,
          high: 0,
          medium: 0,
        },
      }),
    },
  ])('$case', ({ evidence }) => {
    expect(issuePaths(evidence)).toEqual([]);
  });

  it('lower-cases the artifact hash', () => {
    const pack = evidencePackSchema.parse(withPart({ artifact_hash: 'ABCDEF'.repeat(10) + 'ABCD' }));
    expect(pack.artifact_hash).toBe('abcdef'.repeat(10) + 'abcd');
  });

  it('trims free text', () => {
    const pack = evidencePackSchema.parse(
      withPart({ signature: { status: 'TRUSTED_PUBLISHER', publisher: '  Igor Pavlov ' } }),
    );
    expect(pack.signature?.publisher).toBe('Igor Pavlov');
  });

  it('fills in defaults: no low findings, untested rollback steps, no devices tested', () => {
    const pack = evidencePackSchema.parse({
      scan_results: { tool: 'defender', scanned_at: '2026-11-20T10:00:00Z', critical: 0, high: 0, medium: 0 },
      rollback_plan: { steps: [{ platform: 'linux', strategy: 'SCRIPT', instructions: 'apt remove pkg' }] },
      test_evidence: { lab: { status: 'NOT_RUN' } },
    });
    expect(pack.scan_results?.low).toBe(0);
    expect(pack.rollback_plan?.steps[0]?.tested).toBe(false);
    expect(pack.test_evidence?.lab?.devices_tested).toBe(0);
  });
});

describe('evidencePackSchema: rejected packs', () => {
  it.each<{ case: string; evidence: unknown; path: PropertyKey[] }>([
    {
      case: 'rejects an http:// storage URL',
      evidence: withPart({ artifact_storage_url: 'http://artifacts.example.com/7z.msi' }),
      path: ['artifact_storage_url'],
    },
    {
      case: 'rejects an ftp:// storage URL',
      evidence: withPart({ artifact_storage_url: 'ftp://artifacts.example.com/7z.msi' }),
      path: ['artifact_storage_url'],
    },
    {
      case: 'rejects a storage path that is not a URL',
      evidence: withPart({ artifact_storage_url: '/srv/artifacts/7z.msi' }),
      path: ['artifact_storage_url'],
    },
    {
      case: 'rejects an EXCEPTION without compensating controls',
      evidence: withPart({ scan_decision: { ...EXCEPTION, compensating_controls: undefined } }),
      path: ['scan_decision', 'compensating_controls'],
    },
    {
      case: 'rejects an EXCEPTION with an empty list of compensating controls',
      evidence: withPart({ scan_decision: { ...EXCEPTION, compensating_controls: [] } }),
      path: ['scan_decision', 'compensating_controls'],
    },
    {
      case: 'rejects an EXCEPTION with a blank compensating control',
      evidence: withPart({ scan_decision: { ...EXCEPTION, compensating_controls: ['  '] } }),
      path: ['scan_decision', 'compensating_controls', 0],
    },
    {
      case: 'rejects an EXCEPTION without an expiry',
      evidence: withPart({ scan_decision: { ...EXCEPTION, expires_at: undefined } }),
      path: ['scan_decision', 'expires_at'],
    },
    {
      case: 'rejects an unknown scan decision',
      evidence: withPart({ scan_decision: { decision: 'WAIVED' } }),
      path: ['scan_decision', 'decision'],
    },
    { case: 'rejects an unknown top-level field', evidence: withPart({ release_notes: 'x' }), path: [] },
    {
      case: 'rejects an unknown field in the signature',
      evidence: withPart({ signature: { status: 'UNSIGNED', issuer: 'x' } }),
      path: ['signature'],
    },
    {
      case: 'rejects an unknown field on a PASS decision',
      evidence: withPart({ scan_decision: { decision: 'PASS', reason: 'x' } }),
      path: ['scan_decision'],
    },
    {
      case: 'rejects an artifact hash of 63 characters',
      evidence: withPart({ artifact_hash: 'a'.repeat(63) }),
      path: ['artifact_hash'],
    },
    {
      case: 'rejects an artifact hash that is not hexadecimal',
      evidence: withPart({ artifact_hash: 'g'.repeat(64) }),
      path: ['artifact_hash'],
    },
    {
      case: 'rejects a thumbprint that is too short',
      evidence: withPart({ signature: { status: 'UNTRUSTED', thumbprint: 'ab'.repeat(19) } }),
      path: ['signature', 'thumbprint'],
    },
    {
      case: 'rejects a blank publisher',
      evidence: withPart({ signature: { status: 'TRUSTED_PUBLISHER', publisher: '   ' } }),
      path: ['signature', 'publisher'],
    },
    {
      case: 'rejects a negative critical count',
      evidence: withPart({
        scan_results: {
          tool: 'defender',
          scanned_at: '2026-11-20T10:00:00Z',
          critical: -1,
          high: 0,
          medium: 0,
        },
      }),
      path: ['scan_results', 'critical'],
    },
    {
      case: 'rejects a scan time without a time of day',
      evidence: withPart({
        scan_results: { tool: 'defender', scanned_at: '2026-11-20', critical: 0, high: 0, medium: 0 },
      }),
      path: ['scan_results', 'scanned_at'],
    },
    {
      case: 'rejects a rollback plan without steps',
      evidence: withPart({ rollback_plan: { steps: [] } }),
      path: ['rollback_plan', 'steps'],
    },
    {
      case: 'rejects a rollback step for an unknown platform',
      evidence: withPart({
        rollback_plan: { steps: [{ platform: 'android', strategy: 'UNINSTALL', instructions: 'x' }] },
      }),
      path: ['rollback_plan', 'steps', 0, 'platform'],
    },
    {
      case: 'rejects a test success rate above 1',
      evidence: withPart({ test_evidence: { lab: { status: 'PASSED', success_rate: 1.5 } } }),
      path: ['test_evidence', 'lab', 'success_rate'],
    },
    {
      case: 'rejects a negative artifact size',
      evidence: withPart({ artifact_size_bytes: -1 }),
      path: ['artifact_size_bytes'],
    },
  ])('$case', ({ evidence, path }) => {
    expect(issuePaths(evidence)).toEqual([path]);
  });
});

describe('missingEvidence', () => {
  function without(...parts: RequiredEvidence[]): EvidencePack {
    const kept = Object.entries(lowRiskEvidence()).filter(
      ([part]) => !parts.includes(part as RequiredEvidence),
    );
    return evidencePackSchema.parse(Object.fromEntries(kept));
  }

  it.each<{ case: string; pack: EvidencePack; missing: RequiredEvidence[] }>([
    { case: 'finds nothing missing in a complete pack', pack: lowRiskEvidence(), missing: [] },
    {
      case: 'lists every required part, in order, for an empty pack',
      pack: {},
      missing: [...REQUIRED_EVIDENCE],
    },
    { case: 'names the one missing part', pack: without('sbom'), missing: ['sbom'] },
    {
      case: 'lists missing parts in the required order, whatever order they were removed in',
      pack: without('rollback_plan', 'artifact_hash', 'scan_results'),
      missing: ['artifact_hash', 'scan_results', 'rollback_plan'],
    },
    {
      case: 'does not require privileges or test evidence',
      pack: evidencePackSchema.parse({
        ...lowRiskEvidence(),
        privileges: undefined,
        test_evidence: undefined,
      }),
      missing: [],
    },
  ])('$case', ({ pack, missing }) => {
    expect(missingEvidence(pack)).toEqual(missing);
  });

  it('requires, in order: hash, signature, storage URL, SBOM, scan results, scan decision, rollback plan', () => {
    expect(REQUIRED_EVIDENCE).toEqual([
      'artifact_hash',
      'signature',
      'artifact_storage_url',
      'sbom',
      'scan_results',
      'scan_decision',
      'rollback_plan',
    ]);
  });
});
