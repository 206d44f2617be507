import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { ValidateFunction } from 'ajv';

/** One response a test received, as the contract check sees it. */
export interface RecordedResponse {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: unknown;
}

interface OpenApiDocument {
  paths: Record<
    string,
    Record<string, { responses?: Record<string, { content?: Record<string, { schema: unknown }> }> }>
  >;
  components?: unknown;
}

/**
 * Checks responses against the served OpenAPI document: the status must be documented for the
 * operation, and the body must match the schema documented for its content type.
 */
export class ContractValidator {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly routes: { method: string; template: string; pattern: RegExp }[];

  constructor(private readonly document: OpenApiDocument) {
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: 'openapi.json', components: document.components ?? {} });
    this.routes = Object.entries(document.paths).flatMap(([template, operations]) =>
      Object.keys(operations).map((method) => ({
        method,
        template,
        pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
      })),
    );
  }

  /** Problems with one response; empty when it matches the contract. */
  check(response: RecordedResponse): string[] {
    // Express routes non-strictly: `/x/` is the operation `/x` (the seed's connectors use the slash).
    const path = (response.path.split('?')[0] ?? response.path).replace(/(.)\/$/, '$1');
    const method = response.method.toLowerCase();
    const route = this.routes.find((r) => r.method === method && r.pattern.test(path));
    const label = `${response.method} ${path} → ${String(response.status)}`;
    // The document and its viewer are not API operations.
    if (!path.startsWith('/api/v1/')) return [];
    if (route === undefined) {
      if (response.status === 404) return [];
      // A method the document does not list for a path it does: 405 is the documented-by-omission answer.
      const pathServed = this.routes.some((r) => r.pattern.test(path));
      if (response.status === 405 && pathServed) return [];
      return [`${label}: no such operation in the document`];
    }
    const documented = this.document.paths[route.template]?.[method]?.responses?.[String(response.status)];
    if (documented === undefined) return [`${label}: status not documented`];
    if (documented.content === undefined) return [];
    const type = (response.contentType ?? '').split(';')[0]?.trim() ?? '';
    const mediaKey = Object.keys(documented.content).find((key) => key.split(';')[0]?.trim() === type);
    const media = mediaKey === undefined ? undefined : documented.content[mediaKey];
    if (media === undefined) {
      return [
        `${label}: content type ${type} not documented (${Object.keys(documented.content).join(', ')})`,
      ];
    }
    // A binary body (a zip) has no JSON form to check: its media type is what the document promises.
    if ((media.schema as { format?: string } | undefined)?.format === 'binary') return [];
    const key = `${route.template} ${method} ${String(response.status)} ${type}`;
    let validate = this.compiled.get(key);
    if (validate === undefined) {
      const schema = JSON.parse(
        JSON.stringify(media.schema).replaceAll('"#/components/', '"openapi.json#/components/'),
      ) as object;
      validate = this.ajv.compile(schema);
      this.compiled.set(key, validate);
    }
    if (validate(response.body)) return [];
    return [`${label}: body does not match: ${this.ajv.errorsText(validate.errors)}`];
  }
}
