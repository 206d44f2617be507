/**
 * Where a person lands after signing in: a path on EUCORA's own origin, never another site (an open
 * redirect would let a link through EUCORA's sign-in hand the fresh session's user to a phishing page).
 * Returns the normalised path, or undefined when `value` is not a same-origin path.
 */
export function sameOriginPath(value: string, origin: string): string | undefined {
  // Browsers treat "\" like "/" and drop tabs and newlines, so "/\evil.example" would leave the origin.
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (!value.startsWith('/') || value.length > 2048 || /[\\\u0000-\u001f\u007f]/u.test(value)) {
    return undefined;
  }
  if (value.startsWith('//')) return undefined;
  let resolved: URL;
  try {
    resolved = new URL(value, origin);
  } catch {
    return undefined;
  }
  if (resolved.origin !== new URL(origin).origin) return undefined;
  return `${resolved.pathname}${resolved.search}${resolved.hash}`;
}
