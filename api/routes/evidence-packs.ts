import { evidencePackSchema } from '../../policy/evidence-pack';
import { endpoint, roles } from '../endpoint';
import type { Endpoint } from '../endpoint';
import { problems } from '../problem';
import { idParams, requireActor } from '../schemas/common';
import { storedEvidencePackBody, storedEvidencePackSchema } from '../schemas/evidence-packs';
import type { RouteDependencies } from './dependencies';

/** Evidence packs are immutable and content-addressed: there is deliberately no PUT, PATCH or DELETE. */
export function evidencePackEndpoints(deps: RouteDependencies): Endpoint[] {
  return [
    endpoint({
      operationId: 'storeEvidencePack',
      method: 'post',
      path: '/evidence-packs',
      summary: 'Store an evidence pack',
      description:
        'Stores the pack once, addressed by the SHA-256 of its canonical JSON. Posting the same content ' +
        'again (in any key order) answers 200 with the pack already stored. `missing_evidence` names ' +
        'the parts an intent will still require.',
      tags: ['Evidence packs'],
      access: roles('submitter'),
      request: { body: evidencePackSchema },
      responses: {
        201: {
          description: 'Stored',
          schema: storedEvidencePackSchema,
          headers: { Location: { description: 'the stored pack', schema: { type: 'string' } } },
        },
        200: {
          description: 'The same content was already stored: that pack',
          schema: storedEvidencePackSchema,
        },
      },
      errors: [413],
      idempotency: 'transactional',
      async handle({ body, actor, requestId, tenantStore }) {
        const caller = requireActor(actor);
        const { row, created } = await deps.intents.storeEvidencePack(tenantStore(), caller, requestId, body);
        return {
          status: created ? 201 : 200,
          body: storedEvidencePackBody(row),
          ...(created ? { headers: { Location: `/api/v1/evidence-packs/${row.id}` } } : {}),
        };
      },
    }),
    endpoint({
      operationId: 'getEvidencePack',
      method: 'get',
      path: '/evidence-packs/{id}',
      summary: 'Read an evidence pack',
      tags: ['Evidence packs'],
      access: roles('submitter', 'cab_member', 'operator', 'auditor'),
      request: { params: idParams },
      responses: { 200: { description: 'The evidence pack', schema: storedEvidencePackSchema } },
      errors: [404],
      async handle({ params, tenantStore }) {
        const row = await tenantStore().evidencePacks.get(params.id);
        if (row === undefined) throw problems.notFound(`evidence pack ${params.id}`);
        return { status: 200, body: storedEvidencePackBody(row) };
      },
    }),
  ];
}
