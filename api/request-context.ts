import type { TenantId } from '../db/tenant-id';
import type { ConnectorType } from '../policy/connectors';

export const ROLES = [
  'submitter',
  'cab_member',
  'operator',
  'auditor',
  'admin',
  'connector',
  'metrics_reader',
] as const;
export type Role = (typeof ROLES)[number];

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
