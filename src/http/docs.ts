import { readFileSync } from 'node:fs';
import express, { Router } from 'express';
import { createRequire } from 'node:module';
import path from 'node:path';

const page = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Mixpanel integration — API reference</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>`;

const init = `window.ui = SwaggerUIBundle({ url: '/openapi.yaml', dom_id: '#swagger-ui', deepLinking: true });`;

/** The folder of swagger-ui-dist, without loading its 1 MB browser bundle into this process. */
const swaggerUiDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** The API reference in a browser, with Swagger UI served from node_modules (works offline). */
export function docsRoutes(specPath: string): Router {
  const r = Router();
  const spec = readFileSync(specPath, 'utf8');
  r.get('/openapi.yaml', (_req, res) => {
    res.type('application/yaml').send(spec);
  });
  r.get('/docs', (_req, res) => {
    res.type('html').send(page);
  });
  r.get('/docs/init.js', (_req, res) => {
    res.type('application/javascript').send(init);
  });
  r.use('/docs/assets', express.static(swaggerUiDir, { index: false }));
  return r;
}
