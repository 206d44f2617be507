import type { Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { authorizeAccess } from '../policy/authorization';
import { STORABLE_TEXT_MESSAGE, unstorableTextPaths } from '../policy/text';
import type { Access } from '../policy/authorization';
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
import { ProblemError, problems } from './problem';
import type { FieldProblem } from './problem';
import type { Actor } from './request-context';
import { PROBLEM_CONTENT_TYPE } from './middleware/problem-handler';
import {
  crossSiteRefusal,
  isJsonContentType,
  isUnsafeMethod,
  mayCarrySessionCookie,
} from './middleware/request-forgery';

/**
 * One HTTP operation, declared once: its zod schemas validate the request, type the handler and
 * produce the OpenAPI document; its `access` (policy/authorization.ts) is checked before the handler
 * runs. A route cannot be mounted without saying who may call it.
 */
export type { Access } from '../policy/authorization';
export { anyAuthenticated, publicAccess, roles } from '../policy/authorization';

type AnyObject = z.ZodType<Record<string, unknown>>;

export interface EndpointResponse {
  readonly description: string;
  readonly schema?: z.ZodType;
  readonly contentType?: string;
  /** The same answer in another media type (e.g. a zip on `?format=zip`). */
  readonly alternative?: { readonly contentType: string; readonly schema: z.ZodType };
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
  /** `sign-in`: counted against the per-address sign-in budget (besides the write budget of unsafe methods). */
  readonly rateLimit?: 'sign-in';
  readonly request?: { readonly params?: P; readonly query?: Q; readonly body?: B; readonly headers?: H };
  readonly responses: Readonly<Record<number, EndpointResponse>>;
  /** Error statuses besides the ones the mounting adds by itself (400, 401, 403, 415, 429, 500). */
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

/** The body of an action that takes none: session callers still send `{}` as application/json. */
export const emptyBodySchema = z.strictObject({}).meta({ id: 'EmptyBody' });

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
  429: 'Too many requests (sign-ins, failed API key checks, changes or refused requests); retry after Retry-After seconds',
  500: 'Unexpected error',
  503:
    'A dependency (the database, the session store, Temporal or the identity provider) is unavailable; ' +
    'retry after Retry-After seconds',
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
  const unstorable = unstorableTextPaths(value);
  if (unstorable.length > 0) {
    errors.push(
      ...unstorable.map((path) => ({
        field: path === '' ? `(${location})` : path,
        in: location,
        message: STORABLE_TEXT_MESSAGE,
      })),
    );
    return undefined;
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  errors.push(...fieldProblems(parsed.error, location));
  return undefined;
}

function authorize(access: Access, req: Request): void {
  const decision = authorizeAccess(access, req.actor, req.authenticationFailure);
  if (decision.allowed) return;
  // A service principal's refused token answers for itself: its status and its subject for the audit.
  if (req.actor === undefined && req.authenticationRefusal !== undefined) throw req.authenticationRefusal;
  throw new ProblemError(
    decision.status,
    decision.type,
    decision.status === 401 ? 'Authentication required' : 'Forbidden',
    decision.reason,
  );
}

/** What every mounted operation is guarded with besides its own access rule. */
export interface EndpointGuards {
  /** The origin browsers use (PUBLIC_URL): unsafe session requests must come from it. */
  readonly publicOrigin: string;
  readonly signInLimit: RequestHandler;
  readonly writeLimit: RequestHandler;
}

/**
 * Cross-site request forgery: an unsafe request that may ride a session cookie must come from the
 * public origin, and be JSON (even without a body: a cross-site form or `fetch` without a preflight can
 * only send form, multipart and text/plain bodies, or none at all).
 */
function refuseForgery(req: Request, publicOrigin: string): void {
  if (!isUnsafeMethod(req.method) || !mayCarrySessionCookie(req)) return;
  const refusal = crossSiteRefusal(
    { origin: req.get('origin'), secFetchSite: req.get('sec-fetch-site') },
    publicOrigin,
  );
  if (refusal !== undefined) throw problems.crossSiteRequest(refusal);
}

function refuseMediaType(req: Request, definition: Endpoint): void {
  // Every operation that takes a body takes it as JSON, from every caller: `{}` for an action with nothing
  // to say. One rule, as the document states it (the body is required); for session callers it is also
  // the cross-site request forgery protection (a form or a text/plain post cannot be JSON).
  if (bodySchemaOf(definition) !== undefined && !isJsonContentType(req.get('content-type'))) {
    throw problems.unsupportedMediaType();
  }
}

/** The body schema an operation validates: its own, or `{}` for an unsafe action that takes none. */
function bodySchemaOf(definition: Endpoint): z.ZodType | undefined {
  return definition.request?.body ?? (isUnsafeMethod(definition.method) ? emptyBodySchema : undefined);
}

/** Aborts when the response's connection closes before the answer was sent: the caller stopped waiting. */
export function abandonment(res: Response): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** What mounting an endpoint needs besides its declaration. */
export interface EndpointContext extends EndpointGuards {
  readonly store: DataStore;
  readonly idempotency: IdempotencySettings;
  readonly logger: Logger;
  /**
   * Runs a request's handler under one deadline for all the Temporal calls it makes: an unreachable
   * Temporal is a 503 in that time, not after the client's own retries. A call that waits on the
   * workflow's progress (not on Temporal's availability) sets a longer deadline of its own.
   */
  readonly temporalBudget: <T>(work: () => Promise<T>) => Promise<T>;
}

/** The request headers an endpoint validates and documents: its own, and Idempotency-Key if it takes one. */
function requestHeaders(definition: Endpoint): z.ZodType | undefined {
  const own = definition.request?.headers;
  return definition.idempotency === undefined ? own : withIdempotencyKeyHeader(own);
}

export function mountEndpoint(router: Router, definition: Endpoint, context: EndpointContext): void {
  const expressPath = definition.path.replace(/\{(\w+)\}/g, ':$1');
  const headerSchema = requestHeaders(definition);
  const label: RequestHandler = (_req, res, next) => {
    res.locals.operationId = definition.operationId;
    next();
  };
  const limits = [
    ...(definition.rateLimit === 'sign-in' ? [context.signInLimit] : []),
    ...(isUnsafeMethod(definition.method) ? [context.writeLimit] : []),
  ];
  const serve = async (req: Request, res: Response) => {
    refuseForgery(req, context.publicOrigin);
    // Who may call comes before what they sent: an anonymous caller learns nothing from validation errors.
    authorize(definition.access, req);
    refuseMediaType(req, definition);
    const errors: FieldProblem[] = [];
    const request = definition.request ?? {};
    const params = parsePart(request.params, req.params, 'path', errors) as Record<string, unknown>;
    const query = parsePart(request.query, req.query, 'query', errors) as Record<string, unknown>;
    const headers = parsePart(headerSchema, req.headers, 'header', errors) as Record<string, unknown>;
    const bodySchema = bodySchemaOf(definition);
    // A body the operation requires is required: a request without one (the JSON parser reads an empty
    // one as `{}`) is not an empty object.
    const bodyMissing =
      request.body !== undefined && (req.body === undefined || req.get('content-length') === '0');
    if (bodyMissing) errors.push({ field: '(body)', in: 'body', message: 'a JSON body is required' });
    const body: unknown =
      bodySchema === undefined || bodyMissing
        ? undefined
        : parsePart(bodySchema, req.body ?? {}, 'body', errors);
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
        abandoned: abandonment(res),
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
  };
  router[definition.method](expressPath, label, ...limits, (req: Request, res: Response) =>
    context.temporalBudget(() => serve(req, res)),
  );
}

const RETRY_AFTER_HEADER = {
  'Retry-After': { description: 'seconds to wait before retrying', schema: { type: 'string' as const } },
};

export function registerEndpoint(registry: OpenAPIRegistry, definition: Endpoint): void {
  const request = definition.request ?? {};
  const unsafe = isUnsafeMethod(definition.method);
  const guarded = definition.access.kind !== 'public';
  const bodySchema = bodySchemaOf(definition);
  const idempotent = definition.idempotency !== undefined;
  const errorStatuses = [
    ...new Set([
      400,
      ...(guarded ? [401, 403] : []),
      // 403: a cross-site request; 415: not JSON.
      ...(unsafe ? [403, 415] : bodySchema === undefined ? [] : [415]),
      ...(definition.errors ?? []),
      // Writes, sign-ins, failed key checks and refused requests each have a budget.
      ...(guarded || unsafe || definition.rateLimit !== undefined ? [429] : []),
      ...(idempotent ? [409] : []),
      500,
      // Any operation may find a dependency down (the session store is read before any route runs).
      503,
    ]),
  ].sort((a, b) => a - b);
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
        : {
            content: {
              [response.contentType ?? 'application/json']: { schema: response.schema },
              ...(response.alternative === undefined
                ? {}
                : { [response.alternative.contentType]: { schema: response.alternative.schema } }),
            },
          }),
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
      ...(status === 429 || status === 503 ? { headers: RETRY_AFTER_HEADER } : {}),
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
  const forgery = unsafe
    ? 'With a session cookie: JSON only, and from the public origin (Origin / Sec-Fetch-Site), else 403.'
    : undefined;
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
    description: [definition.description, access, forgery].filter((part) => part !== undefined).join('\n\n'),
    tags: [...definition.tags],
    ...(definition.access.kind === 'public' ? { security: [] } : {}),
    request: {
      ...(request.params === undefined ? {} : { params: request.params as z.ZodObject }),
      ...(request.query === undefined ? {} : { query: request.query as z.ZodObject }),
      ...(requestHeaders(definition) === undefined
        ? {}
        : { headers: requestHeaders(definition) as z.ZodObject }),
      ...(bodySchema === undefined
        ? {}
        : {
            body: {
              // A body-less action still takes `{}` (or at least Content-Type: application/json) from a session.
              required: true,
              ...(request.body === undefined
                ? {
                    description:
                      'Send `{}` as application/json: every unsafe request carries a JSON body (for a ' +
                      'session caller, that is also the cross-site request forgery protection).',
                  }
                : {}),
              content: { 'application/json': { schema: bodySchema } },
            },
          }),
    },
    responses: responses as never,
  });
}
