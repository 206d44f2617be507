import { and, asc, count, eq, inArray, isNull, min, sql } from 'drizzle-orm';
import type { Database } from '../client';
import { auditChainHeads, siemOutbox } from '../schema';
import { CHAIN_ANCHOR_EVENT_TYPE, siemAnchorRecordId } from '../../policy/siem-events';

/** One claimed outbox row: what is sent, and how often its tenant's head has been tried. */
export interface ClaimedSiemRecord {
  readonly id: number;
  readonly recordId: string;
  readonly record: Record<string, unknown>;
  readonly attempts: number;
}

/** The unsent part of the outbox: how many records, since when, and whether the last try of one failed. */
export interface SiemBacklog {
  readonly records: number;
  readonly oldestCreatedAt: Date | null;
  readonly lastSendFailed: boolean;
}

/**
 * The SIEM outbox as the forwarder and the health and metrics endpoints see it, across tenants. Rows are
 * never deleted: a sent row keeps its `sent_at`, so the audit trail's forwarding is itself auditable.
 */
export class SiemOutboxRepository {
  constructor(private readonly db: Database) {}

  /** Tenants with unsent records (the partial index on unsent rows answers this). */
  async tenantsWithBacklog(): Promise<string[]> {
    const rows = await this.db
      .selectDistinct({ tenantId: siemOutbox.tenantId })
      .from(siemOutbox)
      .where(isNull(siemOutbox.sentAt));
    return rows.map((row) => row.tenantId);
  }

  /**
   * Claims the tenant's oldest unsent records, at most `limit`, for `leaseMs`: a short transaction locks
   * them (`FOR UPDATE SKIP LOCKED`), checks that the first is the tenant's oldest unsent record and due,
   * and moves the tenant's head past the lease, so no other forwarder sends this tenant's records (in or
   * out of order) until the lease ends or the claim is settled. Empty when the tenant is not due, or
   * another forwarder holds its head.
   */
  async claim(tenantId: string, limit: number, leaseMs: number): Promise<ClaimedSiemRecord[]> {
    return this.db.transaction(async (tx) => {
      const rows = await tx
        .select({
          id: siemOutbox.id,
          recordId: siemOutbox.recordId,
          record: siemOutbox.record,
          attempts: siemOutbox.attempts,
          due: sql<boolean>`${siemOutbox.nextAttemptAt} <= now()`,
        })
        .from(siemOutbox)
        .where(and(eq(siemOutbox.tenantId, tenantId), isNull(siemOutbox.sentAt)))
        .orderBy(asc(siemOutbox.id))
        .limit(limit)
        .for('update', { skipLocked: true });
      const [first] = rows;
      if (!first?.due) return [];
      const [oldest] = await tx
        .select({ id: min(siemOutbox.id) })
        .from(siemOutbox)
        .where(and(eq(siemOutbox.tenantId, tenantId), isNull(siemOutbox.sentAt)));
      // An earlier record is locked by another forwarder: sending these now would overtake it.
      if (oldest?.id !== first.id) return [];
      // Every claimed record, not just the head: when part of the batch is sent (a 413 split it), the next
      // head is still this forwarder's until it settles it or the lease ends.
      await tx
        .update(siemOutbox)
        .set({ nextAttemptAt: sql`now() + make_interval(secs => ${leaseMs / 1000})` })
        .where(
          inArray(
            siemOutbox.id,
            rows.map((row) => row.id),
          ),
        );
      return rows.map(({ id, recordId, record, attempts }) => ({ id, recordId, record, attempts }));
    });
  }

  /** Claimed records this forwarder will not send now: due again at once, behind the ones it sends. */
  async release(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .update(siemOutbox)
      .set({ nextAttemptAt: sql`now()` })
      .where(inArray(siemOutbox.id, [...ids]));
  }

  /** The SIEM accepted these records: they are done (kept, with the time they were sent). */
  async markSent(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .update(siemOutbox)
      .set({ sentAt: sql`now()`, attempts: sql`${siemOutbox.attempts} + 1`, lastError: null })
      .where(inArray(siemOutbox.id, [...ids]));
  }

  /** The send failed: the records wait `delayMs` (their tenant's later records wait behind them). */
  async markFailed(ids: readonly number[], error: string, delayMs: number): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .update(siemOutbox)
      .set({
        attempts: sql`${siemOutbox.attempts} + 1`,
        lastError: error.slice(0, 1000),
        nextAttemptAt: sql`now() + make_interval(secs => ${delayMs / 1000})`,
      })
      .where(inArray(siemOutbox.id, [...ids]));
  }

  /**
   * Queues the day's chain anchor of every tenant with a chain: its head `seq` and `hash`, under the stable
   * id `<tenant>:anchor:<day>`, so each tenant gets one anchor per UTC day however often this runs.
   * Returns how many were queued now.
   */
  async queueChainAnchors(day: string, at: Date): Promise<number> {
    const heads = await this.db.select().from(auditChainHeads);
    const anchors = heads
      .filter((head) => head.seq > 0)
      .map((head) => {
        const recordId = siemAnchorRecordId(head.tenantId, day);
        return {
          tenantId: head.tenantId,
          recordId,
          eventId: null,
          record: {
            TimeGenerated: at.toISOString(),
            RecordId: recordId,
            RecordKind: CHAIN_ANCHOR_EVENT_TYPE,
            TenantId: head.tenantId,
            EventType: CHAIN_ANCHOR_EVENT_TYPE,
            Day: day,
            Seq: head.seq,
            Hash: head.hash,
          },
        };
      });
    if (anchors.length === 0) return 0;
    const queued = await this.db
      .insert(siemOutbox)
      .values(anchors)
      .onConflictDoNothing({ target: [siemOutbox.tenantId, siemOutbox.recordId] })
      .returning({ id: siemOutbox.id });
    return queued.length;
  }

  /** The unsent backlog, of one tenant or of all. */
  async backlog(tenantId?: string): Promise<SiemBacklog> {
    const [row] = await this.db
      .select({
        records: count(),
        oldest: min(siemOutbox.createdAt),
        failed: sql<number>`count(*) filter (where ${siemOutbox.lastError} is not null)`.mapWith(Number),
      })
      .from(siemOutbox)
      .where(
        and(
          isNull(siemOutbox.sentAt),
          ...(tenantId === undefined ? [] : [eq(siemOutbox.tenantId, tenantId)]),
        ),
      );
    return {
      records: row?.records ?? 0,
      oldestCreatedAt: row?.oldest ?? null,
      lastSendFailed: (row?.failed ?? 0) > 0,
    };
  }
}
