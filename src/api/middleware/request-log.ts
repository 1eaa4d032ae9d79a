import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';

const children = new WeakMap<Request, Logger>();

/** The request's child logger (with a requestId), made on first use: most requests never need one. */
export function requestLogger(req: Request, logger: Logger): Logger {
  let child = children.get(req);
  if (child === undefined) {
    child = logger.child({ requestId: randomUUID() });
    children.set(req, child);
  }
  return child;
}

/**
 * Logs the end of each request that changed something or failed, at info: a create, a stop, a refusal, an error.
 * Reads that succeeded and check-ins are many and change nothing a reader of the log needs: they are logged at
 * debug only, and then cost nothing otherwise (a line per read was the biggest cost of a read).
 */
export function requestLog(logger: Logger): RequestHandler {
  const debug = logger.isLevelEnabled('debug');
  return (req, res, next) => {
    const quiet = req.method === 'GET' || req.method === 'HEAD' || req.url.startsWith('/v1/check-in');
    if (quiet && !debug) {
      res.once('finish', () => {
        if (res.statusCode >= 400) line(req, res, logger, 'info', undefined);
      });
      next();
      return;
    }
    const started = process.hrtime.bigint();
    res.once('finish', () => line(req, res, logger, quiet && res.statusCode < 400 ? 'debug' : 'info', started));
    next();
  };
}

function line(req: Request, res: Response, logger: Logger, level: 'debug' | 'info', started: bigint | undefined): void {
  const path = req.originalUrl.split('?')[0];
  const ms = started === undefined ? undefined : Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10;
  requestLogger(req, logger)[level]({ method: req.method, path, status: res.statusCode, ...(ms === undefined ? {} : { ms }) }, 'request');
}
