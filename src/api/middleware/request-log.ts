import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
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

/** Logs the end of each request; check-ins only at debug (they are many), and then at no cost otherwise. */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const checkIn = req.url.startsWith('/v1/check-in');
    const level = checkIn ? 'debug' : 'info';
    if (!logger.isLevelEnabled(level)) {
      next();
      return;
    }
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const path = req.originalUrl.split('?')[0];
      requestLogger(req, logger)[level]({ method: req.method, path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
    next();
  };
}
