import { ChainWalker, GENESIS_HASH, canonicalEvent, chainHash } from '../../policy/audit-chain';
import type { ChainLink } from '../../policy/audit-chain';

const base = {
  tenantId: 'tenant-a',
  eventKey: 'k',
  eventType: 'E',
  intentId: null,
  correlationId: '00000000-0000-4000-8000-000000000000',
  requestId: null,
  actor: 'system:test',
  payload: { b: 1, a: 'x' },
  occurredAt: new Date(Date.UTC(2026, 10, 28, 12, 0, 0, 5)),
};

function links(count: number): ChainLink[] {
  const out: ChainLink[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= count; seq += 1) {
    const event = { ...base, seq, eventKey: `k${String(seq)}` };
    const hash = chainHash(prevHash, event);
    out.push({ ...event, id: seq * 10, prevHash, hash });
    prevHash = hash;
  }
  return out;
}

describe('the audit hash chain', () => {
  it('hashes a documented canonical form: every column, keys sorted, ISO time', () => {
    expect(canonicalEvent({ ...base, seq: 1 })).toBe(
      '{"actor":"system:test","correlation_id":"00000000-0000-4000-8000-000000000000","event_key":"k",' +
        '"event_type":"E","intent_id":null,"occurred_at":"2026-11-28T12:00:00.005Z","payload":{"a":"x","b":1},' +
        '"request_id":null,"seq":1,"tenant_id":"tenant-a","v":1}',
    );
    expect(chainHash(GENESIS_HASH, { ...base, seq: 1 })).toMatch(/^[0-9a-f]{64}$/u);
    expect(chainHash(GENESIS_HASH, { ...base, seq: 1 })).not.toBe(
      chainHash(GENESIS_HASH, { ...base, seq: 1, requestId: 'r' }),
    );
  });

  it('accepts an intact chain and names the first broken link', () => {
    const intact = new ChainWalker(GENESIS_HASH, 1);
    expect(links(3).every((link) => intact.accept(link))).toBe(true);
    expect(intact.verified).toBe(3);

    const [one, two, three] = links(3) as [ChainLink, ChainLink, ChainLink];
    const edited = new ChainWalker(GENESIS_HASH, 1);
    edited.accept(one);
    expect(edited.accept({ ...two, actor: 'mallory' })).toBe(false);
    expect(edited.broken).toEqual({ eventId: 20, seq: 2, reason: 'HASH_MISMATCH' });
    expect(edited.accept(three)).toBe(false);

    const relinked = new ChainWalker(GENESIS_HASH, 1);
    relinked.accept(one);
    expect(relinked.accept({ ...three, seq: 2 })).toBe(false);
    expect(relinked.broken?.reason).toBe('PREV_HASH_MISMATCH');

    const gap = new ChainWalker(GENESIS_HASH, 1);
    gap.accept(one);
    gap.accept(three);
    expect(gap.broken).toEqual({ eventId: 30, seq: 3, reason: 'SEQUENCE_GAP' });
  });
});
