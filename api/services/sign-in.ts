import { randomUUID } from 'node:crypto';
import { UNAUTHENTICATED_TENANT, asTenantId } from '../../db/tenant-id';
import type { TenantId } from '../../db/tenant-id';
import type { DataStore } from '../../db/tenant-store';
import { grantOfServicePrincipal, rolesOfPerson } from '../../policy/app-roles';
import type { Logger } from '../../runtime/logger';
import type { EntraIdentity } from '../identity/entra';
import { SignInRefusedError } from '../identity/entra-sign-in';
import type { VerifiedPerson } from '../identity/entra-sign-in';
import { IssuerUnavailableError, TokenRefusedError } from '../identity/openid-issuer';
import { ProblemError, problems } from '../problem';
import type { Actor, Role } from '../request-context';

export type SignInEventType = 'SIGNED_IN' | 'SIGN_IN_FAILED' | 'SIGNED_OUT';

/** A person signed in: what the session keeps. */
export interface SignedInUser {
  readonly tenantId: TenantId;
  readonly id: string;
  readonly displayName: string;
  readonly roles: Role[];
}

/** How a failed sign-in is answered: the reason is recorded, the caller gets the status and a plain detail. */
const REFUSAL_STATUS: Record<string, number> = {
  unknown_tenant: 403,
  no_app_role: 403,
  ambiguous_app_roles: 403,
};

export class SignInService {
  constructor(
    private readonly store: DataStore,
    private readonly entra: EntraIdentity | undefined,
    private readonly logger: Logger,
  ) {}

  /** Appends a sign-in event; durable before the caller answers (record, then act). */
  async record(
    tenantId: TenantId,
    type: SignInEventType,
    event: { actor: string; requestId: string; payload: Record<string, unknown> },
  ): Promise<void> {
    // Each sign-in event is its own: key and correlation id are the server's, never the caller's request id.
    const id = randomUUID();
    await this.store.forTenant(tenantId).events.append({
      eventKey: `sign-in:${id}`,
      eventType: type,
      intentId: null,
      correlationId: id,
      requestId: event.requestId,
      actor: event.actor,
      payload: event.payload,
      occurredAt: new Date(),
    });
  }

  /**
   * The problem to answer a refused sign-in with, recorded once: a 401/403 carries its subject to the
   * refusal audit, which writes the request's one AUTHZ_DENIED; a 400 (a flow this browser did not start,
   * a return_to elsewhere) is not an authorization refusal and is recorded here as SIGN_IN_FAILED. Both go
   * to the caller's tenant when it is known, else to the reserved UNAUTHENTICATED_TENANT. `reason` is a
   * fixed vocabulary (never a token, never the provider's free text).
   */
  async refuse(
    reason: string,
    context: {
      requestId: string;
      tenantId?: TenantId;
      actor?: string;
      actorKind?: 'user' | 'service_principal';
      status?: number;
      detail?: string;
      extra?: Record<string, unknown>;
    },
  ): Promise<ProblemError> {
    this.logger.info({ reason }, 'sign-in refused');
    const status = context.status ?? REFUSAL_STATUS[reason] ?? 401;
    const detail = context.detail ?? `sign-in refused: ${reason.replaceAll('_', ' ')}`;
    if (status === 400) {
      await this.record(context.tenantId ?? UNAUTHENTICATED_TENANT, 'SIGN_IN_FAILED', {
        actor: context.actor ?? 'anonymous',
        requestId: context.requestId,
        payload: { reason, ...context.extra },
      });
      return new ProblemError(400, 'sign-in-refused', 'Sign-in refused', detail);
    }
    const problem =
      status === 403
        ? new ProblemError(403, 'sign-in-forbidden', 'Forbidden', detail)
        : new ProblemError(401, 'sign-in-refused', 'Authentication required', detail);
    problem.subject = {
      ...(context.tenantId === undefined ? {} : { tenantId: context.tenantId }),
      ...(context.actor === undefined
        ? {}
        : { actor: context.actor, actorKind: context.actorKind ?? 'user' }),
      signIn: { reason, ...context.extra },
    };
    return problem;
  }

  /**
   * Turns what a sign-in attempt threw into the answer, recording SIGN_IN_FAILED for refusals: the
   * provider's unavailability is a 503 (nobody's fault, nothing to audit), anything else is rethrown.
   */
  async failure(error: unknown, requestId: string, extra?: Record<string, unknown>): Promise<never> {
    if (error instanceof IssuerUnavailableError) {
      throw problems.unavailable('the identity provider is unavailable; try again shortly', error);
    }
    if (error instanceof SignInRefusedError) {
      throw await this.refuse(error.reason, {
        requestId,
        extra: {
          ...extra,
          ...(error.providerError === undefined ? {} : { provider_error: error.providerError }),
        },
      });
    }
    if (error instanceof TokenRefusedError) {
      throw await this.refuse(error.reason, { requestId, ...(extra === undefined ? {} : { extra }) });
    }
    throw error;
  }

  /**
   * A person the provider vouched for becomes a EUCORA user: the tenant from their directory (`tid`),
   * roles from their app roles. An unknown directory or no mapped role is a recorded 403. The user row
   * and SIGNED_IN are durable before the caller puts the user in the session.
   */
  async admitPerson(person: VerifiedPerson, requestId: string, method: string): Promise<SignedInUser> {
    if (this.entra === undefined) throw new Error('Entra ID is not configured');
    const tenant = await this.store.tenants.findByEntraTenantId(person.entraTenantId);
    if (tenant === undefined) {
      throw await this.refuse('unknown_tenant', {
        requestId,
        actor: person.subject,
        detail: 'your directory is not linked to a EUCORA tenant',
        extra: { entra_tenant_id: person.entraTenantId },
      });
    }
    const tenantId = asTenantId(tenant.id);
    const roles = rolesOfPerson(this.entra.config.appRoles, person.rolesClaim);
    if (roles.length === 0) {
      throw await this.refuse('no_app_role', {
        requestId,
        tenantId,
        actor: person.subject,
        detail: 'you hold no EUCORA app role; ask an administrator to assign one',
      });
    }
    const user: SignedInUser = { tenantId, id: person.subject, displayName: person.displayName, roles };
    const at = new Date();
    await this.store.forTenant(tenantId).users.upsert({
      subject: person.subject,
      displayName: person.displayName,
      ...(person.email === undefined ? {} : { email: person.email }),
      roles,
      at,
    });
    await this.record(tenantId, 'SIGNED_IN', {
      actor: person.subject,
      requestId,
      payload: { method, roles, entra_tenant_id: person.entraTenantId },
    });
    return user;
  }

  /**
   * The actor behind a service principal's access token: a connector of one type, or a service with
   * EUCORA roles. Every refusal is recorded; a provider outage is a 503.
   */
  async servicePrincipal(token: string, requestId: string): Promise<Actor> {
    if (this.entra === undefined) {
      throw problems.unauthenticated('the Authorization header carries no EUCORA API key');
    }
    let principal;
    try {
      principal = await this.entra.servicePrincipals.verify(token);
    } catch (error) {
      return this.failure(error, requestId, { credential: 'entra_access_token' });
    }
    const actorId = `entra-app:${principal.appId}`;
    const tenant = await this.store.tenants.findByEntraTenantId(principal.entraTenantId);
    if (tenant === undefined) {
      throw await this.refuse('unknown_tenant', {
        requestId,
        actor: actorId,
        actorKind: 'service_principal',
        detail: 'the token’s directory is not linked to a EUCORA tenant',
        extra: { entra_tenant_id: principal.entraTenantId, credential: 'entra_access_token' },
      });
    }
    const tenantId = asTenantId(tenant.id);
    const grant = grantOfServicePrincipal(this.entra.config.appRoles, principal.rolesClaim);
    if (grant.kind === 'refused') {
      throw await this.refuse(grant.reason, {
        requestId,
        tenantId,
        actor: actorId,
        actorKind: 'service_principal',
        detail:
          grant.reason === 'no_app_role'
            ? 'the application holds no EUCORA app role'
            : 'the application’s app roles make it both a connector and something else',
        extra: { credential: 'entra_access_token' },
      });
    }
    const common = { tenantId, id: actorId, displayName: principal.appId };
    return grant.kind === 'connector'
      ? { ...common, roles: ['connector'], kind: 'connector', connectorType: grant.connectorType }
      : { ...common, roles: [...grant.roles], kind: 'service' };
  }
}
