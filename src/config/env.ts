import { z } from 'zod';

/** A boolean that means what it says: `true/1/yes/on` and `false/0/no/off` (any case); nothing else. */
const booleanFlag = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', '1', 'yes', 'on', 'false', '0', 'no', 'off', '']))
  .transform((value) => ['true', '1', 'yes', 'on'].includes(value));

const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const schema = z
  .object({
    SD_HOST: z.string().min(1).default('0.0.0.0').describe('Address the API listens on.'),
    SD_PORT: z.coerce.number().int().min(0).max(65535).default(8080).describe('Port the API listens on.'),
    SD_PASSWORD: z.string().default('spindocker').describe('Basic-auth password of user admin.'),
    SD_ENVIRONMENT: z
      .enum(['development', 'production', 'test'])
      .default('development')
      .describe('production hides error details and refuses the default password.'),
    SD_DISABLE_TIMEOUTS: booleanFlag.default(false).describe('Turn off the idle stop.'),
    SD_INITIAL_TIMEOUT_INTERVAL: seconds(7200).describe('Seconds from a start to the first activity check.'),
    SD_TIMEOUT_INTERVAL: seconds(1800).describe('Seconds between activity checks; also how long a check-in stays fresh.'),
    SD_STOP_TIMEOUT: z.coerce.number().int().min(0).default(10).describe('Seconds Docker waits after SIGTERM before SIGKILL.'),
    SD_INSTANCE: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'lower-case letters, digits, ".", "_" or "-"')
      .default('default')
      .describe('Name of this installation: the value of the Docker label and the Redis key prefix.'),
    SD_TRUSTED_PROXIES: z
      .string()
      .default('loopback')
      .describe('Comma-separated peers whose X-Forwarded-For / X-Real-IP are believed (addresses, CIDRs, loopback, linklocal, uniquelocal), or none.'),
    SD_CHECKIN_URL: z
      .string()
      .url()
      .optional()
      .describe('Check-in URL handed to containers; default http://<bridge gateway>:<SD_PORT>/v1/check-in.'),
    SD_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    SD_WORKER_CONCURRENCY: z.coerce.number().int().positive().max(1000).default(20).describe('Jobs the worker runs at once.'),
    SD_ORPHAN_GRACE: seconds(60).describe('Seconds a labelled container may exist without a record before the worker removes it.'),
    SD_RECONCILE_INTERVAL: seconds(60).describe('Seconds between the worker\'s full passes over Docker and the queues.'),
    SD_LOGIN_MAX_FAILURES: z.coerce.number().int().positive().default(10).describe('Failed logins from one address before it is refused for a while.'),
    SD_LOGIN_LOCKOUT: seconds(300).describe('Seconds an address stays refused (429) after too many failed logins.'),
    SD_DATA_DIR: z.string().min(1).default('data').describe('Where `npm start` keeps the private Redis data.'),
    SD_EMBEDDED_REDIS_PORT: z.coerce.number().int().min(1).max(65535).default(6380),
    REDIS_URL: z.string().url().optional().describe('Redis for state and queues; unset: the private Redis of `npm start`.'),
    DOCKER_HOST: z.string().default('unix:///var/run/docker.sock').describe('The Docker engine.'),
  })
  .superRefine((env, ctx) => {
    if (env.SD_ENVIRONMENT === 'production' && (env.SD_PASSWORD === '' || env.SD_PASSWORD === 'spindocker')) {
      ctx.addIssue({
        code: 'custom',
        path: ['SD_PASSWORD'],
        message: 'must be set to something other than the default (or empty) when SD_ENVIRONMENT=production',
      });
    }
  });

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly password: string;
  readonly environment: 'development' | 'production' | 'test';
  readonly disableTimeouts: boolean;
  /** Seconds from a start to the first activity check. */
  readonly initialTimeoutInterval: number;
  /** Seconds between checks, and how long a check-in counts as fresh. */
  readonly timeoutInterval: number;
  readonly stopTimeout: number;
  readonly instance: string;
  readonly trustedProxies: string[];
  readonly checkinUrl: string | undefined;
  readonly logLevel: string;
  readonly workerConcurrency: number;
  /** Seconds a labelled container may exist without a record before it counts as an orphan. */
  readonly orphanGrace: number;
  /** Seconds between the worker's full reconciliation passes. */
  readonly reconcileInterval: number;
  readonly loginMaxFailures: number;
  /** Seconds an address is refused after too many failed logins. */
  readonly loginLockout: number;
  readonly dataDir: string;
  readonly embeddedRedisPort: number;
  /** Whether REDIS_URL was given; when not, `npm start` runs a private Redis on `embeddedRedisPort`. */
  readonly redisUrlGiven: boolean;
  readonly redisUrl: string;
  readonly dockerHost: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment once. Throws a ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(withoutBlanks(env));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(environment)'}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return Object.freeze({
    host: e.SD_HOST,
    port: e.SD_PORT,
    password: e.SD_PASSWORD,
    environment: e.SD_ENVIRONMENT,
    disableTimeouts: e.SD_DISABLE_TIMEOUTS,
    initialTimeoutInterval: e.SD_INITIAL_TIMEOUT_INTERVAL,
    timeoutInterval: e.SD_TIMEOUT_INTERVAL,
    stopTimeout: e.SD_STOP_TIMEOUT,
    instance: e.SD_INSTANCE,
    trustedProxies: Object.freeze(
      e.SD_TRUSTED_PROXIES.split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '' && s !== 'none'),
    ) as string[],
    checkinUrl: e.SD_CHECKIN_URL,
    logLevel: e.SD_LOG_LEVEL,
    workerConcurrency: e.SD_WORKER_CONCURRENCY,
    orphanGrace: e.SD_ORPHAN_GRACE,
    reconcileInterval: e.SD_RECONCILE_INTERVAL,
    loginMaxFailures: e.SD_LOGIN_MAX_FAILURES,
    loginLockout: e.SD_LOGIN_LOCKOUT,
    dataDir: e.SD_DATA_DIR,
    embeddedRedisPort: e.SD_EMBEDDED_REDIS_PORT,
    redisUrlGiven: e.REDIS_URL !== undefined,
    redisUrl: e.REDIS_URL ?? `redis://127.0.0.1:${e.SD_EMBEDDED_REDIS_PORT}`,
    dockerHost: e.DOCKER_HOST,
  });
}

/** An empty variable (`SD_PORT=`) means "use the default", as in a shell-sourced env file. */
function withoutBlanks(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== '' && (key.startsWith('SD_') || key === 'REDIS_URL' || key === 'DOCKER_HOST')) {
      out[key] = value;
    }
  }
  return out;
}
