import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler } from 'express';

/** Where `npm run build` puts the dashboard (scripts/build-web.mjs), from src/ or dist/ alike. */
export const WEB_ROOT = fileURLToPath(new URL('../../../dist/web/', import.meta.url));

/**
 * The dashboard (mounted behind the same Basic auth as the API): its page at `/` and its files under `/ui/`,
 * built by `npm run build`. Without a build, `/` says how to make one.
 */
export function webRoutes(root = WEB_ROOT): { page: RequestHandler; assets: RequestHandler } {
  if (!existsSync(`${root}index.html`)) {
    const missing: RequestHandler = (_req, res) => {
      res.status(503).type('text/plain').send('The dashboard is not built: run `npm run build`.\n');
    };
    return { page: missing, assets: missing };
  }
  return {
    page: (_req, res) => {
      // Small, and new with each build: the browser asks again each time.
      res.set('Cache-Control', 'no-cache').sendFile('index.html', { root });
    },
    assets: express.static(`${root}ui`, { index: false, cacheControl: false, setHeaders: (res) => res.set('Cache-Control', 'no-cache') }),
  };
}
