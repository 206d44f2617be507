import { DataStore } from '../../db/tenant-store';
import { asTenantId } from '../../db/tenant-id';
import { RISK_MODEL_V1 } from '../../policy/risk-model';
import { createTestDatabase } from '../helpers/database';
import type { TestDatabase } from '../helpers/database';

const TENANT = asTenantId('tenant-cache');
const RISK_MODEL_V2 = { ...RISK_MODEL_V1, version: '2.0' };

describe('cached active risk models and directory links', () => {
  let db: TestDatabase;
  let clock: number;
  let api: DataStore;
  let worker: DataStore;
  const now = () => clock;

  beforeEach(async () => {
    db = await createTestDatabase('pglite');
    clock = 1_000_000;
    // Two processes on one database: the API (which activates models) and a separate worker.
    api = new DataStore(db.handle.db, { lookupCacheTtlMs: 5_000, now });
    worker = new DataStore(db.handle.db, { lookupCacheTtlMs: 5_000, now });
  });

  afterEach(async () => {
    await db.drop();
  });

  async function activate(store: DataStore, version: string): Promise<void> {
    await store.forTenant(TENANT).transaction(async (tx) => {
      await tx.riskModels.lockForActivation();
      await tx.riskModels.activate(version, new Date(clock));
    });
  }

  it('serves the active model from memory until an activation in the same process invalidates it', async () => {
    const installed = await api.forTenant(TENANT).riskModels.activeOrInstall(RISK_MODEL_V1, new Date(clock));
    await api.forTenant(TENANT).riskModels.create(RISK_MODEL_V2, 'cab@example.com');
    // Behind the cache's back (another process): the cached row is still what a read returns.
    await activate(worker, '2.0');
    expect((await api.forTenant(TENANT).riskModels.active())?.version).toBe(installed.version);

    await activate(api, RISK_MODEL_V1.version);
    await api.forTenant(TENANT).riskModels.create({ ...RISK_MODEL_V1, version: '3.0' }, 'cab@example.com');
    await activate(api, '3.0');

    expect((await api.forTenant(TENANT).riskModels.active())?.version).toBe('3.0');
  });

  it('lets another process serve the superseded model for at most the time to live', async () => {
    await worker.forTenant(TENANT).riskModels.activeOrInstall(RISK_MODEL_V1, new Date(clock));
    await api.forTenant(TENANT).riskModels.create(RISK_MODEL_V2, 'cab@example.com');
    await activate(api, '2.0');

    clock += 4_999;
    expect((await worker.forTenant(TENANT).riskModels.active())?.version).toBe(RISK_MODEL_V1.version);
    clock += 1;
    expect((await worker.forTenant(TENANT).riskModels.active())?.version).toBe('2.0');
  });

  it('forgets an activation that rolled back, and reads inside a transaction from the database', async () => {
    await api.forTenant(TENANT).riskModels.activeOrInstall(RISK_MODEL_V1, new Date(clock));
    await api.forTenant(TENANT).riskModels.create(RISK_MODEL_V2, 'cab@example.com');
    expect((await api.forTenant(TENANT).riskModels.active())?.version).toBe(RISK_MODEL_V1.version);

    await expect(
      api.forTenant(TENANT).transaction(async (tx) => {
        await tx.riskModels.activate('2.0', new Date(clock));
        expect((await tx.riskModels.active())?.version).toBe('2.0');
        throw new Error('the activation event could not be written');
      }),
    ).rejects.toThrow('the activation event could not be written');
    expect((await api.forTenant(TENANT).riskModels.active())?.version).toBe(RISK_MODEL_V1.version);

    await activate(api, '2.0');
    expect((await api.forTenant(TENANT).riskModels.active())?.version).toBe('2.0');
  });

  it('caches found directory links, never misses, and forgets them when the links are synchronised', async () => {
    await api.tenants.synchronise(
      [{ tenantId: 'tenant-cache', entraTenantId: 'DIR-1' }],
      [],
      new Date(clock),
    );
    expect(await api.tenants.findByEntraTenantId('dir-2')).toBeUndefined();
    expect((await api.tenants.findByEntraTenantId('dir-1'))?.id).toBe('tenant-cache');

    // Another process moves the tenant to another directory: a miss is asked again at once.
    await worker.tenants.synchronise(
      [{ tenantId: 'tenant-cache', entraTenantId: 'dir-2' }],
      [],
      new Date(clock),
    );
    expect((await api.tenants.findByEntraTenantId('dir-2'))?.id).toBe('tenant-cache');
    expect((await api.tenants.findByEntraTenantId('dir-1'))?.id).toBe('tenant-cache');

    // The same process synchronising forgets every link it had.
    await api.tenants.synchronise([], ['tenant-cache'], new Date(clock));
    expect(await api.tenants.findByEntraTenantId('dir-1')).toBeUndefined();
    expect(await api.tenants.findByEntraTenantId('dir-2')).toBeUndefined();
  });
});
