import { GENESIS_HASH, chainHash } from '../../policy/audit-chain';
import {
  BUNDLE_FORMAT,
  evidenceDigest,
  historyDigest,
  sealBundle,
  verifyBundle,
} from '../../policy/evidence-bundle';
import type { BundleEvent, EvidenceBundle, UnsealedBundle } from '../../policy/evidence-bundle';

const TENANT = 't-1';
const INTENT = '11111111-1111-4111-8111-111111111111';
const content = { app: '7-Zip', scan_decision: { decision: 'PASS' } };
const packHash = evidenceDigest(content);

function event(seq: number, prevHash: string, eventType: string): BundleEvent {
  const base = {
    id: seq * 10,
    tenant_id: TENANT,
    seq,
    event_key: `k-${String(seq)}`,
    event_type: eventType,
    intent_id: INTENT,
    correlation_id: '22222222-2222-4222-8222-222222222222',
    request_id: null,
    actor: 'system',
    payload: { n: seq },
    occurred_at: '2026-11-28T10:00:00.000Z',
    prev_hash: prevHash,
  };
  const hash = chainHash(prevHash, {
    tenantId: base.tenant_id,
    seq,
    eventKey: base.event_key,
    eventType,
    intentId: INTENT,
    correlationId: base.correlation_id,
    requestId: null,
    actor: base.actor,
    payload: base.payload,
    occurredAt: new Date(base.occurred_at),
  });
  return { ...base, hash };
}

function bundle(overrides: Partial<UnsealedBundle> = {}): EvidenceBundle {
  const first = event(1, GENESIS_HASH, 'INTENT_CREATED');
  const second = event(2, first.hash, 'RISK_ASSESSED');
  const third = event(5, 'f'.repeat(64), 'COMPLETED');
  const history = { events: [{ eventId: '1' }] };
  return sealBundle({
    format: BUNDLE_FORMAT,
    generated_at: '2026-11-28T11:00:00.000Z',
    generated_by: 'auditor',
    tenant_id: TENANT,
    intent: { id: INTENT },
    evidence_pack: { id: 'p', content_hash: packHash, content, created_by: 'x', created_at: 'y' },
    risk_assessment: { evidence_hash: packHash, score: 10 },
    risk_model: null,
    cab: {
      request: null,
      decisions: [
        {
          event_id: 1,
          event_type: 'CAB_DECIDED',
          actor: 'cab',
          occurred_at: 'z',
          evidence_hash: packHash,
          risk_model_version: '1.0',
          payload: {},
        },
        {
          event_id: 2,
          event_type: 'CAB_DECIDED',
          actor: 'cab',
          occurred_at: 'z',
          evidence_hash: null,
          risk_model_version: null,
          payload: {},
        },
      ],
    },
    rings: [],
    events: [first, second, third],
    chain_head: { seq: 5, hash: third.hash },
    workflow_history: {
      available: true,
      workflow_id: 'w',
      event_count: 1,
      sha256: historyDigest(history),
      history,
    },
    ...overrides,
  });
}

const failures = (value: unknown) =>
  verifyBundle(value)
    .checks.filter((check) => !check.ok)
    .map((check) => check.check);

describe('the evidence bundle verifier', () => {
  it('accepts an intact bundle, linking neighbours and not events with others between them', () => {
    expect(verifyBundle(bundle())).toMatchObject({ ok: true });
  });

  it('refuses a document that is not a bundle', () => {
    expect(verifyBundle({ format: 'other' })).toEqual({
      ok: false,
      checks: [{ check: 'format', ok: false, detail: `not a ${BUNDLE_FORMAT} document` }],
    });
    expect(verifyBundle(null).ok).toBe(false);
    expect(verifyBundle([1]).ok).toBe(false);
  });

  it('names the evidence an assessment or an approval was not made on', () => {
    const other = 'a'.repeat(64);
    const decisions = bundle().cab.decisions.map((decision) => ({ ...decision, evidence_hash: other }));
    expect(
      failures(bundle({ risk_assessment: { evidence_hash: other }, cab: { request: null, decisions } })),
    ).toEqual([
      'risk_assessment.evidence_hash',
      'cab.decisions[event 1].evidence_hash',
      'cab.decisions[event 2].evidence_hash',
    ]);
    expect(
      failures(bundle({ evidence_pack: { ...bundle().evidence_pack, content: { app: 'other' } } })),
    ).toEqual([
      'evidence_pack.content_hash',
      'risk_assessment.evidence_hash',
      'cab.decisions[event 1].evidence_hash',
    ]);
  });

  it('names an edited event, a broken link, events out of order and a foreign event', () => {
    const intact = bundle();
    const [first, second, third] = intact.events as [BundleEvent, BundleEvent, BundleEvent];
    expect(failures(bundle({ events: [first, { ...second, actor: 'mallory' }, third] }))).toEqual([
      'events[seq 2].hash',
    ]);
    const relinked = event(2, 'b'.repeat(64), 'RISK_ASSESSED');
    expect(failures(bundle({ events: [first, relinked] }))).toEqual(['events[seq 2].prev_hash']);
    expect(failures(bundle({ events: [second, first] }))).toEqual(['events[seq 1].order']);
    const foreign = { ...event(7, GENESIS_HASH, 'X'), intent_id: 'another' };
    expect(failures(bundle({ events: [{ ...foreign, hash: foreign.hash }] }))).toEqual([
      'events[seq 7].hash',
      'events[seq 7].intent_id',
    ]);
  });

  it('names an edited history and an edited bundle', () => {
    const intact = bundle();
    const history = intact.workflow_history as Extract<
      EvidenceBundle['workflow_history'],
      { available: true }
    >;
    expect(failures(bundle({ workflow_history: { ...history, history: { events: [] } } }))).toEqual([
      'workflow_history.sha256',
    ]);
    expect(failures({ ...intact, generated_by: 'someone' })).toEqual(['bundle_sha256']);
    expect(
      verifyBundle(bundle({ workflow_history: { available: false, workflow_id: 'w', reason: 'gone' } })).ok,
    ).toBe(true);
  });
});
