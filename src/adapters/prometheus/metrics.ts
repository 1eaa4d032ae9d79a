import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ContainerStore } from '../../domain/ports.js';
import { CONTAINER_STATUSES } from '../../domain/containers/record.js';

/**
 * This process's Prometheus metrics (prom-client), in a registry of its own: the API serves them at
 * GET /metrics, the worker on SD_WORKER_METRICS_HOST:SD_WORKER_METRICS_PORT. Each process counts what it does.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly checkins: Counter<'result'>;
  readonly activitySamples: Counter<'outcome'>;
  readonly activityPass: Histogram;
  readonly jobs: Counter<'queue' | 'outcome'>;
  readonly requests: Histogram<'method' | 'route' | 'status'>;
  readonly engineCalls: Histogram<'operation' | 'outcome'>;
  readonly eventStreamReconnects: Counter<'stream'>;
  /** Seconds from the first connection to a sleeping container until it answered. */
  readonly wakeSeconds: Histogram;
}

export function createMetrics(role: 'api' | 'worker', records?: Pick<ContainerStore, 'countByStatus'>): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ process: role });
  collectDefaultMetrics({ register: registry, prefix: 'spin_docker_' });
  const registers = [registry];
  const metrics: Metrics = {
    registry,
    checkins: new Counter({
      name: 'spin_docker_checkins_total',
      help: 'Check-ins by result: ok, unknown (no such running container), refused (a foreign token), invalid',
      labelNames: ['result'],
      registers,
    }),
    activitySamples: new Counter({
      name: 'spin_docker_activity_samples_total',
      help: 'Containers sampled for open connections, by outcome: counted or unknown',
      labelNames: ['outcome'],
      registers,
    }),
    activityPass: new Histogram({
      name: 'spin_docker_activity_pass_seconds',
      help: 'Duration of one sampling pass over every running container',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    jobs: new Counter({
      name: 'spin_docker_jobs_total',
      help: 'Jobs the worker finished, by queue and outcome (completed or failed)',
      labelNames: ['queue', 'outcome'],
      registers,
    }),
    requests: new Histogram({
      name: 'spin_docker_http_request_duration_seconds',
      help: 'API requests by method, route (as routed, e.g. /v1/containers/:id) and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    }),
    engineCalls: new Histogram({
      name: 'spin_docker_engine_call_duration_seconds',
      help: 'Docker engine calls by operation and outcome (ok or error)',
      labelNames: ['operation', 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    eventStreamReconnects: new Counter({
      name: 'spin_docker_event_stream_reconnects_total',
      help: 'Times the Docker event stream was lost and followed again',
      labelNames: ['stream'],
      registers,
    }),
    wakeSeconds: new Histogram({
      name: 'spin_docker_wake_seconds',
      help: 'Seconds from the first connection to a sleeping container until it accepted (held connections joined)',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    }),
  };
  if (records !== undefined) {
    // Read at each scrape from the counts every write keeps: one read, however many records there are.
    new Gauge({
      name: 'spin_docker_containers',
      help: 'Managed containers by status',
      labelNames: ['status'],
      registers,
      async collect() {
        const counts = await records.countByStatus();
        for (const status of CONTAINER_STATUSES) this.set({ status }, counts[status]);
      },
    });
  }
  return metrics;
}

/** The worker's metrics listener (GET /metrics); port 0 serves nothing. */
export async function serveMetrics(metrics: Metrics, host: string, port: number): Promise<Server | undefined> {
  if (port === 0) return undefined;
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(error as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
