import { and, asc, eq, inArray, isNotNull, isNull, sql } from 'drizzle-orm';
import { PgTransaction } from 'drizzle-orm/pg-core';
import type { Database, DatabaseExecutor } from '../client';
import type { TenantId } from '../tenant-id';
import { deploymentIntents, evidencePacks, ringDeployments } from '../schema';
import type { RingDeploymentKind, RingDeploymentOutcome, RingDeploymentStatus } from '../schema';
import type { Ring } from '../../policy/rings';
import type { GateVerdict } from '../../policy/promotion-gate';
import type { EvidencePack } from '../../policy/evidence-pack';

type RollbackStep = NonNullable<EvidencePack['rollback_plan']>['steps'][number];

/** What a connector needs of an evidence pack; null where the pack has nothing. */
export interface ConnectorEvidence {
  readonly artifact_hash: string | null;
  readonly artifact_storage_url: string | null;
  readonly artifact_size_bytes: number | null;
  readonly rollback_steps: readonly RollbackStep[] | null;
}

export type RingDeploymentRow = typeof ringDeployments.$inferSelect;
export type NewRingDeployment = Omit<
  typeof ringDeployments.$inferInsert,
  'id' | 'tenantId' | 'status' | 'successCount' | 'failureCount' | 'outcome' | 'gateVerdict'
>;

const OPEN: RingDeploymentStatus[] = ['PENDING', 'IN_PROGRESS'];

/** How the seed's connectors name a ring deployment: the intent's correlation id, the ring and the action. */
export interface RingDeploymentKey {
  readonly correlationId: string;
  readonly ring: Ring;
  readonly connectorType: string;
  /** The deployment or the rollback; a ring may have both. */
  readonly kind: RingDeploymentKind;
}

export class RingDeploymentRepository {
  constructor(
    private readonly db: DatabaseExecutor,
    private readonly tenantId: TenantId,
  ) {}

  /**
   * Records that a ring waits for its connector. A retried activity attempt updates the attempt number
   * and keeps the counts already reported: the connector completes it by workflow and activity id.
   */
  /**
   * Records a pending deployment (or a retry's new attempt). Its correlation id is the intent row's: the
   * one given stands only for an intent with no row (a workflow's input may carry the shared id an intent
   * had before correlation ids were unique, which a migration replaced).
   */
  async recordPending(deployment: NewRingDeployment): Promise<RingDeploymentRow> {
    const correlationId = sql<string>`coalesce((select ${deploymentIntents.correlationId} from ${deploymentIntents}
      where ${deploymentIntents.tenantId} = ${this.tenantId} and ${deploymentIntents.id} = ${deployment.intentId}),
      ${deployment.correlationId})`;
    const [row] = await this.db
      .insert(ringDeployments)
      .values({ ...deployment, correlationId, tenantId: this.tenantId, status: 'PENDING' })
      .onConflictDoUpdate({
        target: [
          ringDeployments.intentId,
          ringDeployments.ring,
          ringDeployments.kind,
          ringDeployments.connectorType,
        ],
        set: {
          attempt: deployment.attempt ?? 1,
          activityId: deployment.activityId,
          deadlineAt: deployment.deadlineAt,
        },
        setWhere: eq(ringDeployments.tenantId, this.tenantId),
      })
      .returning();
    if (row === undefined) throw new Error('ring deployment belongs to another tenant');
    return row;
  }

  async get(id: string): Promise<RingDeploymentRow | undefined> {
    const [row] = await this.db
      .select()
      .from(ringDeployments)
      .where(and(eq(ringDeployments.tenantId, this.tenantId), eq(ringDeployments.id, id)));
    return row;
  }

  /**
   * Every deployment (or rollback) a connector's reference names. Correlation ids are unique per
   * tenant, so this is at most one row; more means the reference is ambiguous and nothing is guessed.
   */
  async findByReference(key: RingDeploymentKey): Promise<RingDeploymentRow[]> {
    return this.db
      .select()
      .from(ringDeployments)
      .where(this.matches(key))
      .orderBy(asc(ringDeployments.startedAt))
      .limit(2);
  }

  /** Every connector's deployments and rollbacks of this ring of one intent. */
  async forRing(correlationId: string, ring: Ring): Promise<RingDeploymentRow[]> {
    return this.db
      .select()
      .from(ringDeployments)
      .where(
        and(
          eq(ringDeployments.tenantId, this.tenantId),
          eq(ringDeployments.correlationId, correlationId),
          eq(ringDeployments.ring, ring),
        ),
      )
      .orderBy(asc(ringDeployments.startedAt));
  }

  /** Reads the row and locks it until the transaction ends: reports on one ring deployment take turns. */
  async lockForReport(id: string): Promise<RingDeploymentRow | undefined> {
    const [row] = await this.db
      .select()
      .from(ringDeployments)
      .where(and(eq(ringDeployments.tenantId, this.tenantId), eq(ringDeployments.id, id)))
      .for('update');
    return row;
  }

  /**
   * Records a connector's report on an open row. A final report fixes the counts the gate will judge;
   * the row stays open (and listed) until Temporal has taken it (`markReported`).
   */
  async recordReport(
    id: string,
    report: {
      successCount: number;
      failureCount: number;
      /** Undefined keeps the id an earlier report gave. */
      connectorObjectId: string | undefined;
      final: boolean;
      at: Date;
    },
  ): Promise<RingDeploymentRow | undefined> {
    const [row] = await this.db
      .update(ringDeployments)
      .set({
        successCount: report.successCount,
        failureCount: report.failureCount,
        ...(report.connectorObjectId === undefined ? {} : { connectorObjectId: report.connectorObjectId }),
        lastReportAt: report.at,
        status: 'IN_PROGRESS',
        ...(report.final ? { finalReportedAt: report.at } : {}),
      })
      .where(
        and(
          eq(ringDeployments.tenantId, this.tenantId),
          eq(ringDeployments.id, id),
          inArray(ringDeployments.status, OPEN),
          isNull(ringDeployments.finalReportedAt),
        ),
      )
      .returning();
    return row;
  }

  /** Temporal took the recorded final report: the row is REPORTED (unless the workflow settled it already). */
  async markReported(id: string, at: Date): Promise<RingDeploymentRow | undefined> {
    const [row] = await this.db
      .update(ringDeployments)
      .set({ status: 'REPORTED', completedAt: at })
      .where(
        and(
          eq(ringDeployments.tenantId, this.tenantId),
          eq(ringDeployments.id, id),
          inArray(ringDeployments.status, OPEN),
          isNotNull(ringDeployments.finalReportedAt),
        ),
      )
      .returning();
    return row;
  }

  async settle(
    intentId: string,
    ring: Ring,
    kind: RingDeploymentKind,
    connectorType: string,
    settlement: {
      status?: RingDeploymentStatus;
      outcome: RingDeploymentOutcome;
      gateVerdict?: GateVerdict;
      /** The counts the connector completed the activity with: they win over any lost interim write. */
      report?: { successCount: number; failureCount: number; connectorObjectId?: string };
      completedAt: Date;
    },
  ): Promise<void> {
    const { status, report, ...rest } = settlement;
    await this.db
      .update(ringDeployments)
      .set({
        ...rest,
        ...(status === undefined ? {} : { status }),
        ...(report === undefined ? {} : { ...report, status: status ?? 'REPORTED' }),
      })
      .where(
        and(
          eq(ringDeployments.tenantId, this.tenantId),
          eq(ringDeployments.intentId, intentId),
          eq(ringDeployments.ring, ring),
          eq(ringDeployments.kind, kind),
          eq(ringDeployments.connectorType, connectorType),
        ),
      );
  }

  async forIntent(intentId: string): Promise<RingDeploymentRow[]> {
    return this.db
      .select()
      .from(ringDeployments)
      .where(and(eq(ringDeployments.tenantId, this.tenantId), eq(ringDeployments.intentId, intentId)))
      .orderBy(asc(ringDeployments.startedAt));
  }

  /**
   * What a connector has to carry out: its open deployments, or its open rollbacks (never both in one
   * list), with the artifact to install and the intent's evidence pack.
   */
  /**
   * The open items of one connector type and the given kinds, oldest first and at most 500 of each
   * kind, each with the parts of its evidence pack a connector needs (the artifact and the rollback
   * plan), not the whole pack. Several kinds are one statement (UNION ALL of one branch per kind). It is
   * what every connector poll asks: a prepared statement, built once per database and shape.
   */
  async openForConnector(connectorType: string, kinds: OpenKinds, ring?: Ring) {
    const parameters = { tenantId: this.tenantId, connectorType, ring: ring ?? null };
    const rows =
      this.db instanceof PgTransaction
        ? await openWorkQuery(this.db, kinds, ring !== undefined).execute(parameters)
        : await preparedOpenWork(this.db, kinds, ring !== undefined).execute(parameters);
    return rows.sort((a, b) => a.deployment.startedAt.getTime() - b.deployment.startedAt.getTime());
  }

  private matches(key: RingDeploymentKey) {
    return and(
      eq(ringDeployments.tenantId, this.tenantId),
      eq(ringDeployments.correlationId, key.correlationId),
      eq(ringDeployments.ring, key.ring),
      eq(ringDeployments.connectorType, key.connectorType),
      eq(ringDeployments.kind, key.kind),
    );
  }
}

export type OpenKinds = readonly [RingDeploymentKind] | readonly [RingDeploymentKind, RingDeploymentKind];

/** One branch of the open-work statement: one kind, parameters `tenantId`, `connectorType` (and `ring`). */
function openWorkBranch(db: DatabaseExecutor, kind: RingDeploymentKind, withRing: boolean) {
  const tenantId = sql.placeholder('tenantId');
  const conditions = [
    eq(ringDeployments.tenantId, tenantId),
    eq(ringDeployments.connectorType, sql.placeholder('connectorType')),
    eq(ringDeployments.kind, kind),
    inArray(ringDeployments.status, OPEN),
  ];
  if (withRing) conditions.push(eq(ringDeployments.ring, sql.placeholder('ring')));
  const content = evidencePacks.content;
  return db
    .select({
      deployment: ringDeployments,
      // Absent keys come back as SQL NULL (JSON null): the caller reads null as absent.
      evidence: sql<ConnectorEvidence>`jsonb_build_object(
          'artifact_hash', ${content}->'artifact_hash',
          'artifact_storage_url', ${content}->'artifact_storage_url',
          'artifact_size_bytes', ${content}->'artifact_size_bytes',
          'rollback_steps', ${content}->'rollback_plan'->'steps')`.as('evidence'),
      evidencePackId: deploymentIntents.evidencePackId,
      targetRing: deploymentIntents.targetRing,
    })
    .from(ringDeployments)
    .innerJoin(
      deploymentIntents,
      and(eq(deploymentIntents.id, ringDeployments.intentId), eq(deploymentIntents.tenantId, tenantId)),
    )
    .innerJoin(evidencePacks, eq(evidencePacks.id, deploymentIntents.evidencePackId))
    .where(and(...conditions))
    .orderBy(asc(ringDeployments.startedAt))
    .limit(500);
}

function openWorkQuery(db: DatabaseExecutor, kinds: OpenKinds, withRing: boolean) {
  const first = openWorkBranch(db, kinds[0], withRing);
  return kinds[1] === undefined ? first : first.unionAll(openWorkBranch(db, kinds[1], withRing));
}

type PreparedOpenWork = ReturnType<ReturnType<typeof openWorkQuery>['prepare']>;
const preparedOpenWorkStatements = new WeakMap<Database, Map<string, PreparedOpenWork>>();

function preparedOpenWork(db: Database, kinds: OpenKinds, withRing: boolean): PreparedOpenWork {
  const name = `eucora_open_work_${kinds.join('_').toLowerCase()}${withRing ? '_ring' : ''}`;
  let statements = preparedOpenWorkStatements.get(db);
  if (statements === undefined) {
    statements = new Map();
    preparedOpenWorkStatements.set(db, statements);
  }
  let prepared = statements.get(name);
  if (prepared === undefined) {
    prepared = openWorkQuery(db, kinds, withRing).prepare(name);
    statements.set(name, prepared);
  }
  return prepared;
}
