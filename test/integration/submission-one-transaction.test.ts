import { randomUUID } from 'node:crypto';
import { and, count, eq } from 'drizzle-orm';
import { IntentService, evidenceHash } from '../../api/services/intents';
import type { IntentSubmission, KeyedSubmission } from '../../api/services/intents';
import { ProblemError } from '../../api/problem';
import { DeploymentEventRepository } from '../../db/repositories/deployment-events';
import { DeploymentIntentRepository } from '../../db/repositories/deployment-intents';
import { evidencePacks } from '../../db/schema';
import { asTenantId } from '../../db/tenant-id';
import type { TenantStore } from '../../db/tenant-store';
import type { EvidencePack } from '../../policy/evidence-pack';
import { defaultRolloutPolicy } from '../../policy/rollout-policy';
import { createLogger } from '../../runtime/logger';
import { lowRiskEvidence } from '../fixtures/evidence';
import { createTestDatabase, databaseKinds } from '../helpers/database';
import type { TestDatabase } from '../helpers/database';
import { user } from '../helpers/harness';
import { unreachableTemporal } from '../helpers/unreachable-temporal';
import type { UnreachableTemporal } from '../helpers/unreachable-temporal';

/** A complete pack no other submission carries: its own artifact hash. */
function freshPack(overrides: Partial<EvidencePack> = {}): EvidencePack {
  const hash = randomUUID().replaceAll('-', '');
  return lowRiskEvidence({ artifact_hash: `${hash}${hash}`, ...overrides });
}

function submission(pack: EvidencePack | string): IntentSubmission {
  return {
    appName: '7-Zip',
    version: '24.08',
    targetRing: 'LAB',
    connectors: { windows: 'intune' },
    ...(typeof pack === 'string' ? { evidencePackId: pack } : { evidencePack: pack }),
  };
}

const keyed = (): KeyedSubmission => ({ key: `key-${randomUUID()}`, intentId: randomUUID() });

/**
 * A submission with its evidence inline records the pack, the intent and both audit events in one
 * transaction (api/services/intents.ts): all of them, or none. Temporal is unreachable here, so a keyed
 * submission stops after the recording (503, startable on retry) and nothing else writes meanwhile.
 */
describe.each(databaseKinds())('a submission’s recording on %s', (kind) => {
  let db: TestDatabase;
  let temporal: UnreachableTemporal;
  let service: IntentService;
  let tenant: TenantStore;
  const submitter = () => user('packager@example.com', ['submitter'], tenant.tenantId);

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    temporal = await unreachableTemporal();
    service = new IntentService({
      client: temporal.client,
      taskQueue: 'nobody',
      rolloutPolicy: defaultRolloutPolicy(),
      logger: createLogger({ level: 'silent' }),
      unreachableAfterMs: 0,
    });
    tenant = db.store.forTenant(asTenantId(`tenant-${randomUUID().slice(0, 8)}`));
  });
  afterAll(async () => {
    await temporal.close();
    await db.drop();
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  async function storedPacks(pack: EvidencePack): Promise<number> {
    const [row] = await db.handle.db
      .select({ n: count() })
      .from(evidencePacks)
      .where(
        and(eq(evidencePacks.tenantId, tenant.tenantId), eq(evidencePacks.contentHash, evidenceHash(pack))),
      );
    return row?.n ?? 0;
  }

  async function eventsOf(requestId: string) {
    return (await tenant.events.list({ requestId }, { limit: 20 })).items;
  }

  async function chainIntact() {
    const verification = await tenant.events.verifyChain();
    expect(verification?.brokenLink).toBeNull();
  }

  it('records the pack, the intent and both events together: the pack’s event first, next to the intent’s', async () => {
    const pack = freshPack();
    const requestId = randomUUID();
    const key = keyed();
    const refused = service.submit(tenant, submitter(), requestId, submission(pack), key);
    await expect(refused).rejects.toMatchObject({ status: 503 });

    const intent = await tenant.intents.get(key.intentId);
    if (intent === undefined) throw new Error('the intent was not recorded');
    const stored = await tenant.evidencePacks.get(intent.evidencePackId);
    expect(stored?.contentHash).toBe(evidenceHash(pack));
    const events = await eventsOf(requestId);
    expect(events.map((event) => [event.eventKey, event.eventType, event.intentId])).toEqual([
      [`evidence-pack:${intent.evidencePackId}`, 'EVIDENCE_PACK_STORED', null],
      [`${intent.id}:0000:INTENT_CREATED`, 'INTENT_CREATED', intent.id],
    ]);
    const [packEvent, intentEvent] = events;
    expect(packEvent?.payload).toEqual({
      evidencePackId: intent.evidencePackId,
      contentHash: evidenceHash(pack),
    });
    expect(intentEvent?.payload).toEqual({
      appName: '7-Zip',
      version: '24.08',
      targetRing: 'LAB',
      connectors: intent.connectors,
      evidencePackId: intent.evidencePackId,
      evidenceHash: evidenceHash(pack),
    });
    expect(events.every((event) => event.correlationId === intent.correlationId)).toBe(true);
    expect(events.every((event) => event.actor === 'packager@example.com')).toBe(true);
    expect(intentEvent?.seq).toBe((packEvent?.seq ?? 0) + 1);
    await chainIntact();
  });

  it('a stored pack named by its id is not stored again: only INTENT_CREATED is recorded', async () => {
    const pack = freshPack();
    const { row } = await service.storeEvidencePack(tenant, submitter(), randomUUID(), pack);
    const requestId = randomUUID();
    const key = keyed();
    await expect(
      service.submit(tenant, submitter(), requestId, submission(row.id), key),
    ).rejects.toMatchObject({
      status: 503,
    });
    expect((await tenant.intents.get(key.intentId))?.evidencePackId).toBe(row.id);
    expect((await eventsOf(requestId)).map((event) => event.eventType)).toEqual(['INTENT_CREATED']);
    expect(await storedPacks(pack)).toBe(1);
  });

  it.each([
    ['the intent insert', () => jest.spyOn(DeploymentIntentRepository.prototype, 'create')],
    ['the audit events’ append', () => jest.spyOn(DeploymentEventRepository.prototype, 'appendMany')],
  ])('a failure of %s leaves no pack, no intent and no event', async (_, spy) => {
    spy().mockRejectedValueOnce(new Error('injected failure'));
    const pack = freshPack();
    const requestId = randomUUID();
    const key = keyed();
    const head = await tenant.events.chainHead();

    await expect(service.submit(tenant, submitter(), requestId, submission(pack), key)).rejects.toThrow(
      'injected failure',
    );
    expect(await storedPacks(pack)).toBe(0);
    expect(await tenant.intents.get(key.intentId)).toBeUndefined();
    expect(await eventsOf(requestId)).toEqual([]);
    expect(await tenant.events.chainHead()).toEqual(head);

    // The retry under the same key records all of it.
    await expect(service.submit(tenant, submitter(), requestId, submission(pack), key)).rejects.toMatchObject(
      {
        status: 503,
      },
    );
    expect(await storedPacks(pack)).toBe(1);
    expect(await tenant.intents.get(key.intentId)).toBeDefined();
    expect((await eventsOf(requestId)).map((event) => event.eventType)).toEqual([
      'EVIDENCE_PACK_STORED',
      'INTENT_CREATED',
    ]);
    await chainIntact();
  });

  it('refuses incomplete evidence (422) before writing anything: no pack, no event', async () => {
    const pack = freshPack();
    delete pack.sbom;
    delete pack.rollback_plan;
    const requestId = randomUUID();
    const key = keyed();
    const refusal = await service.submit(tenant, submitter(), requestId, submission(pack), key).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(ProblemError);
    expect(refusal).toMatchObject({
      status: 422,
      type: expect.stringContaining('incomplete-evidence') as string,
    });
    expect(await storedPacks(pack)).toBe(0);
    expect(await tenant.intents.get(key.intentId)).toBeUndefined();
    expect(await eventsOf(requestId)).toEqual([]);
  });

  it('an intent another attempt under the key recorded first is answered as that attempt’s; the pack keeps its event', async () => {
    const first = keyed();
    await expect(
      service.submit(tenant, submitter(), randomUUID(), submission(freshPack()), first),
    ).rejects.toMatchObject({ status: 503 });
    const recorded = await tenant.intents.get(first.intentId);
    if (recorded === undefined) throw new Error('the first attempt recorded no intent');
    // The first attempt has moved on (the workflow assessed it); this one started before it recorded the
    // intent, so it does not see it until its own insert conflicts.
    await tenant.intents.repairStatus(
      recorded.id,
      recorded,
      { status: 'AWAITING_CAB', currentRing: null },
      new Date(),
    );
    const lookups = jest.spyOn(tenant.intents, 'get').mockResolvedValueOnce(undefined);

    const pack = freshPack();
    const requestId = randomUUID();
    const answer = await service.submit(tenant, submitter(), requestId, submission(pack), first);
    expect(lookups).toHaveBeenCalledTimes(2);
    expect(answer).toMatchObject({ intent: { id: recorded.id, status: 'AWAITING_CAB' }, replayed: true });
    // This attempt's pack was new: stored, with its event, and no second INTENT_CREATED.
    expect(await storedPacks(pack)).toBe(1);
    expect((await eventsOf(requestId)).map((event) => event.eventType)).toEqual(['EVIDENCE_PACK_STORED']);
    const trail = await tenant.events.list(
      { intentId: recorded.id, eventType: 'INTENT_CREATED' },
      { limit: 5 },
    );
    expect(trail.items).toHaveLength(1);
    await chainIntact();
  });
});
