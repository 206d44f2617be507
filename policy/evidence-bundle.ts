import { createHash } from 'node:crypto';
import { chainHash } from './audit-chain';
import { canonicalJson } from './canonical-json';

/**
 * The evidence bundle of one deployment intent (docs/audit.md, "Evidence bundle"): one self-contained JSON
 * document an auditor can keep and check offline. Every hash in it can be recomputed from the bundle alone:
 *
 * - the evidence pack's `content_hash` = SHA-256 of the pack's canonical JSON, and the risk assessment and
 *   every CAB decision name that same hash (what was assessed and approved is what was submitted);
 * - every audit event's `hash` = SHA-256(`prev_hash` ‖ canonical JSON of the event) (policy/audit-chain.ts),
 *   and where two of the intent's events are neighbours in the tenant's chain, the later one's `prev_hash`
 *   is the earlier one's `hash`;
 * - the Temporal history's `sha256` = SHA-256 of its canonical JSON;
 * - `bundle_sha256` = SHA-256 of the canonical JSON of the whole bundle without that member.
 */
export const BUNDLE_FORMAT = 'eucora-evidence-bundle/1';

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

export interface BundleEvent {
  readonly id: number;
  readonly tenant_id: string;
  readonly seq: number;
  readonly event_key: string;
  readonly event_type: string;
  readonly intent_id: string | null;
  readonly correlation_id: string;
  readonly request_id: string | null;
  readonly actor: string;
  readonly payload: Record<string, unknown>;
  readonly occurred_at: string;
  readonly prev_hash: string;
  readonly hash: string;
}

export interface BundleCabDecision {
  readonly event_id: number;
  readonly event_type: string;
  readonly actor: string;
  readonly occurred_at: string;
  /** The evidence pack hash the member approved on; null for decisions recorded before it was kept. */
  readonly evidence_hash: string | null;
  readonly risk_model_version: string | null;
  readonly payload: Record<string, unknown>;
}

export type BundleHistory =
  | {
      readonly available: true;
      readonly workflow_id: string;
      readonly event_count: number;
      /** SHA-256 of the canonical JSON of `history`. */
      readonly sha256: string;
      /** The workflow's history as Temporal's JSON form (`temporal workflow show --output json`). */
      readonly history: Record<string, unknown>;
    }
  | {
      readonly available: false;
      readonly workflow_id: string;
      readonly reason: string;
    };

export interface EvidenceBundle {
  readonly format: string;
  readonly generated_at: string;
  readonly generated_by: string;
  readonly tenant_id: string;
  readonly intent: Record<string, unknown> & { readonly id: string };
  readonly evidence_pack: {
    readonly id: string;
    readonly content_hash: string;
    readonly content: Record<string, unknown>;
    readonly created_by: string;
    readonly created_at: string;
  };
  readonly risk_assessment: (Record<string, unknown> & { readonly evidence_hash: string }) | null;
  readonly risk_model: { readonly version: string; readonly definition: Record<string, unknown> } | null;
  readonly cab: {
    readonly request: Record<string, unknown> | null;
    readonly decisions: readonly BundleCabDecision[];
  };
  readonly rings: readonly Record<string, unknown>[];
  readonly events: readonly BundleEvent[];
  /** The tenant's chain head when the bundle was made: compare it with the daily anchor in the SIEM. */
  readonly chain_head: { readonly seq: number; readonly hash: string } | null;
  readonly workflow_history: BundleHistory;
  readonly bundle_sha256: string;
}

export type UnsealedBundle = Omit<EvidenceBundle, 'bundle_sha256'>;

export function historyDigest(history: Record<string, unknown>): string {
  return sha256(canonicalJson(history));
}

export function evidenceDigest(content: unknown): string {
  return sha256(canonicalJson(content));
}

/** The bundle with its own digest. */
export function sealBundle(bundle: UnsealedBundle): EvidenceBundle {
  return { ...bundle, bundle_sha256: sha256(canonicalJson(bundle)) };
}

export interface BundleCheck {
  readonly check: string;
  readonly ok: boolean;
  readonly detail?: string;
}

export interface BundleVerification {
  readonly ok: boolean;
  readonly checks: readonly BundleCheck[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Recomputes every hash of a bundle; each check says what it compared. */
export function verifyBundle(input: unknown): BundleVerification {
  const checks: BundleCheck[] = [];
  const add = (check: string, ok: boolean, detail?: string) => {
    checks.push(detail === undefined || ok ? { check, ok } : { check, ok, detail });
  };
  if (!isRecord(input) || input.format !== BUNDLE_FORMAT) {
    add('format', false, `not a ${BUNDLE_FORMAT} document`);
    return { ok: false, checks };
  }
  const bundle = input as unknown as EvidenceBundle;
  add('format', true);

  const { bundle_sha256: stated, ...rest } = bundle;
  const recomputed = sha256(canonicalJson(rest));
  add('bundle_sha256', stated === recomputed, `stated ${stated}, computed ${recomputed}`);

  const packHash = evidenceDigest(bundle.evidence_pack.content);
  add(
    'evidence_pack.content_hash',
    packHash === bundle.evidence_pack.content_hash,
    `stated ${bundle.evidence_pack.content_hash}, computed ${packHash}`,
  );
  if (bundle.risk_assessment !== null) {
    add(
      'risk_assessment.evidence_hash',
      bundle.risk_assessment.evidence_hash === packHash,
      `the risk was assessed on evidence ${bundle.risk_assessment.evidence_hash}, the bundle's pack is ${packHash}`,
    );
  }
  for (const decision of bundle.cab.decisions) {
    if (decision.evidence_hash === null) continue;
    add(
      `cab.decisions[event ${String(decision.event_id)}].evidence_hash`,
      decision.evidence_hash === packHash,
      `approved on evidence ${decision.evidence_hash}, the bundle's pack is ${packHash}`,
    );
  }

  let previous: BundleEvent | undefined;
  for (const event of bundle.events) {
    const label = `events[seq ${String(event.seq)}]`;
    const computed = chainHash(event.prev_hash, {
      tenantId: event.tenant_id,
      seq: event.seq,
      eventKey: event.event_key,
      eventType: event.event_type,
      intentId: event.intent_id,
      correlationId: event.correlation_id,
      requestId: event.request_id,
      actor: event.actor,
      payload: event.payload,
      occurredAt: new Date(event.occurred_at),
    });
    add(`${label}.hash`, computed === event.hash, `stated ${event.hash}, computed ${computed}`);
    add(
      `${label}.intent_id`,
      event.intent_id === bundle.intent.id && event.tenant_id === bundle.tenant_id,
      'the event belongs to another intent or tenant',
    );
    if (previous !== undefined) {
      add(`${label}.order`, event.seq > previous.seq, `follows seq ${String(previous.seq)}`);
      if (event.seq === previous.seq + 1) {
        add(
          `${label}.prev_hash`,
          event.prev_hash === previous.hash,
          `does not link to seq ${String(previous.seq)}`,
        );
      }
    }
    previous = event;
  }

  const history = bundle.workflow_history;
  if (history.available) {
    const digest = historyDigest(history.history);
    add('workflow_history.sha256', digest === history.sha256, `stated ${history.sha256}, computed ${digest}`);
  }
  return { ok: checks.every((check) => check.ok), checks };
}
