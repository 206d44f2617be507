import {
  SIEM_FORWARDED_EVENT_TYPES,
  isSiemForwarded,
  siemAnchorRecordId,
  siemEventRecordId,
  siemRetryDelayMs,
  utcDay,
} from '../../policy/siem-events';
import { CONTROL_REQUEST_EVENTS } from '../../workflows/definitions';

describe('isSiemForwarded: the privileged and security events the SIEM receives', () => {
  it.each([
    'SIGNED_IN',
    'SIGN_IN_FAILED',
    'DEV_LOGIN',
    'AUTHZ_DENIED',
    'CAB_DECIDED',
    'RISK_MODEL_CREATED',
    'RISK_MODEL_ACTIVATED',
    'CONNECTOR_CREDENTIAL_ISSUED',
    'CONNECTOR_CREDENTIAL_REVOKED',
    'ABORTED',
    'PAUSED',
    'PROMOTION_GRANTED',
    'ROLLBACK_STARTED',
    'RING_ROLLED_BACK',
    'ROLLED_BACK',
    ...Object.values(CONTROL_REQUEST_EVENTS),
  ])('forwards %s', (eventType) => {
    expect(isSiemForwarded(eventType)).toBe(true);
  });

  it.each([
    'INTENT_CREATED',
    'EVIDENCE_PACK_STORED',
    'RISK_ASSESSED',
    'CONNECTOR_REPORTED',
    'RING_STARTED',
    '',
  ])('keeps %p in the audit trail only', (eventType) => {
    expect(isSiemForwarded(eventType)).toBe(false);
  });

  it('names every forwarded type in the event-type format the API accepts as a filter', () => {
    for (const eventType of SIEM_FORWARDED_EVENT_TYPES) expect(eventType).toMatch(/^[A-Z][A-Z0-9_]{0,63}$/u);
  });
});

describe('SIEM record ids: stable across resends', () => {
  it('derives an event record id from the tenant and the event id only', () => {
    expect(siemEventRecordId('tenant-a', 42)).toBe('tenant-a:event:42');
    expect(siemEventRecordId('tenant-a', 42)).toBe(siemEventRecordId('tenant-a', 42));
    expect(siemEventRecordId('tenant-b', 42)).not.toBe(siemEventRecordId('tenant-a', 42));
  });

  it('gives one anchor id per tenant and UTC day', () => {
    expect(utcDay(new Date('2026-11-28T23:59:59.999Z'))).toBe('2026-11-28');
    expect(utcDay(new Date('2026-11-29T00:00:00.000Z'))).toBe('2026-11-29');
    expect(siemAnchorRecordId('tenant-a', '2026-11-28')).toBe('tenant-a:anchor:2026-11-28');
  });
});

describe('siemRetryDelayMs: exponential backoff that honours Retry-After', () => {
  it.each([
    { attempt: 1, expected: 1_000 },
    { attempt: 2, expected: 2_000 },
    { attempt: 4, expected: 8_000 },
    { attempt: 10, expected: 60_000 },
    { attempt: 1_000, expected: 60_000 },
    { attempt: 0, expected: 1_000 },
  ])('waits $expected ms before retry $attempt', ({ attempt, expected }) => {
    expect(siemRetryDelayMs(attempt, { baseMs: 1_000, maxMs: 60_000 })).toBe(expected);
  });

  it('waits at least as long as the SIEM asked', () => {
    expect(siemRetryDelayMs(1, { baseMs: 1_000, maxMs: 60_000, retryAfterMs: 30_000 })).toBe(30_000);
    expect(siemRetryDelayMs(3, { baseMs: 1_000, maxMs: 60_000, retryAfterMs: 500 })).toBe(4_000);
  });
});
