import type { RequestHandler } from 'express';
import type { Logger } from '../../runtime/logger';

/** One JSON line per request, after the response ('finish' may fire outside the request's async context). */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info(
        {
          requestId: req.requestId,
          method: req.method,
          path: req.originalUrl.split('?')[0],
          status: res.statusCode,
          durationMs: Math.round(durationMs * 10) / 10,
          actor: req.actor?.id,
        },
        'request',
      );
    });
    next();
  };
}
