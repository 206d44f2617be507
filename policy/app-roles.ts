import { CONNECTOR_TYPES, isConnectorType } from './connectors';
import type { ConnectorType } from './connectors';
import { ROLES } from './authorization';
import type { Role } from './authorization';

/**
 * What an Entra ID app role (the value in the token's `roles` claim) grants in EUCORA: a role, or the
 * right to report as one connector type. The mapping is configuration (ENTRA_APP_ROLES), so a directory's
 * existing role names can be reused.
 */
export type AppRoleGrant =
  | { readonly kind: 'role'; readonly role: Exclude<Role, 'connector'> }
  | { readonly kind: 'connector'; readonly connectorType: ConnectorType };

export type AppRoleMap = ReadonlyMap<string, AppRoleGrant>;

/** Roles a person may hold; machines' roles (connector, metrics reader) come only with app-only tokens. */
const PERSON_ROLES = ['submitter', 'cab_member', 'operator', 'auditor', 'admin'] as const;

/** The app roles to declare in the app registration when ENTRA_APP_ROLES is not set. */
export const DEFAULT_APP_ROLES: Readonly<Record<string, string>> = {
  'EUCORA.Submitter': 'submitter',
  'EUCORA.CabMember': 'cab_member',
  'EUCORA.Operator': 'operator',
  'EUCORA.Auditor': 'auditor',
  'EUCORA.Admin': 'admin',
  'EUCORA.MetricsReader': 'metrics_reader',
  ...Object.fromEntries(
    CONNECTOR_TYPES.map((type) => [
      `EUCORA.Connector.${type[0]?.toUpperCase() ?? ''}${type.slice(1)}`,
      `connector:${type}`,
    ]),
  ),
};

/** Reads `{ "<app role value>": "<EUCORA role>" | "connector:<type>" }`; throws one line per bad entry. */
export function parseAppRoleMap(raw: Readonly<Record<string, unknown>>): AppRoleMap {
  const map = new Map<string, AppRoleGrant>();
  const problems: string[] = [];
  for (const [appRole, value] of Object.entries(raw)) {
    if (typeof value !== 'string') {
      problems.push(`${appRole}: must be a role name or connector:<type>`);
    } else if (value.startsWith('connector:')) {
      const connectorType = value.slice('connector:'.length);
      if (isConnectorType(connectorType)) map.set(appRole, { kind: 'connector', connectorType });
      else
        problems.push(`${appRole}: ${connectorType} is not a connector type (${CONNECTOR_TYPES.join(', ')})`);
    } else if (value !== 'connector' && (ROLES as readonly string[]).includes(value)) {
      map.set(appRole, { kind: 'role', role: value as Exclude<Role, 'connector'> });
    } else {
      problems.push(
        `${appRole}: ${value} is not a EUCORA role (${ROLES.filter((r) => r !== 'connector').join(', ')}) or connector:<type>`,
      );
    }
  }
  if (problems.length > 0) throw new AppRoleMapError(problems);
  return map;
}

export class AppRoleMapError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'AppRoleMapError';
  }
}

function claimRoles(claim: unknown): string[] {
  return Array.isArray(claim) ? claim.filter((value): value is string => typeof value === 'string') : [];
}

/** The EUCORA roles a person's app roles grant, in a stable order; app roles for machines grant nothing here. */
export function rolesOfPerson(map: AppRoleMap, rolesClaim: unknown): Role[] {
  const granted = new Set<Role>();
  for (const appRole of claimRoles(rolesClaim)) {
    const grant = map.get(appRole);
    if (grant?.kind === 'role' && (PERSON_ROLES as readonly string[]).includes(grant.role))
      granted.add(grant.role);
  }
  return ROLES.filter((role) => granted.has(role));
}

/** What an app-only (client-credentials) token may do. */
export type ServicePrincipalGrant =
  | { readonly kind: 'connector'; readonly connectorType: ConnectorType }
  | { readonly kind: 'service'; readonly roles: readonly Role[] }
  | { readonly kind: 'refused'; readonly reason: 'no_app_role' | 'ambiguous_app_roles' };

/**
 * A service principal is either a connector of exactly one type, or a service with EUCORA roles (automation,
 * a metrics scraper); never both, so a connector's token cannot also carry, say, CAB rights.
 */
export function grantOfServicePrincipal(map: AppRoleMap, rolesClaim: unknown): ServicePrincipalGrant {
  const connectorTypes = new Set<ConnectorType>();
  const roles = new Set<Role>();
  for (const appRole of claimRoles(rolesClaim)) {
    const grant = map.get(appRole);
    if (grant?.kind === 'connector') connectorTypes.add(grant.connectorType);
    else if (grant?.kind === 'role') roles.add(grant.role);
  }
  if (connectorTypes.size === 0 && roles.size === 0) return { kind: 'refused', reason: 'no_app_role' };
  if (connectorTypes.size > 1 || (connectorTypes.size === 1 && roles.size > 0)) {
    return { kind: 'refused', reason: 'ambiguous_app_roles' };
  }
  const [connectorType] = connectorTypes;
  if (connectorType !== undefined) return { kind: 'connector', connectorType };
  return { kind: 'service', roles: ROLES.filter((role) => roles.has(role)) };
}
