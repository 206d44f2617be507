import { randomUUID } from 'node:crypto';
import { asTenantId } from '../../db/tenant-id';
import type { TenantStore } from '../../db/tenant-store';
import type { IdempotencyRequest } from '../../db/repositories/idempotency-keys';
import { answerIdempotently, DEFAULT_IDEMPOTENCY_SETTINGS, requestHash } from '../../api/idempotency';
import type { IdempotentAttempt, IdempotencyMode } from '../../api/idempotency';
import { ProblemError, problems } from '../../api/problem';
import { createLogger } from '../../runtime/logger';
import { createTestDatabase, databaseKinds } from '../helpers/database';
import type { TestDatabase } from '../helpers/database';

const logger = createLogger({ level: 'silent' });

describe.each(databaseKinds())('Idempotency-Keys on %s', (kind) => {
  let db: TestDatabase;
  let tenant: TenantStore;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    tenant = db.store.forTenant(asTenantId(`tenant-${randomUUID().slice(0, 8)}`));
  });
  afterAll(async () => {
    await db.drop();
  });

  const request = (overrides: Partial<IdempotencyRequest> = {}): IdempotencyRequest => ({
    key: randomUUID(),
    operation: 'createThing',
    requestHash: 'a'.repeat(64),
    leaseMs: 60_000,
    ttlMs: 60_000,
    ...overrides,
  });

  describe('the key record', () => {
    it('is claimed once; a completed key answers its stored answer; another request under it is a mismatch', async () => {
      const first = request();
      const claim = await tenant.idempotencyKeys.claim(first);
      if (claim.kind !== 'claimed') throw new Error(`expected a claim, got ${claim.kind}`);
      expect(claim.resumed).toBe(false);
      expect(await tenant.idempotencyKeys.claim(first)).toMatchObject({ kind: 'in-progress' });
      const answer = { status: 201, headers: { Location: '/things/1' }, body: { id: 1 } };
      expect(await tenant.idempotencyKeys.complete(claim.record, answer)).toBe(true);
      expect(await tenant.idempotencyKeys.claim(first)).toEqual({ kind: 'completed', answer });
      expect(await tenant.idempotencyKeys.claim({ ...first, requestHash: 'b'.repeat(64) })).toEqual({
        kind: 'mismatch',
      });
      expect(await tenant.idempotencyKeys.claim({ ...first, operation: 'deleteThing' })).toEqual({
        kind: 'mismatch',
      });
    });

    it('is taken over, with the same effect id, once the lease of an attempt that never answered runs out', async () => {
      const first = request({ leaseMs: 50 });
      const claim = await tenant.idempotencyKeys.claim(first);
      if (claim.kind !== 'claimed') throw new Error('expected a claim');
      await new Promise((resolve) => setTimeout(resolve, 120));
      const resumed = await tenant.idempotencyKeys.claim(first);
      if (resumed.kind !== 'claimed') throw new Error(`expected a take-over, got ${resumed.kind}`);
      expect(resumed.resumed).toBe(true);
      expect(resumed.record.effectId).toBe(claim.record.effectId);
      // The attempt that lost the key can no longer complete it.
      expect(
        await tenant.idempotencyKeys.complete(claim.record, { status: 200, headers: {}, body: null }),
      ).toBe(false);
      expect(
        await tenant.idempotencyKeys.complete(resumed.record, { status: 204, headers: {}, body: null }),
      ).toBe(true);
      expect(await tenant.idempotencyKeys.claim(first)).toEqual({
        kind: 'completed',
        answer: { status: 204, headers: {}, body: null },
      });
    });

    it('unlocked after a failure, is resumable at once; released after a refusal, is free for any request', async () => {
      const failed = request();
      const claim = await tenant.idempotencyKeys.claim(failed);
      if (claim.kind !== 'claimed') throw new Error('expected a claim');
      await tenant.idempotencyKeys.unlock(claim.record);
      expect(await tenant.idempotencyKeys.claim(failed)).toMatchObject({ kind: 'claimed', resumed: true });

      const refused = request();
      const refusal = await tenant.idempotencyKeys.claim(refused);
      if (refusal.kind !== 'claimed') throw new Error('expected a claim');
      await tenant.idempotencyKeys.release(refusal.record);
      expect(await tenant.idempotencyKeys.claim({ ...refused, requestHash: 'c'.repeat(64) })).toMatchObject({
        kind: 'claimed',
        resumed: false,
      });
    });

    it('expires: after its time to live the key starts afresh, with a new effect id', async () => {
      const first = request({ ttlMs: 50 });
      const claim = await tenant.idempotencyKeys.claim(first);
      if (claim.kind !== 'claimed') throw new Error('expected a claim');
      await tenant.idempotencyKeys.complete(claim.record, { status: 201, headers: {}, body: { n: 1 } });
      await new Promise((resolve) => setTimeout(resolve, 120));
      const again = await tenant.idempotencyKeys.claim({ ...first, requestHash: 'd'.repeat(64) });
      if (again.kind !== 'claimed') throw new Error(`expected a fresh claim, got ${again.kind}`);
      expect(again.resumed).toBe(false);
      expect(again.record.effectId).not.toBe(claim.record.effectId);
    });

    it('is purged once expired', async () => {
      const purgeTenant = db.store.forTenant(asTenantId(`purge-${randomUUID().slice(0, 8)}`));
      // Earlier tests' short-lived keys run out first; this test counts its own.
      await new Promise((resolve) => setTimeout(resolve, 100));
      await db.store.purgeExpiredIdempotencyKeys(1000);
      const live = request();
      await purgeTenant.idempotencyKeys.claim(live);
      for (let i = 0; i < 3; i += 1) {
        await purgeTenant.idempotencyKeys.claim(request({ ttlMs: 1 }));
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await db.store.purgeExpiredIdempotencyKeys(2)).toBe(2);
      expect(await db.store.purgeExpiredIdempotencyKeys(10)).toBe(1);
      expect(await purgeTenant.idempotencyKeys.claim(live)).toMatchObject({ kind: 'in-progress' });
    });
  });

  describe('answerIdempotently', () => {
    const settings = { ...DEFAULT_IDEMPOTENCY_SETTINGS, leaseMs: 60_000 };

    function call(
      mode: IdempotencyMode,
      key: string,
      act: (store: TenantStore, attempt: IdempotentAttempt) => Promise<{ status: number; body?: unknown }>,
    ) {
      return answerIdempotently({
        mode,
        store: tenant,
        key,
        operation: 'createThing',
        requestHash: requestHash({
          operation: 'createThing',
          actor: 'alice',
          params: {},
          query: {},
          body: {},
        }),
        settings,
        logger,
        act,
      });
    }

    it.each(['transactional', 'recorded'] as const)(
      '%s: stores a 2xx answer and replays it without acting again',
      async (mode) => {
        const key = randomUUID();
        let acted = 0;
        const act = () => {
          acted += 1;
          return Promise.resolve({
            status: 201,
            body: { n: acted },
            replayBody: { n: acted, secret: false },
          });
        };
        expect(await call(mode, key, act)).toEqual({
          answer: { status: 201, body: { n: 1 }, replayBody: { n: 1, secret: false } },
          replayed: false,
        });
        expect(await call(mode, key, act)).toEqual({
          answer: { status: 201, headers: {}, body: { n: 1, secret: false } },
          replayed: true,
        });
        expect(acted).toBe(1);
      },
    );

    it.each(['transactional', 'recorded'] as const)(
      '%s: a refusal forgets the key; a non-2xx answer is not kept',
      async (mode) => {
        const key = randomUUID();
        await expect(call(mode, key, () => Promise.reject(problems.notFound('thing')))).rejects.toThrow(
          ProblemError,
        );
        expect(await call(mode, key, () => Promise.resolve({ status: 202 }))).toMatchObject({
          replayed: false,
        });
        const odd = randomUUID();
        expect((await call(mode, odd, () => Promise.resolve({ status: 302 }))).replayed).toBe(false);
        expect((await call(mode, odd, () => Promise.resolve({ status: 302 }))).replayed).toBe(false);
      },
    );

    it('transactional: a failure rolls the effect back with the key', async () => {
      const key = randomUUID();
      const name = `thing-${randomUUID().slice(0, 8)}`;
      await expect(
        call('transactional', key, async (store) => {
          await store.events.append({
            eventKey: name,
            eventType: 'THING',
            intentId: null,
            correlationId: randomUUID(),
            requestId: null,
            actor: 'alice',
            payload: {},
          });
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect((await tenant.events.list({ eventType: 'THING' }, { limit: 10 })).items).toEqual([]);
      expect(await call('transactional', key, () => Promise.resolve({ status: 200 }))).toMatchObject({
        replayed: false,
      });
    });

    it('recorded: a failure leaves the key to the next retry, which resumes with the same effect id', async () => {
      const key = randomUUID();
      const effects: IdempotentAttempt[] = [];
      await expect(
        call('recorded', key, (_store, attempt) => {
          effects.push(attempt);
          return Promise.reject(new Error('orchestrator gone'));
        }),
      ).rejects.toThrow('orchestrator gone');
      const retry = await call('recorded', key, (_store, attempt) => {
        effects.push(attempt);
        return Promise.resolve({ status: 202 });
      });
      expect(retry).toEqual({ answer: { status: 202 }, replayed: true });
      expect(effects.map((attempt) => attempt.resumed)).toEqual([false, true]);
      expect(effects[1]?.effectId).toBe(effects[0]?.effectId);
    });

    it('recorded: a second identical request while the first acts is told to retry later', async () => {
      const key = randomUUID();
      let finish: () => void = () => undefined;
      const slow = call(
        'recorded',
        key,
        () =>
          new Promise((resolve) => {
            finish = () => {
              resolve({ status: 200 });
            };
          }),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      const concurrent = await call('recorded', key, () => Promise.resolve({ status: 200 })).catch(
        (error: unknown) => error,
      );
      expect(concurrent).toBeInstanceOf(ProblemError);
      expect(concurrent).toMatchObject({ status: 409, type: 'idempotency-key-in-progress' });
      expect((concurrent as ProblemError).headers).toEqual({ 'Retry-After': '60' });
      finish();
      await slow;
    });
  });
});
