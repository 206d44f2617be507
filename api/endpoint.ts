import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { DataStore, TenantStore } from '../db/tenant-store';
import type { Logger } from '../runtime/logger';
import {
  IDEMPOTENCY_KEY_HEADER,
  REPLAYED_HEADER,
  answerIdempotently,
  replayedHeaderDescription,
  requestHash,
  withIdempotencyKeyHeader,
} from './idempotency';
import type {
  IdempotencyMode,
  IdempotencySettings,
  IdempotentAnswer,
  IdempotentAttempt,
} from './idempotency';
import { problems } from './problem';
import type { FieldProblem } from './problem';
import type { Actor, Role } from './request-context';
import { PROBLEM_CONTENT_TYPE } from './middleware/problem-handler';

/**
 * One HTTP operation, declared once: its zod schemas validate the request, type the handler and
 * produce the OpenAPI document; its `access` is checked before the handler runs. A route cannot be
 * mounted without saying who may call it.
 */
export type Access =
  | { readonly kind: 'public' }
  | { readonly kind: 'authenticated' }
  | { readonly kind: 'roles'; readonly roles: readonly Role[] };

export const publicAccess: Access = { kind: 'public' };
export const anyAuthenticated: Access = { kind: 'authenticated' };
export function roles(...allowed: Role[]): Access {
  return { kind: 'roles', roles: [...allowed, 'admin'] };
}

type AnyObject = z.ZodType<Record<string, unknown>>;

export interface EndpointResponse {
  readonly description: string;
  readonly schema?: z.ZodType;
  readonly contentType?: string;
  readonly headers?: Record<string, { description: string; schema: { type: 'string'; enum?: string[] } }>;
}

export interface HandlerInput<
  P extends AnyObject,
  Q extends AnyObject,
  B extends z.ZodType,
  H extends AnyObject,
> {
  readonly params: z.output<P>;
  readonly query: z.output<Q>;
  readonly body: z.output<B>;
  readonly headers: z.output<H>;
  readonly actor: Actor | undefined;
  /** The request's X-Correlation-ID (or a generated one): for tracing and `request_id` on events only. */
  readonly requestId: string;
  readonly req: Request;
  readonly res: Response;
  /**
   * The caller's tenant store (401 without a caller). Under a transactional Idempotency-Key it writes
   * through the key's transaction, so handlers of such endpoints reach the database only through it.
   */
  readonly tenantStore: () => TenantStore;
  /** Set when the request carries an Idempotency-Key and the endpoint declares `idempotency`. */
  readonly idempotency: IdempotentAttempt | undefined;
}

export interface EndpointResult extends IdempotentAnswer {
  readonly headers?: Record<string, string>;
  readonly contentType?: string;
}

export interface Endpoint<
  P extends AnyObject = AnyObject,
  Q extends AnyObject = AnyObject,
  B extends z.ZodType = z.ZodType,
  H extends AnyObject = AnyObject,
> {
  readonly operationId: string;
  readonly method: 'get' | 'post' | 'put' | 'delete';
  /** OpenAPI-style path below /api/v1, e.g. `/deployment-intents/{id}`. */
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly access: Access;
  readonly request?: { readonly params?: P; readonly query?: Q; readonly body?: B; readonly headers?: H };
  readonly responses: Readonly<Record<number, EndpointResponse>>;
  /** Error statuses besides the ones every endpoint can answer (400, 401, 403, 500). */
  readonly errors?: readonly number[];
  /** Takes an Idempotency-Key, and how its effect stays single (api/idempotency.ts). */
  readonly idempotency?: IdempotencyMode;
  readonly handle: (input: HandlerInput<P, Q, B, H>) => Promise<EndpointResult>;
}

/** Keeps the generic parameters when an endpoint is declared as a literal. */
export function endpoint<P extends AnyObject, Q extends AnyObject, B extends z.ZodType, H extends AnyObject>(
  definition: Endpoint<P, Q, B, H>,
): Endpoint {
  return definition;
}

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    request_id: z
      .string()
      .optional()
      .describe('the request’s X-Correlation-ID (or the one generated for it)'),
    errors: z
      .array(z.object({ field: z.string(), in: z.string().optional(), message: z.string() }))
      .optional(),
  })
  .meta({ id: 'Problem' });

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is not valid; `errors` names each bad field',
  401: 'Authentication required',
  403: 'The caller may not do this',
  404: 'Not found (or another tenant’s)',
  409: 'The resource is not in a state that allows this',
  413: 'The request body is too large',
  415: 'The request body is not application/json',
  422: 'The request is well-formed but cannot be processed; `errors` names each missing part',
  500: 'Unexpected error',
  503: 'A dependency is unavailable',
};

function fieldProblems(error: z.ZodError, location: string): FieldProblem[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    const unknownKeys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    if (unknownKeys.length > 0) {
      return {
        field: unknownKeys.map((key) => (path === '' ? key : `${path}.${key}`)).join(', '),
        in: location,
        message: 'is not a known field',
      };
    }
    return { field: path === '' ? `(${location})` : path, in: location, message: issue.message };
  });
}

function parsePart(schema: z.ZodType | undefined, value: unknown, location: string, errors: FieldProblem[]) {
  if (schema === undefined) return {};
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  errors.push(...fieldProblems(parsed.error, location));
  return undefined;
}

function authorize(access: Access, actor: Actor | undefined): void {
  if (access.kind === 'public') return;
  if (actor === undefined) throw problems.unauthenticated();
  if (access.kind === 'roles' && !actor.roles.some((role) => access.roles.includes(role))) {
    throw problems.forbidden(`this needs one of the roles: ${access.roles.join(', ')}`);
  }
}

/** What mounting an endpoint needs besides its declaration. */
export interface EndpointContext {
  readonly store: DataStore;
  readonly idempotency: IdempotencySettings;
  readonly logger: Logger;
}

/** The request headers an endpoint validates and documents: its own, and Idempotency-Key if it takes one. */
function requestHeaders(definition: Endpoint): z.ZodType | undefined {
  const own = definition.request?.headers;
  return definition.idempotency === undefined ? own : withIdempotencyKeyHeader(own);
}

export function mountEndpoint(router: Router, definition: Endpoint, context: EndpointContext): void {
  const expressPath = definition.path.replace(/\{(\w+)\}/g, ':$1');
  const headerSchema = requestHeaders(definition);
  router[definition.method](expressPath, async (req, res) => {
    // Who may call comes before what they sent: an anonymous caller learns nothing from validation errors.
    authorize(definition.access, req.actor);
    // Only JSON bodies: a cross-site form post cannot smuggle a request in as text/plain.
    if (
      definition.request?.body !== undefined &&
      req.get('content-type') !== undefined &&
      !req.is('application/json')
    ) {
      throw problems.unsupportedMediaType();
    }
    const errors: FieldProblem[] = [];
    const request = definition.request ?? {};
    const params = parsePart(request.params, req.params, 'path', errors) as Record<string, unknown>;
    const query = parsePart(request.query, req.query, 'query', errors) as Record<string, unknown>;
    const headers = parsePart(headerSchema, req.headers, 'header', errors) as Record<string, unknown>;
    const body: unknown =
      request.body === undefined ? undefined : parsePart(request.body, req.body ?? {}, 'body', errors);
    if (errors.length > 0) throw problems.validation(errors);

    const actor = req.actor;
    const callerStore = actor === undefined ? undefined : context.store.forTenant(actor.tenantId);
    const run = (store: TenantStore | undefined, idempotency: IdempotentAttempt | undefined) =>
      definition.handle({
        params,
        query,
        body,
        headers,
        actor,
        requestId: req.requestId,
        req,
        res,
        tenantStore: () => {
          if (store === undefined) throw problems.unauthenticated();
          return store;
        },
        idempotency,
      });
    const key = headers[IDEMPOTENCY_KEY_HEADER];
    let result: EndpointResult;
    if (definition.idempotency === undefined || typeof key !== 'string' || callerStore === undefined) {
      result = await run(callerStore, undefined);
    } else {
      const outcome = await answerIdempotently({
        mode: definition.idempotency,
        store: callerStore,
        key,
        operation: definition.operationId,
        requestHash: requestHash({
          operation: definition.operationId,
          actor: actor?.id ?? '',
          params,
          query,
          body,
        }),
        settings: context.idempotency,
        logger: context.logger,
        act: (store, attempt) => run(store, attempt),
      });
      result = outcome.answer;
      if (outcome.replayed) res.setHeader(REPLAYED_HEADER, 'true');
    }
    for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
    res.status(result.status);
    if (result.body === undefined) {
      res.end();
    } else if (result.contentType !== undefined) {
      res.type(result.contentType).send(result.body);
    } else {
      res.json(result.body);
    }
  });
}

export function registerEndpoint(registry: OpenAPIRegistry, definition: Endpoint): void {
  const request = definition.request ?? {};
  const idempotent = definition.idempotency !== undefined;
  const bodyErrors = request.body === undefined ? [] : [415];
  const errorStatuses = [
    ...new Set([
      400,
      ...(definition.access.kind === 'public' ? [] : [401, 403]),
      ...bodyErrors,
      ...(definition.errors ?? []),
      ...(idempotent ? [409] : []),
      500,
    ]),
  ];
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(definition.responses)) {
    const headers = {
      ...response.headers,
      ...(idempotent && status.startsWith('2') ? { [REPLAYED_HEADER]: replayedHeaderDescription } : {}),
    };
    responses[status] = {
      description: response.description,
      ...(Object.keys(headers).length === 0 ? {} : { headers }),
      ...(response.schema === undefined
        ? {}
        : { content: { [response.contentType ?? 'application/json']: { schema: response.schema } } }),
    };
  }
  for (const status of errorStatuses) {
    const idempotencyConflict = idempotent && status === 409;
    responses[String(status)] ??= {
      description: idempotencyConflict
        ? `${ERROR_DESCRIPTIONS[409] ?? 'Conflict'}; or the Idempotency-Key belongs to another request ` +
          '(`idempotency-key-reused`), or to one still being processed (`idempotency-key-in-progress`, ' +
          'retry after Retry-After seconds)'
        : (ERROR_DESCRIPTIONS[status] ?? 'Error'),
      ...(idempotencyConflict
        ? {
            headers: {
              'Retry-After': {
                description: 'with `idempotency-key-in-progress`: seconds until a retry may take over',
                schema: { type: 'string' },
              },
            },
          }
        : {}),
      content: { [PROBLEM_CONTENT_TYPE]: { schema: problemSchema } },
    };
  }
  const access =
    definition.access.kind === 'roles'
      ? `Roles: ${definition.access.roles.join(', ')}.`
      : definition.access.kind === 'public'
        ? 'No authentication.'
        : 'Any authenticated caller.';
  registry.registerPath({
    method: definition.method,
    path: `/api/v1${definition.path}`,
    operationId: definition.operationId,
    summary: definition.summary,
    description: [definition.description, access].filter((part) => part !== undefined).join('\n\n'),
    tags: [...definition.tags],
    ...(definition.access.kind === 'public' ? { security: [] } : {}),
    request: {
      ...(request.params === undefined ? {} : { params: request.params as z.ZodObject }),
      ...(request.query === undefined ? {} : { query: request.query as z.ZodObject }),
      ...(requestHeaders(definition) === undefined
        ? {}
        : { headers: requestHeaders(definition) as z.ZodObject }),
      ...(request.body === undefined
        ? {}
        : { body: { required: true, content: { 'application/json': { schema: request.body } } } }),
    },
    responses: responses as never,
  });
}
