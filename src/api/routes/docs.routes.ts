import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import express, { Router } from 'express';
import { openApiDocument } from '../openapi.js';

const require = createRequire(import.meta.url);
/** swagger-ui-dist's files, served from this server (no CDN). */
const SWAGGER_UI = dirname(require.resolve('swagger-ui-dist/package.json'));
const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>spin-docker API reference</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="reference"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

const INIT = `window.ui = SwaggerUIBundle({ url: '/v1/openapi.json', dom_id: '#reference', deepLinking: true, tryItOutEnabled: false });\n`;

/**
 * `GET /v1/openapi.json`, the document, and `/docs`, an interactive reference (Swagger UI) over it. Both are
 * public: they describe the API and hold nothing of this installation. "Try it out" asks for credentials.
 */
export function docsRoutes(): { openapi: Router; docs: Router } {
  let document: string | undefined;
  const openapi = Router();
  openapi.get('/', (_req, res) => {
    document ??= JSON.stringify(openApiDocument(VERSION));
    res.type('application/json').send(document);
  });

  const docs = Router();
  docs.get('/', (_req, res) => {
    // Relative asset paths need the trailing slash; the page is the same either way.
    res.type('html').send(PAGE);
  });
  docs.get('/init.js', (_req, res) => {
    res.type('application/javascript').send(INIT);
  });
  docs.use('/assets', express.static(SWAGGER_UI, { index: false, fallthrough: false }));
  return { openapi, docs };
}
