import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseDuration } from '../domain/durations.js';

/** The password of a fresh installation: well known, so only good on this host (see `defaultPassword`). */
export const DEFAULT_PASSWORD = 'spindocker';

/** The project's own data/ (from src/config or dist/config alike), so that the working directory does not matter. */
const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../data', import.meta.url));

/** A comma-separated list, trimmed, blanks dropped. */
const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** A boolean that means what it says: `true/1/yes/on` and `false/0/no/off` (any case); nothing else. */
const booleanFlag = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', '1', 'yes', 'on', 'false', '0', 'no', 'off', '']))
  .transform((value) => ['true', '1', 'yes', 'on'].includes(value));

const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** A duration (`90m`, `8h`, `14d`, or seconds), as seconds; `0`, `off` or `none` (with `orNone`) for none. */
const duration = (orNone: boolean) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .transform((text, ctx) => {
      if (orNone && ['0', 'off', 'none'].includes(text)) return null;
      const value = parseDuration(text);
      if (value === null || value <= 0) {
        ctx.addIssue({ code: 'custom', message: `a duration such as 90m, 8h, 14d or seconds${orNone ? ', or off' : ''}` });
        return z.NEVER;
      }
      return value;
    });

/** `first-last`, e.g. 20000-29999: a range of host ports. */
const portRange = z
  .string()
  .trim()
  .regex(/^\d{1,5}-\d{1,5}$/, 'a range of ports, first-last, e.g. 20000-29999')
  .transform((text) => {
    const [first, last] = text.split('-').map(Number) as [number, number];
    return { first, last };
  })
  .refine(({ first, last }) => first >= 1024 && last <= 65535 && first <= last, 'ports from 1024 to 65535, the first not above the last');

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
  .refine((bytes) => bytes === 0 || bytes >= 6 * 1024 ** 2, "at least 6m (Docker's minimum), or 0 for none");

const schema = z
  .object({
    SD_HOST: z.string().min(1).default('0.0.0.0').describe('Address the API listens on.'),
    SD_PORT: z.coerce.number().int().min(0).max(65535).default(8080).describe('Port the API listens on.'),
    SD_PASSWORD: z
      .string()
      .default(DEFAULT_PASSWORD)
      .describe('Basic-auth password of user admin. While it is the default, the API answers only this host and its containers.'),
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
    SD_CHECKIN_URL: z.string().url().optional().describe('Check-in URL handed to containers; default http://<bridge gateway>:<SD_PORT>/v1/check-in.'),
    SD_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    SD_WORKER_CONCURRENCY: z.coerce.number().int().positive().max(1000).default(20).describe('Jobs the worker runs at once.'),
    SD_ORPHAN_GRACE: seconds(60).describe('Seconds a labelled container may exist without a record before the worker removes it.'),
    SD_RECONCILE_INTERVAL: seconds(60).describe("Seconds between the worker's full passes over Docker and the queues."),
    SD_LOGIN_MAX_FAILURES: z.coerce.number().int().positive().default(10).describe('Failed logins from one address before it is refused for a while.'),
    SD_LOGIN_LOCKOUT: seconds(300).describe('Seconds an address stays refused (429) after too many failed logins.'),
    SD_LOGIN_GLOBAL_MAX_FAILURES: z.coerce
      .number()
      .int()
      .positive()
      .default(1000)
      .describe('Failed logins of all clients together within SD_LOGIN_LOCKOUT after which every login is refused until the window ends.'),
    SD_DOCKER_TIMEOUT: seconds(30).describe(
      'Seconds any one Docker engine call may take before it counts as the engine being unavailable (stops get SD_STOP_TIMEOUT on top).',
    ),
    SD_CONTAINER_PIDS_LIMIT: z.coerce.number().int().min(0).default(512).describe('Processes a managed container may have at once; 0 means no limit.'),
    SD_CONTAINER_MEMORY: byteSize.default(2 * 1024 ** 3).describe('Memory cap of every managed container (e.g. 512m, 2g); 0 means none.'),
    SD_CONTAINER_CPUS: z.coerce.number().min(0).max(1024).default(1).describe('CPUs a managed container may use (e.g. 0.5, 2); 0 means no limit.'),
    SD_CONTAINER_LOG_MAX_SIZE: z
      .string()
      .trim()
      .toLowerCase()
      .regex(/^[1-9]\d*[kmg]$/, 'a size such as 10m (k, m or g)')
      .default('10m')
      .describe("Size of one of a managed container's log files (Docker's json-file max-size)."),
    SD_CONTAINER_LOG_MAX_FILES: z.coerce
      .number()
      .int()
      .min(1)
      .max(100)
      .default(3)
      .describe('Log files kept per managed container (json-file max-file): its log never takes more than this many times SD_CONTAINER_LOG_MAX_SIZE.'),
    SD_NETWORK: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'a Docker network name')
      .default('spin-docker')
      .describe(
        "Docker network managed containers are attached to; made when missing, as a bridge on which containers cannot reach each other. `bridge`: Docker's default bridge (containers reach each other).",
      ),
    SD_PROXY_HEADER: z
      .enum(['x-forwarded-for', 'x-real-ip'])
      .default('x-forwarded-for')
      .describe('The one header that names the client, believed only from SD_TRUSTED_PROXIES: the one your proxy sets (the other is ignored).'),
    SD_PUBLISH_ADDRESS: z.ipv4().or(z.ipv6()).default('0.0.0.0').describe("Host address that containers' ports are published on."),
    SD_PORT_RANGE: portRange
      .default({ first: 20000, last: 29999 })
      .describe("Host ports every container's exposed ports get one of, for its whole life (outside the kernel's ephemeral range)."),
    SD_MAX_PORTS: z.coerce
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(16)
      .describe('Exposed ports one container may have; an image that exposes more is refused (400).'),
    SD_WAKE_ON_CONNECT: booleanFlag
      .default(true)
      .describe('Whether a stopped container wakes when someone connects to one of its ports (the default of `wake` at create).'),
    SD_WAKE_TIMEOUT: seconds(60).describe('Seconds a connection that woke a container is held for it to answer; then it is closed.'),
    SD_WAKE_MAX_HELD: z.coerce
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(64)
      .describe('Connections held at once per waking container; more are closed at once.'),
    SD_MAX_LIFETIME: duration(true)
      .default(null)
      .describe(
        "The longest a container may be kept running from now (a ceiling on stop_after and extend, and every container's deadline when its create gives none); off by default.",
      ),
    SD_DELETE_STOPPED_AFTER: duration(true).default(null).describe('Delete a container that has been stopped this long (14d is a sane value); off by default.'),
    SD_EXPIRY_WARNING: duration(false).default(600).describe('How long before a deadline container.expiring says so.'),
    SD_QUIET_CONNECTION: duration(true)
      .default(null)
      .describe('An open connection that carries no traffic for this long stops counting as use (e.g. 2h); off by default.'),
    SD_ACTIVITY_SAMPLE_INTERVAL: seconds(30).describe("Seconds between the worker's samples of every running container's open connections."),
    SD_ACTIVITY_SOURCES: z
      .string()
      .trim()
      .toLowerCase()
      .transform((text) =>
        [
          ...new Set(
            text
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s !== ''),
          ),
        ].sort(),
      )
      .pipe(z.array(z.enum(['observed', 'reported'], { error: 'each source must be observed or reported' })).min(1, 'name observed, reported or both'))
      .default(['observed', 'reported'])
      .describe('What counts as activity: observed (connections seen from the host), reported (check-ins), or both.'),
    SD_PROC_ROOT: z.string().min(1).default('/proc').describe("Where the host's process tables are read (containers' sockets)."),
    SD_ALLOWED_IMAGES: z.string().default('*').describe('Comma-separated patterns (with *) every image created from must match, else 403 image_not_allowed.'),
    SD_ALLOWED_REGISTRIES: z
      .string()
      .default('')
      .describe('Comma-separated registries (host:port as in the image reference) on this host or link-local that pulls may use; others such are refused.'),
    SD_MAX_CONTAINERS: z.coerce
      .number()
      .int()
      .min(0)
      .default(100)
      .describe('Containers this installation keeps at once (running or stopped); a create beyond is refused (403); 0 means no limit.'),
    SD_SSH_AUTHORIZED_KEYS_FILE: z.string().min(1).optional().describe('OpenSSH public keys handed to every container that is created without ssh_key.'),
    SD_REGISTRY_AUTH_FILE: z.string().min(1).optional().describe('A Docker config.json with credentials for private registries (its "auths").'),
    SD_PULL_TIMEOUT: seconds(1800).describe('Seconds a pull through the API may take before it is given up.'),
    SD_PULL_STALL_TIMEOUT: seconds(120).describe('Seconds a pull may go without progress before it is given up (a registry gone away).'),
    SD_EVENTS_MAX_LENGTH: z.coerce
      .number()
      .int()
      .min(100)
      .max(10_000_000)
      .default(10_000)
      .describe('Events kept for clients that reconnect to GET /v1/events (about that many; older ones are dropped).'),
    SD_EVENTS_HEARTBEAT: seconds(15).describe('Seconds between the comments GET /v1/events sends on an idle stream, so that proxies keep it open.'),
    SD_METRICS_PUBLIC: booleanFlag.default(false).describe('Serve GET /metrics without Basic auth (for a scraper on a trusted network).'),
    SD_WORKER_METRICS_PORT: z.coerce
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(9464)
      .describe("Port of the worker's own /metrics, on SD_WORKER_METRICS_HOST; 0 turns it off."),
    SD_WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1').describe("Address of the worker's /metrics (loopback by default)."),
    SD_DATA_DIR: z
      .string()
      .min(1)
      .optional()
      .describe("Where `npm start` keeps the private Redis data; default: the project's own data/ folder, wherever it is started from."),
    SD_EMBEDDED_REDIS_PORT: z.coerce.number().int().min(1).max(65535).default(6380),
    REDIS_URL: z.string().url().optional().describe('Redis for state and queues; unset: the private Redis of `npm start`.'),
    DOCKER_HOST: z.string().default('unix:///var/run/docker.sock').describe('The Docker engine.'),
    DOCKER_CERT_PATH: z
      .string()
      .min(1)
      .optional()
      .describe(
        'A folder with ca.pem, cert.pem and key.pem: a tcp:// DOCKER_HOST (and SD_NODE_DOCKER_HOST) is reached over TLS with them, verified, as by the docker CLI.',
      ),
    SD_ENGINE: z
      .enum(['docker', 'swarm'])
      .default('docker')
      .describe(
        'What runs the containers: `docker`, the one engine at DOCKER_HOST; `swarm`, a Docker Swarm whose manager DOCKER_HOST is (each container one service with one task).',
      ),
    SD_NODE_DOCKER_HOST: z
      .string()
      .optional()
      .describe(
        "With SD_ENGINE=swarm: this node's own engine, for the work done where the tasks run (observing them, waking them, their health checks, their containers' events); unset: DOCKER_HOST (a manager's own node).",
      ),
  })
  .superRefine((env, ctx) => {
    if (env.SD_ENVIRONMENT === 'production' && (env.SD_PASSWORD === '' || env.SD_PASSWORD === DEFAULT_PASSWORD)) {
      ctx.addIssue({
        code: 'custom',
        path: ['SD_PASSWORD'],
        message: 'must be set to something other than the default (or empty) when SD_ENVIRONMENT=production',
      });
    }
  })
  // The settings, grouped as the processes use them; `Config` is this object's type.
  .transform((e) => ({
    host: e.SD_HOST,
    port: e.SD_PORT,
    password: e.SD_PASSWORD,
    environment: e.SD_ENVIRONMENT,
    disableTimeouts: e.SD_DISABLE_TIMEOUTS,
    /** Seconds from a start to the first idle check. */
    initialTimeoutInterval: e.SD_INITIAL_TIMEOUT_INTERVAL,
    /** Seconds between idle checks, and how long a sign of activity counts. */
    timeoutInterval: e.SD_TIMEOUT_INTERVAL,
    stopTimeout: e.SD_STOP_TIMEOUT,
    instance: e.SD_INSTANCE,
    trustedProxies: list(e.SD_TRUSTED_PROXIES).filter((s) => s !== 'none'),
    checkinUrl: e.SD_CHECKIN_URL,
    /** Port containers reach the API on at the bridge gateway, when `checkinUrl` is not given. */
    checkinPort: e.SD_CHECKIN_PORT ?? e.SD_PORT,
    logLevel: e.SD_LOG_LEVEL,
    workerConcurrency: e.SD_WORKER_CONCURRENCY,
    /** Seconds an unfinished create's container may exist without a record before it is removed. */
    orphanGrace: e.SD_ORPHAN_GRACE,
    /** Seconds between the worker's full reconciliation passes. */
    reconcileInterval: e.SD_RECONCILE_INTERVAL,
    loginMaxFailures: e.SD_LOGIN_MAX_FAILURES,
    /** Seconds a client is refused after too many failed logins. */
    loginLockout: e.SD_LOGIN_LOCKOUT,
    loginGlobalMaxFailures: e.SD_LOGIN_GLOBAL_MAX_FAILURES,
    /** Seconds one Docker call may take. */
    dockerTimeout: e.SD_DOCKER_TIMEOUT,
    containerLimits: Object.freeze({
      pids: e.SD_CONTAINER_PIDS_LIMIT,
      memory: e.SD_CONTAINER_MEMORY,
      cpus: e.SD_CONTAINER_CPUS,
      logMaxSize: e.SD_CONTAINER_LOG_MAX_SIZE,
      logMaxFiles: e.SD_CONTAINER_LOG_MAX_FILES,
    }) as ContainerLimits,
    network: e.SD_NETWORK,
    proxyHeader: e.SD_PROXY_HEADER,
    /** The well-known password (or none): the API then answers only this host and its containers. */
    defaultPassword: e.SD_PASSWORD === DEFAULT_PASSWORD || e.SD_PASSWORD === '',
    publishAddress: e.SD_PUBLISH_ADDRESS,
    /** Host ports containers' exposed ports are taken from. */
    portRange: Object.freeze(e.SD_PORT_RANGE) as PortRange,
    maxPorts: e.SD_MAX_PORTS,
    wakeOnConnect: e.SD_WAKE_ON_CONNECT,
    /** Seconds a held connection waits for its container. */
    wakeTimeout: e.SD_WAKE_TIMEOUT,
    wakeMaxHeld: e.SD_WAKE_MAX_HELD,
    /** Seconds, or null for none. */
    maxLifetime: e.SD_MAX_LIFETIME,
    deleteStoppedAfter: e.SD_DELETE_STOPPED_AFTER,
    expiryWarning: e.SD_EXPIRY_WARNING ?? 600,
    quietConnection: e.SD_QUIET_CONNECTION,
    /** Absolute: the default is the project's own data/, wherever the process is started from. */
    dataDir: resolve(e.SD_DATA_DIR ?? DEFAULT_DATA_DIR),
    /** Seconds between idle passes (each samples every running container's connections). */
    activitySampleInterval: e.SD_ACTIVITY_SAMPLE_INTERVAL,
    activitySources: Object.freeze({
      observed: e.SD_ACTIVITY_SOURCES.includes('observed'),
      reported: e.SD_ACTIVITY_SOURCES.includes('reported'),
    }) as ActivitySources,
    procRoot: e.SD_PROC_ROOT,
    allowedImages: Object.freeze(list(e.SD_ALLOWED_IMAGES)) as readonly string[],
    allowedRegistries: Object.freeze(list(e.SD_ALLOWED_REGISTRIES).map((r) => r.toLowerCase())) as readonly string[],
    /** Containers kept at once; 0: no limit. */
    maxContainers: e.SD_MAX_CONTAINERS,
    sshAuthorizedKeysFile: e.SD_SSH_AUTHORIZED_KEYS_FILE,
    registryAuthFile: e.SD_REGISTRY_AUTH_FILE,
    /** Seconds a pull may take. */
    pullTimeout: e.SD_PULL_TIMEOUT,
    /** Seconds a pull may go without progress. */
    pullStallTimeout: e.SD_PULL_STALL_TIMEOUT,
    eventsMaxLength: e.SD_EVENTS_MAX_LENGTH,
    /** Seconds between heartbeat comments on an idle event stream. */
    eventsHeartbeat: e.SD_EVENTS_HEARTBEAT,
    metricsPublic: e.SD_METRICS_PUBLIC,
    /** The worker's metrics listener; port 0: none. */
    workerMetricsPort: e.SD_WORKER_METRICS_PORT,
    workerMetricsHost: e.SD_WORKER_METRICS_HOST,
    embeddedRedisPort: e.SD_EMBEDDED_REDIS_PORT,
    /** Whether REDIS_URL was given; when not, `npm start` runs a private Redis on `embeddedRedisPort`. */
    redisUrlGiven: e.REDIS_URL !== undefined,
    redisUrl: e.REDIS_URL ?? `redis://127.0.0.1:${e.SD_EMBEDDED_REDIS_PORT}`,
    dockerHost: e.DOCKER_HOST,
    dockerCertPath: e.DOCKER_CERT_PATH,
    engine: e.SD_ENGINE,
    nodeDockerHost: e.SD_NODE_DOCKER_HOST ?? e.DOCKER_HOST,
  }));

/** The settings, parsed once; see `schema` for each one's meaning and default. */
export type Config = Readonly<z.output<typeof schema>>;

/** A range of host ports, both ends included. */
export interface PortRange {
  readonly first: number;
  readonly last: number;
}

/** What every managed container is held to; 0 means no limit. */
export interface ContainerLimits {
  readonly pids: number;
  /** Bytes. */
  readonly memory: number;
  readonly cpus: number;
  /** Docker's json-file `max-size` of one log file (`10m`). */
  readonly logMaxSize: string;
  /** Log files kept. */
  readonly logMaxFiles: number;
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
  return Object.freeze(parsed.data);
}

/** An empty variable (`SD_PORT=`) means "use the default", as in a shell-sourced env file. */
function withoutBlanks(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== '' && (key.startsWith('SD_') || key === 'REDIS_URL' || key === 'DOCKER_HOST' || key === 'DOCKER_CERT_PATH')) {
      out[key] = value;
    }
  }
  return out;
}
