import type { Request, RequestHandler } from 'express';
import type { Metrics } from '../../adapters/prometheus/metrics.js';

/**
 * The route as Express matched it (/v1/containers/:id), so that ids never become labels; "unmatched" else.
 * Express forgets a router's mount path (req.baseUrl) once the request leaves it, so `mountPoint` notes it.
 */
function routeOf(req: Request, mount: unknown): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof path !== 'string') return 'unmatched';
  const route = `${typeof mount === 'string' ? mount : ''}${path === '/' ? '' : path}`;
  return route === '' ? '/' : route;
}

/** Put before a mounted router: notes its mount path for the metrics. */
export const mountPoint: RequestHandler = (req, res, next) => {
  res.locals.mount = req.baseUrl;
  next();
};

/** Times every request into spin_docker_http_request_duration_seconds{method, route, status}. */
export function requestMetrics(metrics: Pick<Metrics, 'requests'>): RequestHandler {
  return (req, res, next) => {
    const end = metrics.requests.startTimer();
    res.once('finish', () => end({ method: req.method, route: routeOf(req, res.locals.mount), status: String(res.statusCode) }));
    next();
  };
}

/** GET /metrics: this API process's metrics in Prometheus's text format. */
export function metricsHandler(metrics: Pick<Metrics, 'registry'>): RequestHandler {
  return async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  };
}
