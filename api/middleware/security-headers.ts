import helmet from 'helmet';
import type { RequestHandler } from 'express';

/**
 * helmet with a Content-Security-Policy for same-origin pages only: the bundled Swagger UI and the
 * console (Vite's build: module scripts and stylesheets from 'self'). Nothing runs or styles inline and
 * nothing loads from elsewhere (a browser test holds Swagger UI and a console-shaped page to that).
 * HSTS and upgrade-insecure-requests only in production, which is https by configuration.
 */
export function securityHeaders(options: { readonly production: boolean }): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
        upgradeInsecureRequests: options.production ? [] : null,
      },
    },
    strictTransportSecurity: options.production ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  });
}

/** Every API answer may carry a secret (a key, a session, tenant data): no cache, shared or private, keeps it. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  next();
};
