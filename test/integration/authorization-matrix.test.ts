import { createHash, randomUUID } from 'node:crypto';
import { UNAUTHENTICATED_TENANT } from '../../db/tenant-id';
import type { TenantId } from '../../db/tenant-id';
import type { DeploymentIntentRow } from '../../db/repositories/deployment-intents';
import { RISK_MODEL_V1 } from '../../policy/risk-model';
import { lowRiskEvidence } from '../fixtures/evidence';
import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';
import { linkDirectories, startEntraFixture } from '../helpers/entra-fixture';
import type { EntraFixture, ServicePrincipalName } from '../helpers/entra-fixture';
import { TENANT_A, TENANT_B } from '../helpers/harness';

/**
 * Every operation of the served OpenAPI document × every kind of caller → the status it must answer.
 * The statuses are written out by hand: this is the specification the access rules are checked against,
 * not a copy of them. An operation the document gains without a row here fails the first test.
 */

/** The columns of the matrix: what a caller may do, whoever they are. */
const COLUMNS = [
  'anonymous',
  'submitter',
  'cab_member',
  'operator',
  'auditor',
  'admin',
  'connector_intune',
  'connector_jamf',
  'entra_connector_app',
  'entra_submitter_app',
  'metrics',
  'other_tenant',
] as const;
type Column = (typeof COLUMNS)[number];

interface Caller {
  readonly name: string;
  /** Which column's statuses this caller must get. */
  readonly column: Column;
  /** The caller's tenant: where its refusals are audited. */
  readonly tenant: string;
  signIn(api: ApiHarness): Promise<Agent>;
}

/** The OpenID Provider the API trusts as Entra ID: its sign-in operations are served, its applications call. */
let entra: EntraFixture;

/** An Entra ID application calling with a client-credentials access token. */
const servicePrincipal = (name: ServicePrincipalName) => async (api: ApiHarness) => {
  const agent = api.anonymous();
  agent.set('Authorization', `Bearer ${await entra.accessToken(name)}`);
  return agent;
};

const user =
  (roles: Parameters<ApiHarness['agent']>[1], tenant: string = TENANT_A) =>
  (api: ApiHarness) =>
    api.agent(`matrix.${roles.join('+')}.${randomUUID().slice(0, 6)}@example.com`, roles, tenant);

/** One line per kind of caller. A new kind (an Entra service principal, say) is one more line. */
const CALLERS: readonly Caller[] = [
  {
    name: 'anonymous',
    column: 'anonymous',
    tenant: UNAUTHENTICATED_TENANT,
    signIn: (api) => Promise.resolve(api.anonymous()),
  },
  { name: 'submitter', column: 'submitter', tenant: TENANT_A, signIn: user(['submitter']) },
  { name: 'CAB member', column: 'cab_member', tenant: TENANT_A, signIn: user(['cab_member']) },
  { name: 'operator', column: 'operator', tenant: TENANT_A, signIn: user(['operator']) },
  { name: 'auditor', column: 'auditor', tenant: TENANT_A, signIn: user(['auditor']) },
  { name: 'admin', column: 'admin', tenant: TENANT_A, signIn: user(['admin']) },
  {
    name: 'intune connector key',
    column: 'connector_intune',
    tenant: TENANT_A,
    signIn: async (api) => (await api.connector('intune')).agent,
  },
  {
    name: 'jamf connector key',
    column: 'connector_jamf',
    tenant: TENANT_A,
    signIn: async (api) => (await api.connector('jamf')).agent,
  },
  {
    name: 'Entra service principal of the intune connector',
    column: 'entra_connector_app',
    tenant: TENANT_A,
    signIn: servicePrincipal('intuneConnector'),
  },
  {
    name: 'Entra service principal of a pipeline (submitter app role)',
    column: 'entra_submitter_app',
    tenant: TENANT_A,
    signIn: servicePrincipal('pipeline'),
  },
  {
    name: 'metrics key',
    column: 'metrics',
    tenant: TENANT_A,
    signIn: async (api) => (await api.metricsScraper()).agent,
  },
  {
    name: 'admin of another tenant',
    column: 'other_tenant',
    tenant: TENANT_B,
    signIn: user(['admin'], TENANT_B),
  },
];

/** What the cells act on, all in tenant A. */
interface Fixtures {
  /** A finished intent (REJECTED) submitted by none of the callers: controls answer 409 once allowed. */
  readonly finished: DeploymentIntentRow;
  readonly evidencePackId: string;
  /** A key only the admin may revoke. */
  readonly credentialId: string;
}

interface Cell {
  readonly params?: (fixtures: Fixtures) => Record<string, string>;
  readonly query?: Record<string, string>;
  readonly body?: () => unknown;
  /** The operation changes the caller's own session: each caller gets a fresh sign-in for it. */
  readonly ownSession?: true;
  readonly expect: Record<Column, number>;
}

const unique = () => randomUUID().slice(0, 8);
const version = () => `9.${String(parseInt(unique(), 16) % 1_000_000)}`;

/** Statuses of a read that tenant-A readers and the other tenant's admin (in their own tenant) may call. */
function readers(allowed: readonly Column[], status = 200): Record<Column, number> {
  return Object.fromEntries(
    COLUMNS.map((column) => [
      column,
      column === 'anonymous'
        ? 401
        : allowed.includes(column === 'entra_submitter_app' ? 'submitter' : column) ||
            column === 'admin' ||
            column === 'other_tenant'
          ? status
          : 403,
    ]),
  ) as Record<Column, number>;
}

/** As `readers`, for an operation on a tenant-A resource: the other tenant does not find it. */
function onTenantAResource(allowed: readonly Column[], status: number): Record<Column, number> {
  return { ...readers(allowed, status), other_tenant: 404 };
}

/** Every caller gets `status`. */
const all = (status: number) =>
  Object.fromEntries(COLUMNS.map((column) => [column, status])) as Record<Column, number>;
const EVERYONE = all(200);

/** An intune connector's key and its Entra application may do the same: exactly what `readers` gives, plus this. */
const intuneConnector = (status: number) => ({ connector_intune: status, entra_connector_app: status });

const MATRIX: Record<string, Cell> = {
  getHealth: { expect: EVERYONE },
  getSignInOptions: { expect: EVERYONE },
  // The sign-in flow is public: whoever calls it is sent to the provider, or refused for what they send.
  beginSignIn: { expect: all(302) },
  // No state this browser started: 400 (a SIGN_IN_FAILED), whoever asks.
  completeSignIn: { query: { code: 'matrix', state: 'matrix' }, expect: all(400) },
  // A code the provider never issued: the provider refuses it, 401 code_rejected for everyone.
  redeemSignInCode: {
    body: () => ({ code: `matrix-${unique()}`, redirect_uri: 'http://127.0.0.1/api/v1/auth/callback' }),
    expect: all(401),
  },
  getCurrentActor: { expect: { ...EVERYONE, anonymous: 401 } },
  logout: { ownSession: true, body: () => ({}), expect: all(204) },
  devLogin: {
    ownSession: true,
    body: () => ({ username: `matrix.login.${unique()}@example.com`, roles: ['auditor'] }),
    expect: EVERYONE,
  },
  createDeploymentIntent: {
    body: () => ({
      app_name: '7-Zip',
      version: `24.08.${unique()}`,
      target_ring: 'LAB',
      connectors: { windows: 'intune' },
      evidence_pack: lowRiskEvidence({ artifact_hash: createHash('sha256').update(unique()).digest('hex') }),
    }),
    expect: readers(['submitter'], 201),
  },
  listDeploymentIntents: { expect: readers(['submitter', 'cab_member', 'operator', 'auditor']) },
  getDeploymentIntent: {
    params: (f) => ({ id: f.finished.id }),
    expect: onTenantAResource(['submitter', 'cab_member', 'operator', 'auditor'], 200),
  },
  pauseDeploymentIntent: {
    params: (f) => ({ id: f.finished.id }),
    body: () => ({}),
    expect: onTenantAResource(['operator'], 409),
  },
  resumeDeploymentIntent: {
    params: (f) => ({ id: f.finished.id }),
    body: () => ({}),
    expect: onTenantAResource(['operator'], 409),
  },
  abortDeploymentIntent: {
    params: (f) => ({ id: f.finished.id }),
    body: () => ({}),
    expect: onTenantAResource(['operator'], 409),
  },
  promoteDeploymentIntent: {
    params: (f) => ({ id: f.finished.id }),
    body: () => ({}),
    expect: onTenantAResource(['operator', 'cab_member'], 409),
  },
  storeEvidencePack: {
    body: () => lowRiskEvidence({ artifact_hash: createHash('sha256').update(unique()).digest('hex') }),
    expect: readers(['submitter'], 201),
  },
  getEvidencePack: {
    params: (f) => ({ id: f.evidencePackId }),
    expect: onTenantAResource(['submitter', 'cab_member', 'operator', 'auditor'], 200),
  },
  evaluateRisk: {
    body: () => ({
      evidence_pack: lowRiskEvidence(),
      target_ring: 'GLOBAL',
      connectors: { windows: 'intune' },
    }),
    expect: readers(['submitter', 'cab_member']),
  },
  listRiskModels: { expect: readers(['submitter', 'cab_member', 'operator', 'auditor']) },
  // Version 1.0 exists in every tenant (installed at first look), so the other tenant reads its own.
  getRiskModel: {
    params: () => ({ version: '1.0' }),
    expect: readers(['submitter', 'cab_member', 'operator', 'auditor']),
  },
  createRiskModel: { body: () => ({ ...RISK_MODEL_V1, version: version() }), expect: readers([], 201) },
  activateRiskModel: { params: () => ({ version: '1.0' }), body: () => ({}), expect: readers([]) },
  listPendingCabDecisions: { expect: readers(['cab_member', 'operator', 'auditor']) },
  decideCab: {
    params: (f) => ({ intent_id: f.finished.id }),
    body: () => ({ decision: 'APPROVED' }),
    expect: onTenantAResource(['cab_member'], 409),
  },
  listPendingDeployments: {
    query: { connector_type: 'intune' },
    // A connector key reads its own type's work only; the jamf key asks for intune's.
    expect: { ...readers(['operator']), ...intuneConnector(200) },
  },
  listPendingRollbacks: {
    query: { connector_type: 'intune' },
    expect: { ...readers(['operator']), ...intuneConnector(200) },
  },
  listPendingWork: {
    query: { connector_type: 'intune' },
    expect: { ...readers(['operator']), ...intuneConnector(200) },
  },
  updateDeploymentStatus: {
    body: () => ({
      correlation_id: randomUUID(),
      ring: 'LAB',
      connector_type: 'intune',
      connector_object_id: 'matrix',
      success_count: 1,
      failure_count: 0,
      final: false,
    }),
    // Only a connector key of the reported type may report (not even an admin); no such ring here: 404.
    expect: { ...readers([], 403), admin: 403, other_tenant: 403, ...intuneConnector(404) },
  },
  issueConnectorCredential: {
    body: () => ({ connector_type: 'intune', name: `matrix-${unique()}` }),
    expect: readers([], 201),
  },
  listConnectorCredentials: { expect: readers([]) },
  revokeConnectorCredential: {
    params: (f) => ({ id: f.credentialId }),
    body: () => ({}),
    expect: onTenantAResource([], 204),
  },
  listAuditEvents: { expect: readers(['auditor', 'operator', 'cab_member']) },
  verifyAuditChain: { expect: readers(['auditor']) },
  // The fixture never came before the CAB: a CAB member is refused its bundle (auditors and admins read all).
  getEvidenceBundle: {
    params: (f) => ({ id: f.finished.id }),
    expect: onTenantAResource(['auditor'], 200),
  },
  getMetrics: { expect: { ...readers(['operator', 'auditor']), metrics: 200 } },
};

interface OpenApiDocument {
  paths: Record<string, Record<string, { operationId: string }>>;
}

interface Operation {
  readonly operationId: string;
  readonly method: 'get' | 'post' | 'put' | 'delete';
  readonly path: string;
}

function operationsOf(document: OpenApiDocument): Operation[] {
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      operationId: operation.operationId,
      method: method as Operation['method'],
      path,
    })),
  );
}

describe('the authorization matrix', () => {
  let api: ApiHarness;
  let operations: Operation[];
  let fixtures: Fixtures;
  const agents = new Map<string, Agent>();

  beforeAll(async () => {
    entra = await startEntraFixture('http://127.0.0.1');
    api = await ApiHarness.start({ overrides: { entra: entra.identity() } });
    await linkDirectories(api.db.store, entra.config);
    operations = operationsOf(api.document as OpenApiDocument);
    const finished = await api.seedIntent({ status: 'REJECTED', submitterId: 'packager@example.com' });
    const root = await api.agent('matrix.fixtures@example.com', ['admin']);
    const credential = await root
      .post('/api/v1/connector-credentials')
      .send({ connector_type: 'jamf', name: `to-revoke-${unique()}` })
      .expect(201);
    fixtures = {
      finished,
      evidencePackId: finished.evidencePackId,
      credentialId: (credential.body as { id: string }).id,
    };
    for (const caller of CALLERS) agents.set(caller.name, await caller.signIn(api));
  }, 120_000);
  afterAll(async () => {
    await (api as ApiHarness | undefined)?.close();
    await (entra as EntraFixture | undefined)?.close();
  });

  it('has a row for every operation the API serves, and none for an operation it does not', () => {
    const served = operations.map((operation) => operation.operationId).sort();
    expect(served.filter((id) => !(id in MATRIX))).toEqual([]);
    expect(Object.keys(MATRIX).filter((id) => !served.includes(id))).toEqual([]);
  });

  /** Runs one cell; its request id finds the refusal it must have left in the audit trail. */
  async function call(caller: Caller, operation: Operation, cell: Cell) {
    const agent = cell.ownSession === true ? await caller.signIn(api) : agents.get(caller.name);
    if (agent === undefined) throw new Error(`no agent for ${caller.name}`);
    const params = cell.params?.(fixtures) ?? {};
    const path = operation.path.replace(/\{(\w+)\}/g, (_match, name: string) => params[name] ?? name);
    const url = cell.query === undefined ? path : `${path}?${new URLSearchParams(cell.query).toString()}`;
    const requestId = randomUUID();
    const pending = agent[operation.method](url).set('X-Correlation-ID', requestId);
    const res = operation.method === 'get' ? await pending : await pending.send(cell.body?.() ?? {});
    return { status: res.status, requestId };
  }

  it.each(CALLERS.map((caller) => [caller.name, caller] as const))(
    'answers %s as the matrix says, and audits each refusal',
    async (_name, caller) => {
      const cells: string[] = [];
      const expected: string[] = [];
      const unaudited: string[] = [];
      for (const operation of operations) {
        const cell = MATRIX[operation.operationId];
        if (cell === undefined) continue;
        const { status, requestId } = await call(caller, operation, cell);
        cells.push(`${operation.operationId}: ${String(status)}`);
        expected.push(`${operation.operationId}: ${String(cell.expect[caller.column])}`);
        if (status === 401 || status === 403) {
          // A public operation ignores a bearer credential it does not need: its refusal is an anonymous
          // caller's, recorded in the reserved tenant. Either way, exactly one record.
          const recorded: (string | undefined)[] = [];
          for (const tenant of new Set([caller.tenant, UNAUTHENTICATED_TENANT])) {
            const trail = await api.db.store
              .forTenant(tenant as TenantId)
              .events.list({ requestId, eventType: 'AUTHZ_DENIED' }, { limit: 5 });
            recorded.push(...trail.items.map((event) => (event.payload as { operation?: string }).operation));
          }
          if (recorded.length !== 1 || recorded[0] !== operation.operationId)
            unaudited.push(operation.operationId);
        }
      }
      expect(cells).toEqual(expected);
      expect(unaudited).toEqual([]);
      expect(api.contractViolations()).toEqual([]);
    },
    120_000,
  );
});
