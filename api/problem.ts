import { DEPENDENCY_RETRY_AFTER_SECONDS, describeDependency } from '../runtime/dependency-failure';
import type { Dependency } from '../runtime/dependency-failure';

/** A field that failed validation, named by its JSON path. */
export interface FieldProblem {
  readonly field: string;
  /** Where the field is: body, query, path or header. */
  readonly in?: string;
  readonly message: string;
}

import type { TenantId } from '../db/tenant-id';

/**
 * Who a refusal concerns when it is not the request's authenticated actor (a sign-in that failed, a token
 * that did not pass), and why in the sign-in's own words: the refusal audit writes it into the one
 * AUTHZ_DENIED record of the request.
 */
export interface RefusalSubject {
  readonly tenantId?: TenantId;
  readonly actor?: string;
  readonly actorKind?: string;
  /** The sign-in's reason (a fixed vocabulary) and its facts, e.g. the directory id; never a token. */
  readonly signIn?: Readonly<Record<string, unknown>>;
}

/**
 * An RFC 9457 problem: thrown by routes and services, written as `application/problem+json` by the
 * error handler. `type` is a stable machine-readable slug.
 */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: readonly FieldProblem[],
    /** Response headers the problem calls for, such as `Retry-After`. */
    readonly headers?: Readonly<Record<string, string>>,
    /** What went wrong underneath (a 503's dependency failure): logged, never answered. */
    cause?: unknown,
  ) {
    super(detail ?? title, cause === undefined ? undefined : { cause });
    this.name = 'ProblemError';
  }

  /** Set on a 401/403 whose subject the refusal audit cannot learn from the request (see RefusalSubject). */
  subject: RefusalSubject | undefined;
}

/** 503 with Retry-After: something the request needs failed; the same request may succeed later. */
function unavailable(
  detail: string,
  cause?: unknown,
  retryAfterSeconds = DEPENDENCY_RETRY_AFTER_SECONDS,
): ProblemError {
  return new ProblemError(
    503,
    'service-unavailable',
    'Service unavailable',
    detail,
    undefined,
    { 'Retry-After': String(retryAfterSeconds) },
    cause,
  );
}

export const problems = {
  validation: (errors: readonly FieldProblem[]) =>
    new ProblemError(
      400,
      'validation-error',
      'The request is not valid',
      errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      errors,
    ),
  unauthenticated: (detail = 'sign in, or present a connector API key') =>
    new ProblemError(401, 'unauthenticated', 'Authentication required', detail),
  forbidden: (detail: string, type = 'forbidden') => new ProblemError(403, type, 'Forbidden', detail),
  crossSiteRequest: (detail: string) =>
    new ProblemError(403, 'cross-site-request', 'Cross-site request refused', detail),
  tooManyRequests: (detail: string, retryAfterSeconds: number) =>
    new ProblemError(429, 'too-many-requests', 'Too many requests', detail, undefined, {
      'Retry-After': String(retryAfterSeconds),
    }),
  notFound: (what: string) => new ProblemError(404, 'not-found', 'Not found', `${what} was not found`),
  conflict: (type: string, detail: string) => new ProblemError(409, type, 'Conflict', detail),
  unsupportedMediaType: () =>
    new ProblemError(
      415,
      'unsupported-media-type',
      'Unsupported media type',
      'send the body as application/json (an empty object {} when the operation takes none)',
    ),
  unprocessable: (type: string, detail: string, errors?: readonly FieldProblem[]) =>
    new ProblemError(422, type, 'The request cannot be processed', detail, errors),
  unavailable,
  /** 503 for a dependency that failed (runtime/dependency-failure.ts). */
  dependencyUnavailable: (dependency: Dependency, cause?: unknown) =>
    unavailable(`${describeDependency(dependency)} is unavailable; retry after Retry-After seconds`, cause),
};
