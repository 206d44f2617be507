import { existsSync } from 'node:fs';
import path from 'node:path';
import express from 'express';
import type { Router } from 'express';

/**
 * Where the console's build (Vite, `npm run build:console`) is: `dist/console` beside the compiled server
 * in production (dist/api/…), or under the repository's dist/ when running from source (tsx). Undefined
 * when it was never built.
 */
export function consoleBuildDirectory(): string | undefined {
  const candidates = [
    path.resolve(__dirname, '..', 'console'),
    path.resolve(__dirname, '..', 'dist', 'console'),
  ];
  return candidates.find((dir) => existsSync(path.join(dir, 'index.html')));
}

/**
 * The browser console at `/`: its hashed assets cached for good, and every other page path (the console
 * routes itself: /cab, /rollouts/…) answered with index.html, never cached so a new build is seen at once.
 * The API (/api/…) is never shadowed: its unknown paths stay problem documents.
 */
export function consoleApp(root: string): Router {
  const router = express.Router();
  const index = path.join(root, 'index.html');
  router.use('/assets', express.static(path.join(root, 'assets'), { immutable: true, maxAge: '365d' }));
  router.use(express.static(root, { index: false }));
  // A missing asset stays a 404, not the page.
  router.get(/^\/(?!api(?:\/|$)|assets\/).*/, (req, res, next) => {
    if (!req.accepts('html')) {
      next();
      return;
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  });
  return router;
}
