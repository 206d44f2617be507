import type { TenantId } from './tenant-id';

/**
 * The channel new ring deployments and rollbacks are announced on when their transaction commits (a
 * trigger on ring_deployments, migration 0011): payload `{"tenant_id": …, "connector_type": …}`.
 */
export const PENDING_WORK_CHANNEL = 'eucora_pending_work';

/** Long-polling requests one API process holds at most; beyond it a poll is answered at once. */
export const DEFAULT_MAX_PENDING_WORK_WAITERS = 1_000;
/** While announcements do not reach the process, a waiting poll reads the database this often. */
export const DEFAULT_PENDING_WORK_RECHECK_MS = 1_000;

/**
 * Why a wait ended:
 * - `announced`: new work of this tenant and connector type was committed: read again;
 * - `recheck`: announcements may have been missed (the listener is down, or was): read again;
 * - `timed-out`: the caller's wait is over; `abandoned`: the caller went away;
 * - `closed`: the process is shutting down: answer now.
 */
export type PendingWorkWaitOutcome = 'announced' | 'recheck' | 'timed-out' | 'abandoned' | 'closed';

interface Waiter {
  readonly key: string;
  /** Set when an announcement (or a reason to read again) came before `wait` was called. */
  early: PendingWorkWaitOutcome | undefined;
  wake: ((outcome: PendingWorkWaitOutcome) => void) | undefined;
}

/** A place in the line of one tenant's connector type, taken before the read that found nothing. */
export interface PendingWorkTicket {
  /**
   * Resolves on an announcement made since the ticket was taken, after `timeoutMs`, when `signal`
   * aborts, or (not listening) after the recheck interval at most.
   */
  wait(timeoutMs: number, signal: AbortSignal): Promise<PendingWorkWaitOutcome>;
  /** Gives the place back; a ticket must be released, whatever happened. */
  release(): void;
}

function keyOf(tenantId: string, connectorType: string): string {
  return JSON.stringify([tenantId, connectorType]);
}

function announcedKey(payload: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(payload);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { tenant_id: tenantId, connector_type: connectorType } = parsed as Record<string, unknown>;
    return typeof tenantId === 'string' && typeof connectorType === 'string'
      ? keyOf(tenantId, connectorType)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The long-polling connectors waiting in this process, by tenant and connector type, and what wakes
 * them: PostgreSQL's announcements of new work (heard on the process's one LISTEN connection, so every
 * API process hears every commit). A caller takes a ticket *before* it reads the database, so work
 * committed between that read and the wait still wakes it. Bounded: beyond `maxWaiters` no ticket is
 * given and the caller answers at once. While the listener is down nothing is trusted to arrive: a wait
 * lasts at most `recheckMs` and the caller reads again, so a poll never outlives its `wait`.
 */
export class PendingWorkSignals {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private count = 0;
  private held = 0;
  private listening = false;
  private closed = false;

  constructor(
    private readonly maxWaiters: number = DEFAULT_MAX_PENDING_WORK_WAITERS,
    private readonly recheckMs: number = DEFAULT_PENDING_WORK_RECHECK_MS,
  ) {}

  /** Requests holding a ticket now. */
  get waiting(): number {
    return this.count;
  }

  /** Requests waiting now: they read the database, found nothing and are held. */
  get holding(): number {
    return this.held;
  }

  /** Whether announcements reach this process (its LISTEN is subscribed). */
  get serving(): boolean {
    return this.listening;
  }

  /** A ticket, or undefined when the process holds as many as it may or is shutting down. */
  enter(tenantId: TenantId, connectorType: string): PendingWorkTicket | undefined {
    if (this.closed || this.count >= this.maxWaiters) return undefined;
    const waiter: Waiter = { key: keyOf(tenantId, connectorType), early: undefined, wake: undefined };
    let line = this.waiters.get(waiter.key);
    if (line === undefined) {
      line = new Set();
      this.waiters.set(waiter.key, line);
    }
    line.add(waiter);
    this.count += 1;
    let released = false;
    return {
      wait: (timeoutMs, signal) => this.wait(waiter, timeoutMs, signal),
      release: () => {
        if (released) return;
        released = true;
        line.delete(waiter);
        this.count -= 1;
        if (line.size === 0) this.waiters.delete(waiter.key);
      },
    };
  }

  /** An announcement's payload: the waiters of its tenant and connector type read again. */
  announce(payload: string): void {
    const key = announcedKey(payload);
    if (key === undefined) return;
    for (const waiter of this.waiters.get(key) ?? []) this.signal(waiter, 'announced');
  }

  /** Whether announcements reach this process; either change makes every waiter read again. */
  setListening(listening: boolean): void {
    this.listening = listening;
    this.signalAll('recheck');
  }

  /** Shutting down: every waiter answers now, and no new one waits. */
  close(): void {
    this.closed = true;
    this.signalAll('closed');
  }

  private wait(waiter: Waiter, timeoutMs: number, signal: AbortSignal): Promise<PendingWorkWaitOutcome> {
    if (this.closed) return Promise.resolve('closed');
    if (signal.aborted) return Promise.resolve('abandoned');
    const early = waiter.early;
    if (early !== undefined) {
      waiter.early = undefined;
      return Promise.resolve(early);
    }
    return new Promise((resolve) => {
      const bounded = !this.listening && this.recheckMs < timeoutMs;
      const finish = (outcome: PendingWorkWaitOutcome) => {
        this.held -= 1;
        clearTimeout(timer);
        signal.removeEventListener('abort', abandoned);
        waiter.wake = undefined;
        resolve(outcome);
      };
      const abandoned = () => {
        finish('abandoned');
      };
      const timer = setTimeout(
        () => {
          finish(bounded ? 'recheck' : 'timed-out');
        },
        bounded ? this.recheckMs : timeoutMs,
      );
      signal.addEventListener('abort', abandoned, { once: true });
      waiter.wake = finish;
      this.held += 1;
    });
  }

  private signal(waiter: Waiter, outcome: PendingWorkWaitOutcome): void {
    if (waiter.wake !== undefined) waiter.wake(outcome);
    else waiter.early ??= outcome;
  }

  private signalAll(outcome: PendingWorkWaitOutcome): void {
    for (const line of this.waiters.values()) {
      for (const waiter of line) this.signal(waiter, outcome);
    }
  }
}
