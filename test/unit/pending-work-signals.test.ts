import { PendingWorkSignals } from '../../db/pending-work-signals';
import { asTenantId } from '../../db/tenant-id';

const TENANT = asTenantId('tenant-signals');
const OTHER = asTenantId('tenant-other');
const announcement = (tenantId: string, connectorType: string) =>
  JSON.stringify({ tenant_id: tenantId, connector_type: connectorType });
/** Longer than any test runs: a wait that ends is ended by what the test does, never by this. */
const FOREVER = 600_000;

/** Lets pending promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('the long-polling waiters of one process (unit)', () => {
  it('wakes the waiters of the announced tenant and connector type only', async () => {
    const signals = new PendingWorkSignals();
    signals.setListening(true);
    const intune = signals.enter(TENANT, 'intune');
    const jamf = signals.enter(TENANT, 'jamf');
    const otherTenant = signals.enter(OTHER, 'intune');
    if (intune === undefined || jamf === undefined || otherTenant === undefined) throw new Error('no ticket');
    const stop = new AbortController();
    const outcomes: string[] = [];
    const waits = [
      intune.wait(FOREVER, stop.signal).then((outcome) => outcomes.push(`intune:${outcome}`)),
      jamf.wait(FOREVER, stop.signal).then((outcome) => outcomes.push(`jamf:${outcome}`)),
      otherTenant.wait(FOREVER, stop.signal).then((outcome) => outcomes.push(`other:${outcome}`)),
    ];
    expect(signals.holding).toBe(3);
    signals.announce(announcement(TENANT, 'intune'));
    await settle();
    expect(outcomes).toEqual(['intune:announced']);
    stop.abort();
    await Promise.all(waits);
    expect(outcomes.slice(1).sort()).toEqual(['jamf:abandoned', 'other:abandoned']);
    for (const ticket of [intune, jamf, otherTenant]) ticket.release();
    expect(signals.waiting).toBe(0);
    expect(signals.holding).toBe(0);
  });

  it('keeps an announcement made between the ticket and the wait (the read that found nothing)', async () => {
    const signals = new PendingWorkSignals();
    signals.setListening(true);
    const ticket = signals.enter(TENANT, 'intune');
    signals.announce(announcement(TENANT, 'intune'));
    expect(await ticket?.wait(FOREVER, new AbortController().signal)).toBe('announced');
    ticket?.release();
  });

  it('ignores payloads that name no tenant and connector type', async () => {
    const signals = new PendingWorkSignals();
    signals.setListening(true);
    const ticket = signals.enter(TENANT, 'intune');
    for (const payload of ['', 'not json', 'null', '42', JSON.stringify({ tenant_id: TENANT })]) {
      signals.announce(payload);
    }
    expect(await ticket?.wait(1, new AbortController().signal)).toBe('timed-out');
    ticket?.release();
  });

  it('gives no ticket beyond its bound, and one again once a place is free', () => {
    const signals = new PendingWorkSignals(2);
    const first = signals.enter(TENANT, 'intune');
    const second = signals.enter(TENANT, 'intune');
    expect(signals.enter(TENANT, 'jamf')).toBeUndefined();
    first?.release();
    first?.release();
    expect(signals.waiting).toBe(1);
    expect(signals.enter(TENANT, 'jamf')).toBeDefined();
    second?.release();
  });

  it('answers an abandoned caller at once, and a caller gone before it waits without waiting', async () => {
    const signals = new PendingWorkSignals();
    signals.setListening(true);
    const gone = new AbortController();
    gone.abort();
    const ticket = signals.enter(TENANT, 'intune');
    expect(await ticket?.wait(FOREVER, gone.signal)).toBe('abandoned');
    ticket?.release();
  });

  it('rechecks while announcements do not arrive, and when the listener comes or goes', async () => {
    const signals = new PendingWorkSignals(10, 1);
    expect(signals.serving).toBe(false);
    const ticket = signals.enter(TENANT, 'intune');
    if (ticket === undefined) throw new Error('no ticket');
    const stop = new AbortController();
    // Not listening: the wait ends after the recheck interval, before the caller's own.
    expect(await ticket.wait(FOREVER, stop.signal)).toBe('recheck');
    // The caller's wait is shorter than the interval: it ends as the caller's.
    expect(await new PendingWorkSignals(10, FOREVER).enter(TENANT, 'intune')?.wait(1, stop.signal)).toBe(
      'timed-out',
    );

    const listening = new PendingWorkSignals();
    const held = listening.enter(TENANT, 'intune');
    const outcome = held?.wait(FOREVER, stop.signal);
    listening.setListening(true);
    expect(await outcome).toBe('recheck');
    const again = held?.wait(FOREVER, stop.signal);
    listening.setListening(false);
    expect(await again).toBe('recheck');
    held?.release();
    ticket.release();
  });

  it('answers every waiter when closed, and gives no ticket after', async () => {
    const signals = new PendingWorkSignals();
    signals.setListening(true);
    const ticket = signals.enter(TENANT, 'intune');
    const waiting = ticket?.wait(FOREVER, new AbortController().signal);
    signals.close();
    expect(await waiting).toBe('closed');
    expect(await ticket?.wait(FOREVER, new AbortController().signal)).toBe('closed');
    ticket?.release();
    expect(signals.enter(TENANT, 'intune')).toBeUndefined();
  });
});
