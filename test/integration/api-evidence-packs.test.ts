import { randomUUID } from 'node:crypto';
import { and, count, eq } from 'drizzle-orm';
import { evidencePacks } from '../../db/schema';
import type { EvidencePack } from '../../policy/evidence-pack';
import { REQUIRED_EVIDENCE } from '../../policy/evidence-pack';
import { evidenceHash } from '../../api/services/intents';
import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';
import { TENANT_A, TENANT_B } from '../helpers/harness';
import { highRiskEvidence, lowRiskEvidence } from '../fixtures/evidence';

interface StoredPack {
  id: string;
  content_hash: string;
  created_at: string;
  created_by: string;
  evidence_pack: EvidencePack;
  missing_evidence: string[];
}

interface Problem {
  type: string;
  errors?: { field: string; message: string }[];
}

/** A complete pack no other test posts: its own artifact hash. */
function uniquePack(overrides: Partial<EvidencePack> = {}): EvidencePack {
  const hash = randomUUID().replaceAll('-', '');
  return lowRiskEvidence({ artifact_hash: `${hash}${hash}`, ...overrides });
}

/** The same content with every object's keys in reverse order. */
function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .reverse()
      .map(([key, member]) => [key, reversedKeys(member)]),
  );
}

function fieldsOf(body: unknown): string[] {
  return ((body as Problem).errors ?? []).map((error) => error.field);
}

describe('evidence packs API', () => {
  let api: ApiHarness;
  let submitter: Agent;

  beforeAll(async () => {
    api = await ApiHarness.start();
    submitter = await api.agent('packager@example.com', ['submitter']);
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(() => {
    expect(api.contractViolations()).toEqual([]);
  });

  async function storedRows(contentHash: string, tenantId: string = TENANT_A): Promise<number> {
    const [row] = await api.db.handle.db
      .select({ n: count() })
      .from(evidencePacks)
      .where(and(eq(evidencePacks.tenantId, tenantId), eq(evidencePacks.contentHash, contentHash)));
    return row?.n ?? 0;
  }

  async function storedEvents(packId: string): Promise<number> {
    const page = await api.tenant().events.list({ eventType: 'EVIDENCE_PACK_STORED' }, { limit: 200 });
    return page.items.filter((event) => event.payload.evidencePackId === packId).length;
  }

  describe('POST /api/v1/evidence-packs', () => {
    it('stores a pack under the SHA-256 of its canonical JSON and answers 201 with where it lives', async () => {
      const pack = uniquePack();
      const requestId = randomUUID();
      const res = await submitter
        .post('/api/v1/evidence-packs')
        .set('X-Correlation-ID', requestId)
        .send(pack)
        .expect(201);
      const body = res.body as StoredPack;
      expect(body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/) as string,
        content_hash: evidenceHash(pack),
        created_at: expect.any(String) as string,
        created_by: 'packager@example.com',
        evidence_pack: pack,
        missing_evidence: [],
      });
      expect(res.headers.location).toBe(`/api/v1/evidence-packs/${body.id}`);
      const events = await api.tenant().events.list({ requestId }, { limit: 10 });
      expect(events.items).toEqual([
        expect.objectContaining({
          eventType: 'EVIDENCE_PACK_STORED',
          // A pack stored on its own is correlated by its id, never by the caller's request id.
          correlationId: body.id,
          actor: 'packager@example.com',
          intentId: null,
          payload: { evidencePackId: body.id, contentHash: body.content_hash },
        }),
      ]);
    });

    it('answers 200 with the same pack when identical content is posted again, in any key order', async () => {
      const pack = uniquePack();
      const first = await submitter.post('/api/v1/evidence-packs').send(pack).expect(201);
      const firstBody = first.body as StoredPack;
      const again = await submitter
        .post('/api/v1/evidence-packs')
        .send(reversedKeys({ ...pack, artifact_hash: pack.artifact_hash?.toUpperCase() }) as object)
        .expect(200);
      expect(again.body).toEqual(firstBody);
      expect(again.headers.location).toBeUndefined();
      expect(await storedRows(firstBody.content_hash)).toBe(1);
      expect(await storedEvents(firstBody.id)).toBe(1);
    });

    it('stores what the schema makes of the pack: hashes in lower case, defaults filled in', async () => {
      const pack = uniquePack();
      const posted = {
        ...pack,
        artifact_hash: pack.artifact_hash?.toUpperCase(),
        scan_results: {
          tool: 'defender',
          scanned_at: '2026-11-20T10:00:00Z',
          critical: 0,
          high: 0,
          medium: 0,
        },
      };
      const res = await submitter.post('/api/v1/evidence-packs').send(posted).expect(201);
      const body = res.body as StoredPack;
      expect(body.evidence_pack.artifact_hash).toBe(pack.artifact_hash);
      expect(body.evidence_pack.scan_results?.low).toBe(0);
    });

    it('stores an incomplete pack and names every part an intent will still require', async () => {
      const res = await submitter
        .post('/api/v1/evidence-packs')
        .send({ privileges: { requires_admin: true, requests_elevation: true } })
        .expect(201);
      expect((res.body as StoredPack).missing_evidence).toEqual([...REQUIRED_EVIDENCE]);

      const partial = uniquePack({ sbom: undefined, rollback_plan: undefined });
      const partialRes = await submitter.post('/api/v1/evidence-packs').send(partial).expect(201);
      expect((partialRes.body as StoredPack).missing_evidence).toEqual(['sbom', 'rollback_plan']);
    });

    it('names each bad field with 400 and stores nothing', async () => {
      const pack = uniquePack();
      const res = await submitter
        .post('/api/v1/evidence-packs')
        .send({
          ...pack,
          artifact_hash: 'not-a-digest',
          artifact_storage_url: 'http://insecure.example.com/app.msi',
          signature: { status: 'MAYBE' },
          scan_results: { ...pack.scan_results, critical: -1 },
          uploaded_by: 'someone',
        })
        .expect(400);
      expect(fieldsOf(res.body)).toEqual(
        expect.arrayContaining([
          'artifact_hash',
          'artifact_storage_url',
          'signature.status',
          'scan_results.critical',
          'uploaded_by',
        ]),
      );
      expect(await storedRows(evidenceHash(pack))).toBe(0);
    });

    it('refuses a body that is not a JSON object with 400', async () => {
      const res = await submitter.post('/api/v1/evidence-packs').send([uniquePack()]).expect(400);
      expect(fieldsOf(res.body)).toEqual(['(body)']);
    });

    it('refuses a body over the 256 kB limit with 413', async () => {
      const huge = uniquePack({
        rollback_plan: {
          steps: [
            { platform: 'windows', strategy: 'SCRIPT', instructions: 'x'.repeat(300_000), tested: true },
          ],
        },
      });
      const res = await submitter.post('/api/v1/evidence-packs').send(huge).expect(413);
      expect((res.body as Problem).type).toContain('payload-too-large');
    });

    it('refuses anonymous callers with 401 and callers without the submitter role with 403', async () => {
      await api.anonymous().post('/api/v1/evidence-packs').send(uniquePack()).expect(401);
      for (const role of ['cab_member', 'operator', 'auditor'] as const) {
        const agent = await api.agent(`${role}@example.com`, [role]);
        await agent.post('/api/v1/evidence-packs').send(uniquePack()).expect(403);
      }
      const { agent: connector } = await api.connector('intune');
      await connector.post('/api/v1/evidence-packs').send(uniquePack()).expect(403);
    });

    it('lets an admin store a pack', async () => {
      const admin = await api.agent('admin@example.com', ['admin']);
      await admin.post('/api/v1/evidence-packs').send(uniquePack()).expect(201);
    });
  });

  describe('GET /api/v1/evidence-packs/{id}', () => {
    it('shows a stored pack to submitters, CAB members, operators and auditors', async () => {
      const pack = highRiskEvidence({ artifact_hash: 'c'.repeat(64) });
      const stored = (await submitter.post('/api/v1/evidence-packs').send(pack).expect(201))
        .body as StoredPack;
      for (const role of ['submitter', 'cab_member', 'operator', 'auditor'] as const) {
        const reader = await api.agent(`reader.${role}@example.com`, [role]);
        const res = await reader.get(`/api/v1/evidence-packs/${stored.id}`).expect(200);
        expect(res.body).toEqual(stored);
      }
    });

    it('answers 404 for an unknown id and 400 naming `id` for one that is not a uuid', async () => {
      await submitter.get(`/api/v1/evidence-packs/${randomUUID()}`).expect(404);
      const res = await submitter.get('/api/v1/evidence-packs/latest').expect(400);
      expect(fieldsOf(res.body)).toEqual(['id']);
    });

    it("answers 404 for another tenant's pack, even one with the same content", async () => {
      const pack = uniquePack();
      const otherTenant = await api.agent('packager@tenant-b.example.com', ['submitter'], TENANT_B);
      const theirs = (await otherTenant.post('/api/v1/evidence-packs').send(pack).expect(201))
        .body as StoredPack;
      await submitter.get(`/api/v1/evidence-packs/${theirs.id}`).expect(404);

      // The same content is a separate pack in each tenant.
      const ours = (await submitter.post('/api/v1/evidence-packs').send(pack).expect(201)).body as StoredPack;
      expect(ours.id).not.toBe(theirs.id);
      expect(ours.content_hash).toBe(theirs.content_hash);
      await otherTenant.get(`/api/v1/evidence-packs/${theirs.id}`).expect(200);
      await otherTenant.get(`/api/v1/evidence-packs/${ours.id}`).expect(404);
    });

    it('refuses anonymous callers with 401 and connectors with 403', async () => {
      const stored = (await submitter.post('/api/v1/evidence-packs').send(uniquePack()).expect(201))
        .body as StoredPack;
      await api.anonymous().get(`/api/v1/evidence-packs/${stored.id}`).expect(401);
      const { agent: connector } = await api.connector('jamf');
      await connector.get(`/api/v1/evidence-packs/${stored.id}`).expect(403);
    });
  });

  describe('immutability', () => {
    it('offers no way to change or delete a pack, and the database refuses to', async () => {
      const stored = (await submitter.post('/api/v1/evidence-packs').send(uniquePack()).expect(201))
        .body as StoredPack;
      const path = `/api/v1/evidence-packs/${stored.id}`;
      // The path is served for reading only: any other method is 405, naming what it takes.
      for (const response of [
        await submitter.put(path).send(uniquePack()),
        await submitter.patch(path).send({ sbom: null }),
        await submitter.delete(path),
      ]) {
        expect(response.status).toBe(405);
        expect(response.headers.allow).toBe('GET, HEAD');
      }

      const db = api.db.handle.db;
      await expect(
        db.update(evidencePacks).set({ createdBy: 'mallory' }).where(eq(evidencePacks.id, stored.id)),
      ).rejects.toThrow();
      await expect(db.delete(evidencePacks).where(eq(evidencePacks.id, stored.id))).rejects.toThrow();
      const res = await submitter.get(path).expect(200);
      expect(res.body).toEqual(stored);
    });
  });
});
