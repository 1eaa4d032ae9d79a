import { z } from 'zod';

/** A boolean that means what it says: `true/1/yes/on` and `false/0/no/off` (any case); nothing else. */
const booleanFlag = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', '1', 'yes', 'on', 'false', '0', 'no', 'off', '']))
  .transform((value) => ['true', '1', 'yes', 'on'].includes(value));

const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** A size as Docker's `--memory` takes it (`512m`, `2g`, bytes); `0` means no limit. */
const byteSize = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^\d+(\.\d+)?[bkmg]?$/, 'a size such as 512m or 2g, or 0 for none')
  .transform((text) => {
    const unit = /[bkmg]$/.test(text) ? text.slice(-1) : '';
    return Math.floor(Number(unit === '' ? text : text.slice(0, -1)) * (UNITS[unit] ?? 1));
  })
  .refine((bytes) => bytes === 0 || bytes >= 6 * 1024 ** 2, 'at least 6m (Docker\'s minimum), or 0 for none');

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
    SD_CHECKIN_PORT: z.coerce
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe('Port containers reach the API on at the bridge gateway (default SD_PORT; differs behind a port mapping, as in compose).'),
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
    SD_LOGIN_GLOBAL_MAX_FAILURES: z.coerce
      .number()
      .int()
      .positive()
      .default(1000)
      .describe('Failed logins of all clients together within SD_LOGIN_LOCKOUT after which every login is refused until the window ends.'),
    SD_DOCKER_TIMEOUT: seconds(30).describe('Seconds any one Docker engine call may take before it counts as the engine being unavailable (stops get SD_STOP_TIMEOUT on top).'),
    SD_CONTAINER_PIDS_LIMIT: z.coerce.number().int().min(0).default(512).describe('Processes a managed container may have at once; 0 means no limit.'),
    SD_CONTAINER_MEMORY: byteSize.default(2 * 1024 ** 3).describe('Memory cap of every managed container (e.g. 512m, 2g); 0 means none.'),
    SD_CONTAINER_CPUS: z.coerce.number().min(0).max(1024).default(1).describe('CPUs a managed container may use (e.g. 0.5, 2); 0 means no limit.'),
    SD_PUBLISH_ADDRESS: z.ipv4().or(z.ipv6()).default('0.0.0.0').describe('Host address that containers\' ports are published on.'),
    SD_ACTIVITY_SAMPLE_INTERVAL: seconds(30).describe('Seconds between the worker\'s samples of every running container\'s open connections.'),
    SD_ACTIVITY_SOURCES: z
      .string()
      .trim()
      .toLowerCase()
      .transform((text) => [...new Set(text.split(',').map((s) => s.trim()).filter((s) => s !== ''))].sort())
      .pipe(z.array(z.enum(['observed', 'reported'], { error: 'each source must be observed or reported' })).min(1, 'name observed, reported or both'))
      .default(['observed', 'reported'])
      .describe('What counts as activity: observed (connections seen from the host), reported (check-ins), or both.'),
    SD_PROC_ROOT: z.string().min(1).default('/proc').describe('Where the host\'s process tables are read (containers\' sockets).'),
    SD_ALLOWED_IMAGES: z
      .string()
      .default('*')
      .describe('Comma-separated patterns (with *) every image created from must match, else 403 image_not_allowed.'),
    SD_SSH_AUTHORIZED_KEYS_FILE: z
      .string()
      .min(1)
      .optional()
      .describe('OpenSSH public keys handed to every container that is created without ssh_key.'),
    SD_REGISTRY_AUTH_FILE: z.string().min(1).optional().describe('A Docker config.json with credentials for private registries (its "auths").'),
    SD_PULL_TIMEOUT: seconds(1800).describe('Seconds a pull through the API may take before it is given up.'),
    SD_PULL_STALL_TIMEOUT: seconds(120).describe('Seconds a pull may go without progress before it is given up (a registry gone away).'),
    SD_EVENTS_MAX_LENGTH: z.coerce.number().int().min(100).max(10_000_000).default(10_000).describe('Events kept for clients that reconnect to GET /v1/events (about that many; older ones are dropped).'),
    SD_EVENTS_HEARTBEAT: seconds(15).describe('Seconds between the comments GET /v1/events sends on an idle stream, so that proxies keep it open.'),
    SD_METRICS_PUBLIC: booleanFlag.default(false).describe('Serve GET /metrics without Basic auth (for a scraper on a trusted network).'),
    SD_WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464).describe('Port of the worker\'s own /metrics, on SD_WORKER_METRICS_HOST; 0 turns it off.'),
    SD_WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1').describe('Address of the worker\'s /metrics (loopback by default).'),
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
  /** Port containers reach the API on at the bridge gateway, when `checkinUrl` is not given. */
  readonly checkinPort: number;
  readonly logLevel: string;
  readonly workerConcurrency: number;
  /** Seconds a labelled container may exist without a record before it counts as an orphan. */
  readonly orphanGrace: number;
  /** Seconds between the worker's full reconciliation passes. */
  readonly reconcileInterval: number;
  readonly loginMaxFailures: number;
  /** Seconds an address is refused after too many failed logins. */
  readonly loginLockout: number;
  /** Failed logins of all clients together, within `loginLockout`, after which every login is refused. */
  readonly loginGlobalMaxFailures: number;
  /** Seconds one Docker call may take. */
  readonly dockerTimeout: number;
  readonly containerLimits: ContainerLimits;
  /** Host address that containers' ports are published on. */
  readonly publishAddress: string;
  readonly dataDir: string;
  /** Seconds between samples of the containers' connections. */
  readonly activitySampleInterval: number;
  /** What counts as activity at an idle check. */
  readonly activitySources: ActivitySources;
  readonly procRoot: string;
  /** Patterns every image created from must match. */
  readonly allowedImages: readonly string[];
  readonly sshAuthorizedKeysFile: string | undefined;
  readonly registryAuthFile: string | undefined;
  /** Seconds a pull may take. */
  readonly pullTimeout: number;
  /** Seconds a pull may go without progress. */
  readonly pullStallTimeout: number;
  /** Events kept in the event log (approximately). */
  readonly eventsMaxLength: number;
  /** Seconds between heartbeat comments on an idle event stream. */
  readonly eventsHeartbeat: number;
  readonly metricsPublic: boolean;
  /** The worker's metrics listener; port 0: none. */
  readonly workerMetricsPort: number;
  readonly workerMetricsHost: string;
  readonly embeddedRedisPort: number;
  /** Whether REDIS_URL was given; when not, `npm start` runs a private Redis on `embeddedRedisPort`. */
  readonly redisUrlGiven: boolean;
  readonly redisUrl: string;
  readonly dockerHost: string;
}

/** What every managed container is held to; 0 means no limit. */
export interface ContainerLimits {
  readonly pids: number;
  /** Bytes. */
  readonly memory: number;
  readonly cpus: number;
}

export interface ActivitySources {
  /** Connections seen from the host count. */
  readonly observed: boolean;
  /** Check-ins with a non-zero count count. */
  readonly reported: boolean;
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
    checkinPort: e.SD_CHECKIN_PORT ?? e.SD_PORT,
    logLevel: e.SD_LOG_LEVEL,
    workerConcurrency: e.SD_WORKER_CONCURRENCY,
    orphanGrace: e.SD_ORPHAN_GRACE,
    reconcileInterval: e.SD_RECONCILE_INTERVAL,
    loginMaxFailures: e.SD_LOGIN_MAX_FAILURES,
    loginLockout: e.SD_LOGIN_LOCKOUT,
    loginGlobalMaxFailures: e.SD_LOGIN_GLOBAL_MAX_FAILURES,
    dockerTimeout: e.SD_DOCKER_TIMEOUT,
    containerLimits: Object.freeze({ pids: e.SD_CONTAINER_PIDS_LIMIT, memory: e.SD_CONTAINER_MEMORY, cpus: e.SD_CONTAINER_CPUS }),
    publishAddress: e.SD_PUBLISH_ADDRESS,
    dataDir: e.SD_DATA_DIR,
    activitySampleInterval: e.SD_ACTIVITY_SAMPLE_INTERVAL,
    activitySources: Object.freeze({ observed: e.SD_ACTIVITY_SOURCES.includes('observed'), reported: e.SD_ACTIVITY_SOURCES.includes('reported') }),
    procRoot: e.SD_PROC_ROOT,
    allowedImages: Object.freeze(
      e.SD_ALLOWED_IMAGES.split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    ),
    sshAuthorizedKeysFile: e.SD_SSH_AUTHORIZED_KEYS_FILE,
    registryAuthFile: e.SD_REGISTRY_AUTH_FILE,
    pullTimeout: e.SD_PULL_TIMEOUT,
    pullStallTimeout: e.SD_PULL_STALL_TIMEOUT,
    eventsMaxLength: e.SD_EVENTS_MAX_LENGTH,
    eventsHeartbeat: e.SD_EVENTS_HEARTBEAT,
    metricsPublic: e.SD_METRICS_PUBLIC,
    workerMetricsPort: e.SD_WORKER_METRICS_PORT,
    workerMetricsHost: e.SD_WORKER_METRICS_HOST,
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
