import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../../runtime/logger';
import { InvalidCursorError } from '../../db/pagination';
import { failureSummary, unavailableDependency } from '../../runtime/dependency-failure';
import { ProblemError, problems } from '../problem';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** 404 for any path no route claimed. */
export function notFound(): RequestHandler {
  return (req, _res, next) => {
    next(problems.notFound(`${req.method} ${req.path}`));
  };
}

interface BodyParserError {
  type?: string;
  status?: number;
  expose?: boolean;
  message?: string;
}

/**
 * Turns thrown errors into RFC 9457 problem documents: a dependency that is down (database, session
 * store, Temporal) is a 503 with Retry-After, anything unexpected a 500 without details. Every 5xx is
 * logged here, once, with what failed underneath and never a query's parameters.
 */
export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const dependency = error instanceof ProblemError ? undefined : unavailableDependency(error);
    const problem =
      dependency === undefined ? toProblem(error) : problems.dependencyUnavailable(dependency, error);
    if (dependency !== undefined) {
      logger.warn({ dependency, path: req.path, cause: failureSummary(error) }, 'dependency unavailable');
    } else if (problem.status === 503) {
      const cause = problem.cause === undefined ? undefined : failureSummary(problem.cause);
      logger.warn(
        { dependency: unavailableDependency(problem.cause), path: req.path, detail: problem.detail, cause },
        'dependency unavailable',
      );
    } else if (problem.status >= 500) {
      logger.error({ err: error, path: req.path }, 'request failed');
    }
    for (const [name, value] of Object.entries(problem.headers ?? {})) res.setHeader(name, value);
    res
      .status(problem.status)
      .type(PROBLEM_CONTENT_TYPE)
      .json({
        type: `https://eucora.dev/problems/${problem.type}`,
        title: problem.title,
        status: problem.status,
        ...(problem.detail === undefined ? {} : { detail: problem.detail }),
        instance: req.originalUrl,
        request_id: req.requestId,
        ...(problem.errors === undefined ? {} : { errors: problem.errors }),
      });
  };
}

function toProblem(error: unknown): ProblemError {
  if (error instanceof ProblemError) return error;
  if (error instanceof InvalidCursorError) {
    return problems.validation([{ field: 'cursor', in: 'query', message: error.message }]);
  }
  // Express's router marks a path segment that is not valid percent-encoding as a 400 URIError.
  if (error instanceof URIError) {
    return new ProblemError(
      400,
      'malformed-request',
      'Malformed request',
      'the path is not valid percent-encoding',
    );
  }
  const parserError = error as BodyParserError;
  // body-parser marks client errors (malformed JSON, too large, wrong charset) as exposable 4xx.
  if (parserError.expose === true && typeof parserError.status === 'number' && parserError.status < 500) {
    const tooLarge = parserError.type === 'entity.too.large';
    return new ProblemError(
      parserError.status,
      tooLarge ? 'payload-too-large' : 'malformed-request',
      tooLarge ? 'Payload too large' : 'Malformed request',
      tooLarge ? 'the request body exceeds the size limit' : 'the request body is not valid JSON',
    );
  }
  return new ProblemError(500, 'internal-error', 'Internal server error', 'an unexpected error occurred');
}
