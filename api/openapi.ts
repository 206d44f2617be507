import path from 'node:path';
import express from 'express';
import type { Router } from 'express';
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { registerEndpoint } from './endpoint';
import type { Endpoint } from './endpoint';

/** The OpenAPI 3.1 document, generated from the same endpoint declarations that validate requests. */
export function buildOpenApiDocument(endpoints: readonly Endpoint[], serverUrl: string, cookieName: string) {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'session', {
    type: 'apiKey',
    in: 'cookie',
    name: cookieName,
    description:
      'The session cookie a sign-in sets (`__Host-` prefixed and Secure over https). Unsafe requests with it ' +
      'must be application/json and come from the public origin.',
  });
  registry.registerComponent('securitySchemes', 'connectorKey', {
    type: 'http',
    scheme: 'bearer',
    description:
      'API key issued by an admin: a connector key (eucora_ck_…) for the connector endpoints, or a ' +
      'metrics key (eucora_mk_…) for GET /api/v1/metrics',
  });
  registry.registerComponent('securitySchemes', 'entraAccessToken', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'Entra ID client-credentials access token of a service principal (connectors, automation), for ' +
      'api://<EUCORA client id>; its app roles decide what it may do',
  });
  for (const definition of endpoints) registerEndpoint(registry, definition);
  const document = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'EUCORA control plane API',
      version: '1.0.0',
      description:
        'Deployment intents, evidence, risk, CAB decisions, connector reports and the audit trail. ' +
        'Errors are application/problem+json (RFC 9457).',
    },
    servers: [{ url: serverUrl }],
    security: [{ session: [] }, { connectorKey: [] }, { entraAccessToken: [] }],
  });
  withoutRegexFlags(document);
  return document;
}

/**
 * zod-to-openapi 9 writes a pattern as `regex.toString()` minus a leading and trailing slash, so a
 * `/^…$/u` pattern reaches the document as `^…$/u`, which matches nothing. Every pattern of this API is
 * anchored (`^…$`), so a trailing `/flags` after the `$` can only be that artefact: it is removed. JSON
 * Schema patterns are ECMA-262 with Unicode semantics, which is what the `u` flag meant.
 */
function withoutRegexFlags(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) withoutRegexFlags(item);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const record = node as Record<string, unknown>;
  for (const [key, value] of Object.entries(record)) {
    if (key === 'pattern' && typeof value === 'string') {
      record[key] = value.replace(/^(\^.*\$)\/[dgimsuvy]+$/su, '$1');
    } else {
      withoutRegexFlags(value);
    }
  }
}

const SWAGGER_INDEX = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <title>EUCORA API</title>
  <link rel="icon" type="image/png" href="favicon-32x32.png" />
  <link rel="stylesheet" href="swagger-ui.css" />
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="swagger-ui-bundle.js"></script>
  <script src="init.js"></script>
</body>
</html>`;

// validatorUrl: null keeps the page from loading a badge from another origin (the CSP would refuse it).
const SWAGGER_INIT = `window.ui = SwaggerUIBundle({ url: '/api/schema', dom_id: '#swagger-ui', deepLinking: true, validatorUrl: null });`;

/** Swagger UI from node_modules, so the docs work with no network. */
export function swaggerUi(): Router {
  const router = express.Router();
  router.get('/', (_req, res) => {
    res.type('html').send(SWAGGER_INDEX);
  });
  router.get('/init.js', (_req, res) => {
    res.type('application/javascript').send(SWAGGER_INIT);
  });
  router.use(express.static(path.dirname(require.resolve('swagger-ui-dist/package.json')), { index: false }));
  return router;
}
