import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';

/**
 * The tamper-evident audit trail (docs/audit.md). Each tenant's events form one hash chain in `seq` order:
 *
 *   hash = hex(SHA-256(UTF-8(prev_hash ‖ canonical JSON of the event)))
 *
 * where `prev_hash` is the previous event's `hash` (GENESIS_HASH for a tenant's first event) and the event's
 * canonical JSON (policy/canonical-json.ts: keys sorted, no whitespace) holds every stored column that says
 * something: `tenant_id`, `seq`, `event_key`, `event_type`, `intent_id`, `correlation_id`, `request_id`,
 * `actor`, `payload`, `occurred_at` (ISO 8601, milliseconds, UTC) and the format version `v`. Not hashed:
 * the surrogate `id` (a storage key; the chain's order is `seq`) and `prev_hash`/`hash` themselves.
 * The same computation runs in SQL for the rows that existed before the chain (migration 0007).
 */
export const CHAIN_FORMAT_VERSION = 1;
export const GENESIS_HASH = '0'.repeat(64);

export interface ChainedEvent {
  readonly tenantId: string;
  readonly seq: number;
  readonly eventKey: string;
  readonly eventType: string;
  readonly intentId: string | null;
  readonly correlationId: string;
  readonly requestId: string | null;
  readonly actor: string;
  readonly payload: Record<string, unknown>;
  readonly occurredAt: Date;
}

/** The text that is hashed after the previous hash: one line of canonical JSON. */
export function canonicalEvent(event: ChainedEvent): string {
  return canonicalJson({
    v: CHAIN_FORMAT_VERSION,
    tenant_id: event.tenantId,
    seq: event.seq,
    event_key: event.eventKey,
    event_type: event.eventType,
    intent_id: event.intentId,
    correlation_id: event.correlationId,
    request_id: event.requestId,
    actor: event.actor,
    payload: event.payload,
    occurred_at: event.occurredAt.toISOString(),
  });
}

export function chainHash(prevHash: string, event: ChainedEvent): string {
  return createHash('sha256')
    .update(prevHash + canonicalEvent(event), 'utf8')
    .digest('hex');
}

/**
 * A payload exactly as it reads back from a jsonb column: what JSON keeps (dates become strings, undefined
 * members vanish). The chain hashes this form, so the hash computed before the insert is the one a
 * verifier recomputes from the stored row.
 */
export function storedPayload(payload: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(payload)) as Record<string, unknown>;
}

export interface ChainLink extends ChainedEvent {
  readonly id: number;
  readonly prevHash: string;
  readonly hash: string;
}

export type BrokenLinkReason =
  /** The stored hash is not the hash of the stored row: the row (or its hash) was edited. */
  | 'HASH_MISMATCH'
  /** The row does not point at its predecessor's hash: a row was removed, inserted or replaced before it. */
  | 'PREV_HASH_MISMATCH'
  /** A position in the sequence is missing: a row was deleted. */
  | 'SEQUENCE_GAP'
  /** Every link holds but the chain ends short of (or off) the recorded head: the newest rows are gone. */
  | 'HEAD_MISMATCH';

export interface BrokenLink {
  readonly eventId: number;
  readonly seq: number;
  readonly reason: BrokenLinkReason;
}

/**
 * Walks consecutive links, starting after `(expectedSeq - 1, prevHash)`. Returns the running state and the
 * first broken link, if any; the walk stops there.
 */
export class ChainWalker {
  verified = 0;
  broken: BrokenLink | undefined;

  constructor(
    public prevHash: string,
    public expectedSeq: number,
  ) {}

  /** Feeds the next link in `seq` order; false once the chain is broken. */
  accept(link: ChainLink): boolean {
    if (this.broken !== undefined) return false;
    let reason: BrokenLinkReason | undefined;
    if (link.seq !== this.expectedSeq) reason = 'SEQUENCE_GAP';
    else if (link.prevHash !== this.prevHash) reason = 'PREV_HASH_MISMATCH';
    else if (chainHash(link.prevHash, link) !== link.hash) reason = 'HASH_MISMATCH';
    if (reason !== undefined) {
      this.broken = { eventId: link.id, seq: link.seq, reason };
      return false;
    }
    this.verified += 1;
    this.prevHash = link.hash;
    this.expectedSeq += 1;
    return true;
  }
}
