import express, { type Express } from 'express';
import type { Config } from '../config/env.js';
import type { CheckIn } from '../domain/containers/check-in.js';
import type { Consistency } from '../domain/containers/consistency.js';
import type { ContainerRequests } from '../domain/containers/requests.js';
import type { ImageCatalog } from '../domain/images/catalog.js';
import type { ImagePulls } from '../domain/images/pulls.js';
import type { ContainerRuntime, EventLog, LoginThrottle } from '../domain/ports.js';
import type { HealthReport } from '../adapters/redis/health.js';
import type { Logger } from 'pino';
import type { Metrics } from '../adapters/prometheus/metrics.js';
import { basicAuth } from './middleware/auth.js';
import { pageHeaders, sameOriginOnly } from './middleware/browser.js';
import { PROXY_HEADER_SETTING } from './middleware/client.js';
import { localOnly } from './middleware/local-only.js';
import type { OpenStreams } from './middleware/streams.js';
import { errorHandler, notFoundRoute } from './middleware/errors.js';
import { metricsHandler, mountPoint, requestMetrics } from './middleware/metrics.js';
import { requestLog } from './middleware/request-log.js';
import { containerPresenter } from './presenters/container.presenter.js';
import { checkinRoutes } from './routes/checkin.routes.js';
import { containersRoutes } from './routes/containers.routes.js';
import { docsRoutes } from './routes/docs.routes.js';
import { eventsRoutes } from './routes/events.routes.js';
import { imagesRoutes } from './routes/images.routes.js';
import { webRoutes } from './routes/web.routes.js';

export interface AppDeps {
  readonly config: Pick<
    Config,
    | 'password'
    | 'defaultPassword'
    | 'environment'
    | 'trustedProxies'
    | 'proxyHeader'
    | 'eventsHeartbeat'
    | 'metricsPublic'
    | 'timeoutInterval'
    | 'activitySources'
    | 'quietConnection'
  >;
  /** Where this host's containers are (the default password's reach). */
  readonly runtime: Pick<ContainerRuntime, 'localNetworks'>;
  readonly logger: Logger;
  readonly requests: ContainerRequests;
  readonly checkIn: CheckIn;
  readonly consistency: Pick<Consistency, 'reconcileAll'>;
  readonly health: () => Promise<HealthReport>;
  readonly loginThrottle: LoginThrottle;
  readonly images: Pick<ImageCatalog, 'list'>;
  readonly pulls: Pick<ImagePulls, 'request' | 'get' | 'remove'>;
  readonly events: Pick<EventLog, 'after' | 'subscribe'>;
  readonly metrics: Metrics;
  /** Where the open streams are kept (the process's shutdown ends them); none in a test that never shuts down. */
  readonly streams?: OpenStreams;
}

const BODY_LIMIT = '64kb';

/** Builds the Express app; it never listens (main.ts or a test does). */
export function buildApp({
  config,
  logger,
  runtime,
  requests,
  checkIn,
  consistency,
  health,
  loginThrottle,
  images,
  pulls,
  events,
  metrics,
  streams,
}: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Answers are never cached (no-store), so an ETag would only cost a hash of every body.
  app.disable('etag');
  app.set('trust proxy', config.trustedProxies.length > 0 ? config.trustedProxies : false);
  app.set('query parser', 'simple');
  app.set(PROXY_HEADER_SETTING, config.proxyHeader);

  app.use(requestLog(logger));
  app.use(requestMetrics(metrics));
  if (config.defaultPassword) app.use(localOnly(() => runtime.localNetworks()));
  app.use(sameOriginOnly());
  app.use((_req, res, next) => {
    res.set({ 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' });
    next();
  });
  app.use(express.json({ limit: BODY_LIMIT, type: ['application/json', 'application/*+json'] }));
  app.use(express.urlencoded({ limit: BODY_LIMIT, extended: false, parameterLimit: 100 }));

  // For load balancers and container health checks: no credentials, nothing secret.
  app.get('/healthz', async (_req, res) => {
    const report = await health();
    res.status(report.status === 'ok' ? 200 : 503).json(report);
  });
  app.use('/v1/check-in', mountPoint, checkinRoutes(checkIn, metrics.checkins));
  const { openapi, docs } = docsRoutes();
  app.use('/v1/openapi.json', mountPoint, openapi);
  app.use('/docs', mountPoint, pageHeaders('docs'), docs);
  const auth = basicAuth(config.password, loginThrottle);
  // Prometheus scrapes with Basic auth too, unless the operator opens it (a scraper on a trusted network).
  if (config.metricsPublic) app.get('/metrics', metricsHandler(metrics));
  else app.get('/metrics', auth, metricsHandler(metrics));
  app.use('/v1', auth);
  app.use('/v1/images', mountPoint, imagesRoutes(images, pulls));
  const present = containerPresenter(config);
  app.use('/v1/containers', mountPoint, containersRoutes(requests, consistency, present, streams));
  app.use(
    '/v1/events',
    mountPoint,
    eventsRoutes(events, { heartbeatMs: config.eventsHeartbeat * 1000, present, ...(streams === undefined ? {} : { streams }) }),
  );
  // The dashboard, behind the same credentials.
  const web = webRoutes();
  const dashboardHeaders = pageHeaders('dashboard');
  app.get('/', dashboardHeaders, auth, web.page);
  app.use('/ui', mountPoint, dashboardHeaders, auth, web.assets);

  app.use(notFoundRoute);
  app.use(errorHandler(logger, { exposeDetails: config.environment !== 'production' }));
  return app;
}
