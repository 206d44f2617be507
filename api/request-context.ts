import type { TenantId } from '../db/tenant-id';
import type { ConnectorType } from '../policy/connectors';

import type { Role } from '../policy/authorization';

export { ROLES } from '../policy/authorization';
export type { Role } from '../policy/authorization';

/** Who is calling. Filled by authentication; every route reads the actor from here and nowhere else. */
export interface Actor {
  readonly tenantId: TenantId;
  /**
   * Stable id recorded in the audit trail: a user's subject, `connector:<credential name>` or
   * `metrics:<credential name>`.
   */
  readonly id: string;
  readonly displayName: string;
  readonly roles: readonly Role[];
  /** A person (session), an execution-plane connector, or a service such as a metrics scraper (API keys). */
  readonly kind: 'user' | 'connector' | 'service';
  /** Set for connectors: the only execution plane this caller may report for. */
  readonly connectorType?: ConnectorType;
}

export interface RequestContext {
  readonly requestId: string;
  readonly actor: Actor | undefined;
}
