import type { Request } from 'express';

/** Methods that change something; a browser may send these cross-site with the user's cookie attached. */
export function isUnsafeMethod(method: string): boolean {
  return !['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase());
}

/**
 * Cookies ride along on any request a browser makes; an Authorization header never does on its own (a
 * cross-site page cannot set one without a CORS preflight, which this API never grants). So only
 * requests without one need the forgery checks.
 */
export function mayCarrySessionCookie(req: Request): boolean {
  return req.get('authorization') === undefined;
}

function originOf(value: string): string | undefined {
  try {
    const origin = new URL(value).origin;
    // `null` and non-network schemes have an opaque origin.
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

/**
 * Why an unsafe request is not from the console's own origin, or undefined when it is (or comes from no
 * browser at all). `Sec-Fetch-Site` is set by every current browser and cannot be forged by a page; `Origin`
 * covers older ones. A request with neither is not a browser's (curl, scripts) and cannot ride a victim's
 * session; the JSON-only rule still applies to it.
 */
export function crossSiteRefusal(
  headers: { readonly origin: string | undefined; readonly secFetchSite: string | undefined },
  publicOrigin: string,
): string | undefined {
  const site = headers.secFetchSite?.trim().toLowerCase();
  // `none`: the user started it (address bar, bookmark), not a page.
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return `the request was sent by a ${site} page (Sec-Fetch-Site), not by ${publicOrigin}`;
  }
  if (headers.origin !== undefined && originOf(headers.origin) !== publicOrigin) {
    return `the request's Origin is not ${publicOrigin}`;
  }
  return undefined;
}

/** True when the declared media type is JSON; a missing Content-Type is not. */
export function isJsonContentType(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === 'application/json';
}
