import { Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../config/env.js';
import { keyPrefix } from '../adapters/redis/keys.js';
import { heartbeatKey } from '../adapters/redis/health.js';

/**
 * `node dist/cli/healthcheck.js api|worker`: exit 0 when healthy, 1 otherwise (for Docker's HEALTHCHECK
 * and docker-compose). api: GET /healthz answers 200. worker: its heartbeat is in Redis.
 */
async function main(role: string | undefined): Promise<boolean> {
  const config = loadConfig();
  if (role === 'api') {
    const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
    const res = await fetch(`http://${host}:${config.port}/healthz`, { signal: AbortSignal.timeout(4000) });
    return res.status === 200;
  }
  if (role === 'worker') {
    const redis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3000 });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      return (await redis.get(heartbeatKey(keyPrefix(config.instance)))) !== null;
    } finally {
      redis.disconnect();
    }
  }
  throw new ConfigError('usage: healthcheck.js api|worker');
}

main(process.argv[2]).then(
  (healthy) => process.exit(healthy ? 0 : 1),
  (error: unknown) => {
    process.stderr.write(`${(error as Error)?.message ?? String(error)}\n`);
    process.exit(1);
  },
);
