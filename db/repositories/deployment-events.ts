import { and, asc, desc, eq, gt, gte, inArray, lt, sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import { PgTransaction } from 'drizzle-orm/pg-core';
import type { DatabaseExecutor, Transaction } from '../client';
import type { TenantId } from '../tenant-id';
import { auditChainHeads, deploymentEvents, siemOutbox } from '../schema';
import { ChainWalker, GENESIS_HASH, chainHash, storedPayload } from '../../policy/audit-chain';
import type { BrokenLink } from '../../policy/audit-chain';
import { isSiemForwarded, siemEventRecordId } from '../../policy/siem-events';
import { decodeCursor, toPage } from '../pagination';
import type { Page } from '../pagination';

export type DeploymentEventRow = typeof deploymentEvents.$inferSelect;
/** Every writer says which request caused the event (null: none did, e.g. the workflow on its own account). */
export type NewDeploymentEvent = Omit<
  typeof deploymentEvents.$inferInsert,
  'id' | 'tenantId' | 'requestId' | 'seq' | 'prevHash' | 'hash'
> & {
  readonly requestId: string | null;
};

export interface EventFilter {
  readonly intentId?: string;
  readonly correlationId?: string;
  readonly requestId?: string;
  readonly eventType?: string;
}

/** What `verifyChain` found: how many links hold, and the first that does not. */
export interface ChainVerification {
  readonly fromEventId: number | null;
  readonly verified: number;
  /** The last verified link (the chain head when intact); null when nothing was verified. */
  readonly last: { readonly eventId: number; readonly seq: number; readonly hash: string } | null;
  /** The recorded chain head: seq and hash of the newest event the writers chained. */
  readonly head: { readonly seq: number; readonly hash: string };
  readonly brokenLink: BrokenLink | null;
}

const VERIFY_BATCH = 1000;

/** One audit event as the SIEM receives it: the stored row, with a stable `RecordId` for recognising a resend. */
export function siemEventRecord(
  eventId: number,
  row: Omit<DeploymentEventRow, 'id'>,
): Record<string, unknown> {
  return {
    TimeGenerated: row.occurredAt.toISOString(),
    RecordId: siemEventRecordId(row.tenantId, eventId),
    RecordKind: 'AUDIT_EVENT',
    TenantId: row.tenantId,
    EventId: eventId,
    Seq: row.seq,
    EventKey: row.eventKey,
    EventType: row.eventType,
    IntentId: row.intentId,
    CorrelationId: row.correlationId,
    RequestId: row.requestId,
    Actor: row.actor,
    Payload: row.payload,
    PrevHash: row.prevHash,
    Hash: row.hash,
  };
}

export class DeploymentEventRepository {
  /** `siemOutbox`: a SIEM is configured, so privileged events are also queued for it (policy/siem-events.ts). */
  constructor(
    private readonly db: DatabaseExecutor,
    private readonly tenantId: TenantId,
    private readonly siemOutbox = false,
  ) {}

  /**
   * Appends once per event key: a retried write is a no-op. Returns whether a row was added. The event is
   * chained (seq, prev_hash, hash) inside the inserting transaction, under a lock on its tenant's chain
   * head held until that transaction commits: writers of one tenant take turns, whatever process they run in.
   */
  async append(event: NewDeploymentEvent): Promise<boolean> {
    const [added] = await this.appendMany([event]);
    return added ?? false;
  }

  /**
   * Appends events to the tenant's chain in the order given, in one transaction (the caller's, when it
   * runs in one): the chain head is locked once (with it, for a list, the keys already recorded are
   * read), and the new rows are inserted and the head moved in one statement. Answers, per event, whether it was added (false: its key was
   * already recorded, by an earlier attempt or earlier in the same list).
   *
   * `options.unrecorded`: the caller knows no event of the list can have been recorded before, because
   * each key names a row it created in this same transaction (a new intent's INTENT_CREATED): the read of
   * recorded keys is skipped. A key recorded after all then fails the insert (unique violation), and the
   * caller's transaction with it, instead of being skipped.
   */
  async appendMany(
    events: readonly NewDeploymentEvent[],
    options: { readonly unrecorded?: boolean } = {},
  ): Promise<boolean[]> {
    if (events.length === 0) return [];
    const unrecorded = options.unrecorded === true;
    if (this.db instanceof PgTransaction)
      return this.appendChained(this.db as Transaction, events, unrecorded);
    return this.db.transaction((tx) => this.appendChained(tx, events, unrecorded));
  }

  private async appendChained(
    tx: Transaction,
    events: readonly NewDeploymentEvent[],
    unrecorded: boolean,
  ): Promise<boolean[]> {
    // The tenant's chain head, created at genesis for its first event, locked until the transaction ends
    // (a conflicting insert's no-op update locks the row as SELECT … FOR UPDATE would).
    const lockHead = tx
      .insert(auditChainHeads)
      .values({ tenantId: this.tenantId, seq: 0, hash: GENESIS_HASH })
      .onConflictDoUpdate({ target: auditChainHeads.tenantId, set: { seq: sql`${auditChainHeads.seq}` } })
      .returning({ seq: auditChainHeads.seq, hash: auditChainHeads.hash });
    // A single event needs no read of recorded keys: its insert skips a key already recorded (below), and
    // then nothing else is written. Nor does a list its caller knows to be unrecorded. Any other list reads
    // them in the head's statement (one round trip). That read sees the statement's snapshot, taken before
    // the lock was granted: a key that a concurrent attempt of the same write committed meanwhile is not
    // seen, and the insert then fails on the (tenant, event key) unique index — a retryable error, whose
    // retry reads it. No other writer adds these keys.
    const single = events.length === 1;
    let head: { seq: number; hash: string } | undefined;
    const recorded = new Set<string>();
    if (single || unrecorded) {
      [head] = await lockHead;
    } else {
      const result = await tx.execute(sql`with head as ${lockHead}
        select head.seq, head.hash, array(
          select ${deploymentEvents.eventKey} from ${deploymentEvents}
          where ${and(
            eq(deploymentEvents.tenantId, this.tenantId),
            inArray(deploymentEvents.eventKey, [...new Set(events.map((event) => event.eventKey))]),
          )}
        ) as recorded
        from head`);
      const [row] = (result as { rows: { seq: number | string; hash: string; recorded: string[] }[] }).rows;
      if (row !== undefined) {
        head = { seq: Number(row.seq), hash: row.hash };
        for (const key of row.recorded) recorded.add(key);
      }
    }
    if (head === undefined) throw new Error(`audit chain head of tenant ${this.tenantId} vanished`);
    const added: boolean[] = [];
    const rows: (typeof deploymentEvents.$inferInsert & Omit<DeploymentEventRow, 'id'>)[] = [];
    let { seq, hash } = head;
    for (const event of events) {
      if (recorded.has(event.eventKey)) {
        added.push(false);
        continue;
      }
      recorded.add(event.eventKey);
      // Milliseconds, as the column stores them, so the hash covers exactly what is read back.
      const occurredAt = new Date((event.occurredAt ?? new Date()).getTime());
      const row = {
        ...event,
        tenantId: this.tenantId,
        intentId: event.intentId ?? null,
        payload: storedPayload(event.payload),
        occurredAt,
        seq: seq + 1,
        prevHash: hash,
      };
      hash = chainHash(hash, row);
      seq = row.seq;
      rows.push({ ...row, hash });
      added.push(true);
    }
    if (rows.length === 0) return added;
    const insert = tx.insert(deploymentEvents).values(rows);
    const returning = (
      single
        ? insert.onConflictDoNothing({ target: [deploymentEvents.tenantId, deploymentEvents.eventKey] })
        : insert
    ).returning({ id: deploymentEvents.id, seq: deploymentEvents.seq });
    // The events and the chain head's move in one statement (one round trip): the head moves only when an
    // event went in (a single event's insert skips a key already recorded, and then nothing is written).
    const result = await tx.execute(sql`with inserted as ${returning},
      moved as (
        update ${auditChainHeads} set "seq" = ${seq}, "hash" = ${hash}
        where ${auditChainHeads.tenantId} = ${this.tenantId} and exists (select 1 from inserted)
      )
      select id, seq from inserted`);
    const inserted = (result as { rows: { id: number | string; seq: number | string }[] }).rows.map(
      (row) => ({
        id: Number(row.id),
        seq: Number(row.seq),
      }),
    );
    if (single && inserted.length === 0) return [false];
    if (inserted.length !== rows.length) throw new Error('the audit event insert returned fewer rows');
    if (this.siemOutbox) {
      const idOf = new Map(inserted.map((row) => [row.seq, row.id]));
      // Same transaction as the events: each event and its SIEM record are durable together or not at all.
      const records = rows.flatMap((row) => {
        const eventId = idOf.get(row.seq);
        if (eventId === undefined || !isSiemForwarded(row.eventType)) return [];
        return [
          {
            tenantId: this.tenantId,
            recordId: siemEventRecordId(this.tenantId, eventId),
            eventId,
            record: siemEventRecord(eventId, row),
          },
        ];
      });
      if (records.length > 0) await tx.insert(siemOutbox).values(records);
    }
    return added;
  }

  /**
   * Recomputes this tenant's chain, from its first event or from `fromEventId`, in `seq` order: the count
   * of links that hold and the first that does not (an edited row, a removed or inserted one, or a chain
   * head that does not match the newest event). Undefined when `fromEventId` is not an event of the tenant.
   */
  async verifyChain(fromEventId?: number): Promise<ChainVerification | undefined> {
    let walker = new ChainWalker(GENESIS_HASH, 1);
    if (fromEventId !== undefined) {
      const [start] = await this.db
        .select({ seq: deploymentEvents.seq })
        .from(deploymentEvents)
        .where(and(eq(deploymentEvents.tenantId, this.tenantId), eq(deploymentEvents.id, fromEventId)));
      if (start === undefined) return undefined;
      const [previous] = await this.db
        .select({ hash: deploymentEvents.hash })
        .from(deploymentEvents)
        .where(and(eq(deploymentEvents.tenantId, this.tenantId), eq(deploymentEvents.seq, start.seq - 1)));
      walker = new ChainWalker(previous?.hash ?? GENESIS_HASH, start.seq);
      // A missing predecessor (other than for the first event) is itself a break, found below as a gap.
      if (start.seq > 1 && previous === undefined) walker = new ChainWalker(GENESIS_HASH, start.seq - 1);
    }
    const [recordedHead] = await this.db
      .select({ seq: auditChainHeads.seq, hash: auditChainHeads.hash })
      .from(auditChainHeads)
      .where(eq(auditChainHeads.tenantId, this.tenantId));
    const head = recordedHead ?? { seq: 0, hash: GENESIS_HASH };
    let last: ChainVerification['last'] = null;
    let from = walker.expectedSeq;
    for (;;) {
      const rows = await this.db
        .select()
        .from(deploymentEvents)
        .where(
          and(
            eq(deploymentEvents.tenantId, this.tenantId),
            gte(deploymentEvents.seq, from),
            // Events chained after the head was read belong to the next verification.
            lt(deploymentEvents.seq, head.seq + 1),
          ),
        )
        .orderBy(asc(deploymentEvents.seq))
        .limit(VERIFY_BATCH);
      for (const row of rows) {
        if (!walker.accept(row)) break;
        last = { eventId: row.id, seq: row.seq, hash: row.hash };
      }
      if (walker.broken !== undefined || rows.length < VERIFY_BATCH) break;
      from = walker.expectedSeq;
    }
    let brokenLink: ChainVerification['brokenLink'] = walker.broken ?? null;
    if (brokenLink === null && (walker.expectedSeq - 1 !== head.seq || walker.prevHash !== head.hash)) {
      // The newest events are gone, or the head was moved: the chain ends short of (or off) its head.
      brokenLink = { eventId: last?.eventId ?? 0, seq: walker.expectedSeq, reason: 'HEAD_MISMATCH' };
    }
    return { fromEventId: fromEventId ?? null, verified: walker.verified, last, head, brokenLink };
  }

  /** The trail in the order it was written, oldest first. */
  async list(
    filter: EventFilter,
    page: { limit: number; cursor?: string },
  ): Promise<Page<DeploymentEventRow>> {
    const conditions: SQL[] = [eq(deploymentEvents.tenantId, this.tenantId)];
    if (filter.intentId !== undefined) conditions.push(eq(deploymentEvents.intentId, filter.intentId));
    if (filter.correlationId !== undefined)
      conditions.push(eq(deploymentEvents.correlationId, filter.correlationId));
    if (filter.requestId !== undefined) conditions.push(eq(deploymentEvents.requestId, filter.requestId));
    if (filter.eventType !== undefined) conditions.push(eq(deploymentEvents.eventType, filter.eventType));
    if (page.cursor !== undefined) {
      const [afterId] = decodeCursor(page.cursor, ['row-id']);
      conditions.push(gt(deploymentEvents.id, afterId));
    }
    const rows = await this.db
      .select()
      .from(deploymentEvents)
      .where(and(...conditions))
      .orderBy(asc(deploymentEvents.id))
      .limit(page.limit + 1);
    return toPage(rows, page.limit, (row) => [row.id]);
  }

  /** Whether the intent's trail holds an event of this type recorded for the request with this key. */
  async recordsRequest(intentId: string, eventType: string, requestKey: string): Promise<boolean> {
    const rows = await this.db
      .select({ id: deploymentEvents.id })
      .from(deploymentEvents)
      .where(
        and(
          eq(deploymentEvents.tenantId, this.tenantId),
          eq(deploymentEvents.intentId, intentId),
          eq(deploymentEvents.eventType, eventType),
          sql`${deploymentEvents.payload} ->> 'request_key' = ${requestKey}`,
        ),
      )
      .limit(1);
    return rows.length > 0;
  }

  /** Every event of an intent, in chain order (for its evidence bundle). */
  async allForIntent(intentId: string): Promise<DeploymentEventRow[]> {
    return this.db
      .select()
      .from(deploymentEvents)
      .where(and(eq(deploymentEvents.tenantId, this.tenantId), eq(deploymentEvents.intentId, intentId)))
      .orderBy(asc(deploymentEvents.seq));
  }

  /** The tenant's chain head: the newest chained event's position and hash; undefined before the first. */
  async chainHead(): Promise<{ seq: number; hash: string } | undefined> {
    const [head] = await this.db
      .select({ seq: auditChainHeads.seq, hash: auditChainHeads.hash })
      .from(auditChainHeads)
      .where(eq(auditChainHeads.tenantId, this.tenantId));
    return head;
  }

  /** The newest `limit` events of an intent, returned oldest first. */
  async recentForIntent(intentId: string, limit: number): Promise<DeploymentEventRow[]> {
    const rows = await this.db
      .select()
      .from(deploymentEvents)
      .where(and(eq(deploymentEvents.tenantId, this.tenantId), eq(deploymentEvents.intentId, intentId)))
      .orderBy(desc(deploymentEvents.id))
      .limit(limit);
    return rows.reverse();
  }
}
