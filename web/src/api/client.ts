import createClient from 'openapi-fetch';
import type { paths } from './openapi.gen';
import type {
  Actor,
  CabDecisionRequest,
  CabQueueItem,
  CreateIntent,
  IntentDetail,
  IntentStatus,
  IntentSummary,
  Ring,
  Schemas,
  SignInOptions,
  SignInRole,
} from './model';
import { problemFrom } from './problem';

/** What every call resolves to: openapi-fetch's result, of which only `data` and `response` are read. */
interface FetchResult<T> {
  readonly data?: T;
  readonly error?: unknown;
  readonly response: Response;
}

export interface RolloutFilters {
  readonly status?: IntentStatus | undefined;
  readonly ring?: Ring | undefined;
  readonly app_name?: string | undefined;
  readonly submitter?: string | undefined;
}

export type ControlAction = 'pause' | 'resume' | 'abort' | 'promote';

/** Drops the filters left empty, so the query names only what the person chose. */
export function definedFilters(filters: RolloutFilters): RolloutFilters {
  const chosen: RolloutFilters = Object.fromEntries(
    Object.entries(filters).filter(([, value]) => typeof value === 'string' && value !== ''),
  );
  return chosen;
}

/**
 * The console's API client: typed by the paths of the served OpenAPI document (openapi-fetch), with the
 * API's rules for a browser applied once here — same-origin cookies, every write JSON (`{}` for an action
 * without a body), the Idempotency-Key the caller chose for the person's action — and every non-success
 * answer thrown as an ApiProblem in plain words.
 */
export class ConsoleApi {
  private readonly client;

  constructor(
    fetchImpl: typeof fetch = (input, init) => fetch(input, init),
    baseUrl = '',
    private readonly now: () => number = Date.now,
  ) {
    this.client = createClient<paths>({ baseUrl, fetch: fetchImpl, credentials: 'same-origin' });
  }

  private async answer<T>(call: Promise<FetchResult<T>>): Promise<T> {
    const { data, error, response } = await call;
    if (!response.ok) {
      throw problemFrom(response.status, error, response.headers.get('Retry-After'), this.now());
    }
    return data as T;
  }

  signInOptions(): Promise<SignInOptions> {
    return this.answer(this.client.GET('/api/v1/auth/options'));
  }

  /** The signed-in person, or undefined when nobody is signed in (401). */
  async me(): Promise<Actor | undefined> {
    const { data, error, response } = await this.client.GET('/api/v1/auth/me');
    if (response.status === 401) return undefined;
    if (!response.ok)
      throw problemFrom(response.status, error, response.headers.get('Retry-After'), this.now());
    return data;
  }

  async devLogin(username: string, roles: readonly SignInRole[], displayName?: string): Promise<Actor> {
    const body = {
      username,
      roles: [...roles],
      ...(displayName === undefined || displayName.trim() === '' ? {} : { display_name: displayName.trim() }),
    };
    return this.answer(this.client.POST('/api/v1/auth/dev-login', { body }));
  }

  async logout(): Promise<void> {
    await this.answer(this.client.POST('/api/v1/auth/logout', { body: {} }));
  }

  async cabQueue(): Promise<CabQueueItem[]> {
    const page = await this.answer(
      this.client.GET('/api/v1/cab/pending', { params: { query: { limit: 200 } } }),
    );
    return page.items;
  }

  decideCab(intentId: string, decision: CabDecisionRequest, key: string): Promise<Schemas['CabVerdict']> {
    return this.answer(
      this.client.POST('/api/v1/cab/{intent_id}/decision', {
        params: { path: { intent_id: intentId }, header: { 'idempotency-key': key } },
        body: decision,
      }),
    );
  }

  evaluateRisk(
    request: Schemas['RiskEvaluationRequest'],
    signal?: AbortSignal,
  ): Promise<Schemas['RiskEvaluation']> {
    return this.answer(
      this.client.POST('/api/v1/risk/evaluate', { body: request, ...(signal ? { signal } : {}) }),
    );
  }

  submitIntent(intent: CreateIntent, key: string): Promise<Schemas['DeploymentIntentCreated']> {
    return this.answer(
      this.client.POST('/api/v1/deployment-intents', {
        params: { header: { 'idempotency-key': key } },
        body: intent,
      }),
    );
  }

  async rollouts(filters: RolloutFilters): Promise<IntentSummary[]> {
    const query = { ...definedFilters(filters), limit: 200 };
    const page = await this.answer(this.client.GET('/api/v1/deployment-intents', { params: { query } }));
    return page.items;
  }

  rollout(id: string): Promise<IntentDetail> {
    return this.answer(this.client.GET('/api/v1/deployment-intents/{id}', { params: { path: { id } } }));
  }

  evidencePack(id: string): Promise<Schemas['StoredEvidencePack']> {
    return this.answer(this.client.GET('/api/v1/evidence-packs/{id}', { params: { path: { id } } }));
  }

  control(
    action: ControlAction,
    id: string,
    key: string,
    reason?: string,
  ): Promise<Schemas['ControlAccepted']> {
    const body = reason === undefined || reason.trim() === '' ? {} : { reason: reason.trim() };
    const params = { path: { id }, header: { 'idempotency-key': key } };
    switch (action) {
      case 'pause':
        return this.answer(this.client.POST('/api/v1/deployment-intents/{id}/pause', { params, body }));
      case 'resume':
        return this.answer(this.client.POST('/api/v1/deployment-intents/{id}/resume', { params, body }));
      case 'abort':
        return this.answer(this.client.POST('/api/v1/deployment-intents/{id}/abort', { params, body }));
      case 'promote':
        return this.answer(this.client.POST('/api/v1/deployment-intents/{id}/promote', { params, body }));
    }
  }

  async credentials(): Promise<Schemas['ConnectorCredential'][]> {
    const list = await this.answer(this.client.GET('/api/v1/connector-credentials'));
    return list.items;
  }

  issueCredential(
    request: Schemas['ConnectorCredentialRequest'],
    key: string,
  ): Promise<Schemas['IssuedConnectorCredential']> {
    return this.answer(
      this.client.POST('/api/v1/connector-credentials', {
        params: { header: { 'idempotency-key': key } },
        body: request,
      }),
    );
  }

  async revokeCredential(id: string, key: string): Promise<void> {
    await this.answer(
      this.client.DELETE('/api/v1/connector-credentials/{id}', {
        params: { path: { id }, header: { 'idempotency-key': key } },
        body: {},
      }),
    );
  }
}
