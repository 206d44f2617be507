import type { RequestHandler, Router } from 'express';
import type { Endpoint } from './endpoint';
import { ProblemError } from './problem';

/**
 * 405 with `Allow` for a method a served path does not take (RFC 9110 §15.5.6), instead of the 404 of a path
 * that does not exist. Mounted after every operation, so it only sees the methods no operation took.
 */
export function mountMethodNotAllowed(router: Router, endpoints: readonly Endpoint[]): void {
  const methods = new Map<string, Set<string>>();
  for (const definition of endpoints) {
    const path = definition.path.replace(/\{(\w+)\}/g, ':$1');
    const allowed = methods.get(path) ?? new Set<string>();
    allowed.add(definition.method.toUpperCase());
    // Express answers HEAD with the GET route.
    if (definition.method === 'get') allowed.add('HEAD');
    methods.set(path, allowed);
  }
  for (const [path, allowed] of methods) {
    const allow = [...allowed].sort().join(', ');
    const refuse: RequestHandler = (req, _res, next) => {
      next(
        new ProblemError(
          405,
          'method-not-allowed',
          'Method not allowed',
          `${req.method} is not served here; use ${allow}`,
          undefined,
          {
            Allow: allow,
          },
        ),
      );
    };
    router.all(path, refuse);
  }
}
