/** A tenant id that has been checked: the only kind the data-access layer accepts. */
export type TenantId = string & { readonly __brand: 'TenantId' };

const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function asTenantId(raw: string): TenantId {
  if (!TENANT_ID.test(raw)) throw new Error(`"${raw}" is not a valid tenant id`);
  return raw as TenantId;
}

/**
 * Where refusals of callers with no identity (no session, no valid key) are audited. Real tenant ids start
 * with a letter or digit, so no tenant can ever be named this, read these rows, or have its own mixed in.
 */
export const UNAUTHENTICATED_TENANT = '_unauthenticated' as TenantId;
