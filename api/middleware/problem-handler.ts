import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../../runtime/logger';
import { InvalidCursorError } from '../../db/pagination';
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

/** Turns thrown errors into RFC 9457 problem documents; anything unexpected is a logged 500 without details. */
export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const problem = toProblem(error);
    if (problem.status >= 500) logger.error({ err: error, path: req.path }, 'request failed');
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
