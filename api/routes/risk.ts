import { randomUUID } from 'node:crypto';
import type { TenantStore } from '../../db/tenant-store';
import { assignConnectors } from '../../policy/connectors';
import { missingEvidence } from '../../policy/evidence-pack';
import type { EvidencePack } from '../../policy/evidence-pack';
import { RISK_MODEL_V1, riskModelDefinitionSchema } from '../../policy/risk-model';
import { scoreRisk } from '../../policy/risk-scoring';
import { endpoint, roles } from '../endpoint';
import type { Endpoint } from '../endpoint';
import { problems } from '../problem';
import { evidenceHash, refuseUnsupportedConnectors } from '../services/intents';
import { requireActor, riskSummaryBody } from '../schemas/common';
import {
  riskEvaluationRequestSchema,
  riskEvaluationSchema,
  riskModelBody,
  riskModelListSchema,
  riskModelSchema,
  riskModelSummaryBody,
  riskModelVersionParams,
} from '../schemas/risk';

const RISK_READERS = roles('submitter', 'cab_member', 'operator', 'auditor');
/** `roles()` with no role named admits admins only. */
const ADMINS_ONLY = roles();

/** The evidence of a dry run, inline or stored; nothing is written either way. */
async function evidenceToScore(
  store: TenantStore,
  body: { evidence_pack?: EvidencePack | undefined; evidence_pack_id?: string | undefined },
): Promise<{ content: EvidencePack; contentHash: string }> {
  if (body.evidence_pack !== undefined) {
    return { content: body.evidence_pack, contentHash: evidenceHash(body.evidence_pack) };
  }
  const row =
    body.evidence_pack_id === undefined ? undefined : await store.evidencePacks.get(body.evidence_pack_id);
  if (row === undefined) {
    throw problems.unprocessable('unknown-evidence-pack', 'the evidence pack does not exist', [
      { field: 'evidence_pack_id', message: 'names no evidence pack of this tenant' },
    ]);
  }
  return row;
}

export function riskEndpoints(): Endpoint[] {
  /** A tenant's first look at risk installs model v1.0, so every tenant has exactly one active model. */
  const tenantModels = async (store: TenantStore) => {
    const active = await store.riskModels.activeOrInstall(RISK_MODEL_V1, new Date());
    return { store, active };
  };

  return [
    endpoint({
      operationId: 'evaluateRisk',
      method: 'post',
      path: '/risk/evaluate',
      summary: 'Dry-run a risk assessment',
      description:
        'Scores evidence against the active risk model (or `model_version`) as an intent would be ' +
        'scored now, and names the evidence an intent would still require. Stores nothing: no ' +
        'evidence pack, no assessment, no audit event.',
      tags: ['Risk'],
      access: roles('submitter', 'cab_member'),
      request: { body: riskEvaluationRequestSchema },
      responses: { 200: { description: 'The score the intent would get', schema: riskEvaluationSchema } },
      errors: [404, 413, 422],
      async handle({ body, tenantStore }) {
        refuseUnsupportedConnectors(body.connectors);
        const { store, active } = await tenantModels(tenantStore());
        const evidence = await evidenceToScore(store, body);
        const model =
          body.model_version === undefined || body.model_version === active.version
            ? active
            : await store.riskModels.get(body.model_version);
        if (model === undefined) throw problems.notFound(`risk model ${String(body.model_version)}`);
        const asOf = new Date().toISOString();
        const risk = scoreRisk(model.definition, {
          evidence: evidence.content,
          targetRing: body.target_ring,
          targetPlatforms: assignConnectors(body.connectors).flatMap((assignment) => assignment.platforms),
          targetDeviceCount: body.target_device_count,
          asOf,
        });
        return {
          status: 200,
          body: {
            ...riskSummaryBody({ ...risk, evidenceHash: evidence.contentHash }),
            missing_evidence: missingEvidence(evidence.content),
            as_of: asOf,
          },
        };
      },
    }),
    endpoint({
      operationId: 'listRiskModels',
      method: 'get',
      path: '/risk-models',
      summary: 'List risk model versions',
      tags: ['Risk'],
      access: RISK_READERS,
      responses: { 200: { description: 'Every version of this tenant', schema: riskModelListSchema } },
      async handle({ tenantStore }) {
        const { store } = await tenantModels(tenantStore());
        const rows = await store.riskModels.list();
        return { status: 200, body: { items: rows.map(riskModelSummaryBody) } };
      },
    }),
    endpoint({
      operationId: 'getRiskModel',
      method: 'get',
      path: '/risk-models/{version}',
      summary: 'Read a risk model version, rubrics included',
      tags: ['Risk'],
      access: RISK_READERS,
      request: { params: riskModelVersionParams },
      responses: { 200: { description: 'The risk model', schema: riskModelSchema } },
      errors: [404],
      async handle({ params, tenantStore }) {
        const { store } = await tenantModels(tenantStore());
        const row = await store.riskModels.get(params.version);
        if (row === undefined) throw problems.notFound(`risk model ${params.version}`);
        return { status: 200, body: riskModelBody(row) };
      },
    }),
    endpoint({
      operationId: 'createRiskModel',
      method: 'post',
      path: '/risk-models',
      summary: 'Create a risk model version (inactive)',
      description:
        'Versions are immutable: to retune a model, create a new version and activate it. ' +
        'Factor weights must sum to 1.',
      tags: ['Risk'],
      access: ADMINS_ONLY,
      request: { body: riskModelDefinitionSchema },
      responses: {
        201: {
          description: 'Created, not yet active',
          schema: riskModelSchema,
          headers: { Location: { description: 'the new version', schema: { type: 'string' } } },
        },
      },
      errors: [409, 413],
      idempotency: 'transactional',
      async handle({ body, actor, requestId, tenantStore }) {
        const caller = requireActor(actor);
        const { store } = await tenantModels(tenantStore());
        const created = await store.transaction(async (tx) => {
          const row = await tx.riskModels.create(body, caller.id);
          if (row === undefined) {
            throw problems.conflict(
              'risk-model-version-exists',
              `risk model ${body.version} already exists; versions are immutable, create a new one`,
            );
          }
          await tx.events.append({
            // Keyed and correlated by the model's row id: its events share it, and no client text is a key.
            eventKey: `risk-model:${row.id}:created`,
            eventType: 'RISK_MODEL_CREATED',
            intentId: null,
            correlationId: row.id,
            requestId,
            actor: caller.id,
            payload: {
              version: row.version,
              threshold: body.threshold,
              weights: Object.fromEntries(body.factors.map((factor) => [factor.id, factor.weight])),
            },
            occurredAt: row.createdAt,
          });
          return row;
        });
        return {
          status: 201,
          body: riskModelBody(created),
          headers: { Location: `/api/v1/risk-models/${created.version}` },
        };
      },
    }),
    endpoint({
      operationId: 'activateRiskModel',
      method: 'post',
      path: '/risk-models/{version}/activate',
      summary: 'Make a version the active risk model',
      description:
        'New intents (and dry runs without `model_version`) are scored with it; intents already ' +
        'assessed keep their assessment. Activating the active version changes nothing.',
      tags: ['Risk'],
      access: ADMINS_ONLY,
      request: { params: riskModelVersionParams },
      responses: { 200: { description: 'The active model', schema: riskModelSchema } },
      errors: [404],
      idempotency: 'transactional',
      async handle({ params, actor, requestId, tenantStore }) {
        const caller = requireActor(actor);
        const { store } = await tenantModels(tenantStore());
        const at = new Date();
        const activated = await store.transaction(async (tx) => {
          const previous = await tx.riskModels.lockForActivation();
          if (previous?.version === params.version) return previous;
          const row = await tx.riskModels.activate(params.version, at);
          if (row === undefined) throw problems.notFound(`risk model ${params.version}`);
          await tx.events.append({
            // One key per activation (a version can be activated again, within the same millisecond too).
            eventKey: `risk-model:${row.id}:activated:${randomUUID()}`,
            eventType: 'RISK_MODEL_ACTIVATED',
            intentId: null,
            correlationId: row.id,
            requestId,
            actor: caller.id,
            payload: { version: row.version, previousVersion: previous?.version ?? null },
            occurredAt: at,
          });
          return row;
        });
        return { status: 200, body: riskModelBody(activated) };
      },
    }),
  ];
}
