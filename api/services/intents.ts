import { createHash, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { TenantStore } from '../../db/tenant-store';
import type { DeploymentIntentRow } from '../../db/repositories/deployment-intents';
import type { NewDeploymentEvent } from '../../db/repositories/deployment-events';
import type { EvidencePackRow } from '../../db/repositories/evidence-packs';
import { assessmentOf, riskSummaryOf } from '../../db/repositories/risk-assessments';
import { canonicalJson } from '../../policy/canonical-json';
import { assignConnectors, unsupportedPlatforms } from '../../policy/connectors';
import type { ConnectorType, Platform } from '../../policy/connectors';
import { missingEvidence } from '../../policy/evidence-pack';
import type { EvidencePack } from '../../policy/evidence-pack';
import type { Ring } from '../../policy/rings';
import type { RolloutPolicy } from '../../policy/rollout-policy';
import { RISK_MODEL_V1 } from '../../policy/risk-model';
import { scoreRisk } from '../../policy/risk-scoring';
import { IntentWorkflows } from '../../runtime/intent-workflows';
import type { StartedWithRisk } from '../../runtime/intent-workflows';
import { unavailableDependency } from '../../runtime/dependency-failure';
import type { Logger } from '../../runtime/logger';
import { riskAssessedUpdate, workflowIdForIntent } from '../../workflows/definitions';
import type { RiskSummary, SubmittedAssessment } from '../../workflows/definitions';
import { problems } from '../problem';
import type { Actor } from '../request-context';

export interface IntentSubmission {
  readonly appName: string;
  readonly version: string;
  readonly targetRing: Ring;
  readonly connectors: Partial<Record<Platform, ConnectorType>>;
  readonly evidencePack?: EvidencePack;
  readonly evidencePackId?: string;
  readonly targetDeviceCount?: number;
}

/** A submission under an Idempotency-Key: every attempt of the key records the same intent id. */
export interface KeyedSubmission {
  readonly key: string;
  readonly intentId: string;
}

export interface SubmittedIntent {
  readonly intent: DeploymentIntentRow;
  readonly risk: RiskSummary | null;
  /** True when an earlier request with the same idempotency key recorded it. */
  readonly replayed: boolean;
}

export interface IntentServiceOptions {
  readonly client: Client;
  readonly taskQueue: string;
  readonly rolloutPolicy: RolloutPolicy;
  readonly logger: Logger;
  /** How long a submission waits for the workflow's risk assessment before answering without it. */
  readonly riskWaitMs?: number;
  /**
   * How long a submission keeps retrying a Temporal server it cannot reach before answering 503 (the
   * request's Temporal budget, TEMPORAL_CALL_TIMEOUT; default 2 s). The risk wait is longer: one call
   * carries the start and that wait.
   */
  readonly unreachableAfterMs?: number;
}

/** 422 naming each platform whose assigned connector cannot reach it. */
export function refuseUnsupportedConnectors(connectors: Partial<Record<Platform, ConnectorType>>): void {
  const unsupported = unsupportedPlatforms(connectors);
  if (unsupported.length === 0) return;
  throw problems.unprocessable(
    'unsupported-connector',
    'a connector cannot reach a platform it was assigned',
    unsupported.map((platform) => ({
      field: `connectors.${platform}`,
      message: `${String(connectors[platform])} does not manage ${platform} endpoints`,
    })),
  );
}

/** SHA-256 of the canonical JSON: the evidence pack's content address. */
export function evidenceHash(pack: EvidencePack): string {
  return createHash('sha256').update(canonicalJson(pack)).digest('hex');
}

/** The evidence of a submission: its content, and its stored row unless it came inline and is not stored yet. */
interface SubmittedEvidence {
  readonly content: EvidencePack;
  readonly contentHash: string;
  readonly row: EvidencePackRow | undefined;
}

/** 422 naming every part of the pack that an intent requires and it lacks. */
function refuseIncompleteEvidence(pack: EvidencePack): void {
  const missing = missingEvidence(pack);
  if (missing.length === 0) return;
  throw problems.unprocessable(
    'incomplete-evidence',
    `the evidence pack lacks: ${missing.join(', ')}`,
    missing.map((part) => ({ field: `evidence_pack.${part}`, message: 'is required before deployment' })),
  );
}

/** The audit event of a newly stored pack, correlated with the intent it came with or with the pack itself. */
function evidencePackStored(
  row: EvidencePackRow,
  actor: Actor,
  requestId: string | null,
  correlationId: string,
): NewDeploymentEvent {
  return {
    eventKey: `evidence-pack:${row.id}`,
    eventType: 'EVIDENCE_PACK_STORED',
    intentId: null,
    correlationId,
    requestId,
    actor: actor.id,
    payload: { evidencePackId: row.id, contentHash: row.contentHash },
  };
}

/** The 503 of a keyed submission whose workflow did not start: the intent waits, startable. */
function startRefused(intent: DeploymentIntentRow, cause: unknown) {
  return problems.unavailable(
    `the orchestrator did not accept intent ${intent.id}; it is recorded and starts when you retry ` +
      'with the same Idempotency-Key (or when the reconciler finds it)',
    cause,
  );
}

/**
 * Accepts deployment intents: evidence first (without a complete pack nothing is written), then one
 * transaction for the inline pack (and its EVIDENCE_PACK_STORED when new), the read-model row and
 * INTENT_CREATED, then the workflow under a deterministic id (so a retry never starts a second one),
 * started together with the wait for its risk assessment in one call.
 */
export class IntentService {
  private readonly workflows: IntentWorkflows;

  constructor(private readonly options: IntentServiceOptions) {
    this.workflows = new IntentWorkflows(options);
  }

  /**
   * Stores a pack sent on its own, once per content; its event is correlated with the pack's id. (A pack
   * sent inline with an intent is stored by `submit`, in the intent's transaction.)
   */
  async storeEvidencePack(
    store: TenantStore,
    actor: Actor,
    requestId: string | null,
    pack: EvidencePack,
  ): Promise<{ row: EvidencePackRow; created: boolean }> {
    const contentHash = evidenceHash(pack);
    return store.transaction(async (tx) => {
      const stored = await tx.evidencePacks.store({ contentHash, content: pack, createdBy: actor.id });
      if (stored.created) {
        await tx.events.append(evidencePackStored(stored.row, actor, requestId, stored.row.id));
      }
      return stored;
    });
  }

  async submit(
    store: TenantStore,
    actor: Actor,
    requestId: string | null,
    submission: IntentSubmission,
    keyed: KeyedSubmission | undefined,
  ): Promise<SubmittedIntent> {
    if (keyed !== undefined) {
      const earlier = await store.intents.get(keyed.intentId);
      if (earlier !== undefined) return this.resume(store, actor, requestId, earlier);
    }

    refuseUnsupportedConnectors(submission.connectors);
    const evidence = await this.resolveEvidence(store, submission);
    // Refused before anything is written: an inline pack is stored only with the intent it came with.
    refuseIncompleteEvidence(evidence.content);

    // The workflow's input: scored now, recorded by the workflow with its first decision.
    const assessment = await this.assess(store, submission, evidence);

    // The server's own, unique in the tenant: a client's X-Correlation-ID is only the request id.
    const correlationId = randomUUID();
    const intentId = keyed?.intentId ?? randomUUID();
    // One transaction: the inline pack, the intent and their audit events are recorded together or not at all.
    const created = await store.transaction(async (tx) => {
      const events: NewDeploymentEvent[] = [];
      let pack = evidence.row;
      if (pack === undefined) {
        const stored = await tx.evidencePacks.store({
          contentHash: evidence.contentHash,
          content: evidence.content,
          createdBy: actor.id,
        });
        pack = stored.row;
        if (stored.created) events.push(evidencePackStored(pack, actor, requestId, correlationId));
      }
      const row = await tx.intents.create({
        id: intentId,
        appName: submission.appName,
        version: submission.version,
        targetRing: submission.targetRing,
        connectors: assignConnectors(submission.connectors),
        evidencePackId: pack.id,
        submitterId: actor.id,
        status: 'SUBMITTED',
        correlationId,
        workflowId: workflowIdForIntent(intentId),
        idempotencyKey: keyed?.key ?? null,
        // The workflow input, fixed now: a start after a crash or an outage runs this same rollout.
        targetDeviceCount: submission.targetDeviceCount ?? null,
        rolloutPolicy: this.options.rolloutPolicy,
        riskAssessment: assessment,
      });
      if (row !== undefined) {
        events.push({
          eventKey: `${intentId}:0000:INTENT_CREATED`,
          eventType: 'INTENT_CREATED',
          intentId,
          correlationId,
          requestId,
          actor: actor.id,
          payload: {
            appName: row.appName,
            version: row.version,
            targetRing: row.targetRing,
            connectors: row.connectors,
            evidencePackId: pack.id,
            evidenceHash: pack.contentHash,
          },
        });
      }
      // The chain head is locked once for both events. A pack this attempt stored keeps its event even when
      // the intent conflicts (another attempt under the same key recorded it): every stored pack has one.
      // Both keys name rows this transaction created, so neither can be recorded yet: no read of the keys.
      await tx.events.appendMany(events, { unrecorded: true });
      return row;
    });
    if (created === undefined) {
      // Another attempt under the same Idempotency-Key recorded the intent first: go on with its row.
      const winner = await store.intents.get(intentId);
      if (winner === undefined) throw new Error(`intent ${intentId} conflicted but cannot be read`);
      return this.resume(store, actor, requestId, winner);
    }

    let started: StartedWithRisk;
    try {
      // One round trip: the start and the wait for the workflow's risk assessment (update-with-start).
      const now = Date.now();
      started = await this.workflows.startWithRisk(created, {
        answer: now + this.riskWaitMs(),
        reach: now + (this.options.unreachableAfterMs ?? 2_000),
      });
    } catch (error) {
      if (keyed !== undefined) throw startRefused(created, error);
      // Without a key the client cannot ask for this intent again and will submit anew: close it, unless
      // the start took effect and only its answer was lost (the workflow has begun: answer as started).
      if (!(await this.markStartFailed(store, created, requestId, error))) {
        return { intent: created, risk: await this.awaitRisk(created), replayed: false };
      }
      throw problems.unavailable(
        `the orchestrator did not accept intent ${intentId}; it is marked FAILED, submit it again`,
        error,
      );
    }
    if ('unanswered' in started) this.riskLate(created, started.unanswered);
    return { intent: created, risk: started.risk, replayed: false };
  }

  /**
   * A submission whose Idempotency-Key recorded the intent before: the earlier attempt died, or the
   * orchestrator refused its start. Starts the workflow if it is still missing, then answers as a
   * first attempt would have.
   */
  private async resume(
    store: TenantStore,
    actor: Actor,
    requestId: string | null,
    earlier: DeploymentIntentRow,
  ): Promise<SubmittedIntent> {
    if (earlier.status !== 'SUBMITTED') {
      const assessment = await store.riskAssessments.forIntent(earlier.id);
      return {
        intent: earlier,
        risk: assessment === undefined ? null : riskSummaryOf(assessment),
        replayed: true,
      };
    }
    try {
      await this.workflows.recover(store, earlier, {
        actor: actor.id,
        requestId,
        trigger: 'retried submission',
      });
    } catch (error) {
      // The database failing to record the recovery is its own 503; anything else is the start's.
      if (unavailableDependency(error) === 'database') throw error;
      throw startRefused(earlier, error);
    }
    return { intent: earlier, risk: await this.awaitRisk(earlier), replayed: true };
  }

  /**
   * The intent's risk: the tenant's active model (installed on first use) applied to the validated pack,
   * as of now. Deterministic: the model version, the evidence hash and `assessedAt` reproduce it.
   */
  private async assess(
    store: TenantStore,
    submission: IntentSubmission,
    evidence: SubmittedEvidence,
  ): Promise<SubmittedAssessment> {
    const assessedAt = new Date().toISOString();
    const model = await store.riskModels.activeOrInstall(RISK_MODEL_V1, new Date(assessedAt));
    const risk = scoreRisk(model.definition, {
      evidence: evidence.content,
      targetRing: submission.targetRing,
      targetPlatforms: assignConnectors(submission.connectors).flatMap((assignment) => assignment.platforms),
      ...(submission.targetDeviceCount === undefined
        ? {}
        : { targetDeviceCount: submission.targetDeviceCount }),
      asOf: assessedAt,
    });
    return assessmentOf(risk, evidence.contentHash, assessedAt);
  }

  /** The pack an intent comes with: posted inline (not stored yet), or stored before and named by its id. */
  private async resolveEvidence(
    store: TenantStore,
    submission: IntentSubmission,
  ): Promise<SubmittedEvidence> {
    if (submission.evidencePack !== undefined) {
      const content = submission.evidencePack;
      return { content, contentHash: evidenceHash(content), row: undefined };
    }
    const id = submission.evidencePackId;
    const row = id === undefined ? undefined : await store.evidencePacks.get(id);
    if (row === undefined) {
      throw problems.unprocessable('unknown-evidence-pack', 'the evidence pack does not exist', [
        { field: 'evidence_pack_id', message: 'names no evidence pack of this tenant' },
      ]);
    }
    return { content: row.content, contentHash: row.contentHash, row };
  }

  /** FAILED and audited, unless the workflow began after all; true when marked. */
  private async markStartFailed(
    store: TenantStore,
    intent: DeploymentIntentRow,
    requestId: string | null,
    error: unknown,
  ): Promise<boolean> {
    const at = new Date();
    return store.transaction(async (tx) => {
      if (!(await tx.intents.giveUpUnstarted(intent.id, at))) return false;
      await tx.events.append({
        eventKey: `${intent.id}:0000:WORKFLOW_START_FAILED`,
        eventType: 'FAILED',
        intentId: intent.id,
        correlationId: intent.correlationId,
        requestId,
        actor: 'system:api',
        payload: {
          reason: 'the workflow could not be started',
          error: error instanceof Error ? error.message : 'unknown',
        },
        occurredAt: at,
      });
      return true;
    });
  }

  private riskWaitMs(): number {
    return this.options.riskWaitMs ?? 10_000;
  }

  private riskLate(intent: DeploymentIntentRow, error: unknown): void {
    this.options.logger.warn(
      { err: error, intentId: intent.id },
      'risk not assessed in time; answering without it',
    );
  }

  /**
   * The workflow's own assessment, so the answer shows exactly what the rollout will act on: for a
   * workflow started earlier (a retried submission, a start whose answer was lost).
   */
  private async awaitRisk(intent: DeploymentIntentRow): Promise<RiskSummary | null> {
    const handle = this.options.client.workflow.getHandle(intent.workflowId);
    try {
      return await this.options.client.withDeadline(Date.now() + this.riskWaitMs(), () =>
        handle.executeUpdate(riskAssessedUpdate),
      );
    } catch (error) {
      this.riskLate(intent, error);
      return null;
    }
  }
}
