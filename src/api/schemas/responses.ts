import { z } from 'zod';
import { CONTAINER_STATUSES } from '../../domain/containers/record.js';

/**
 * What the API answers, as zod schemas: the presenters' types are inferred from them and the OpenAPI document
 * (GET /v1/openapi.json) is generated from them, so the two cannot drift apart.
 */
const isoTime = z.iso.datetime().describe('ISO 8601 time, UTC');
const portString = z.string().describe('A published host port, or "" when none');

export const containerView = z.object({
  container_id: z.string().describe("Docker's full container id (64 hex characters); on a swarm (SD_ENGINE=swarm), its service's id (25 characters)"),
  name: z.string().describe("Docker's name for it, with a leading slash (on a swarm, its service's name)"),
  image: z.string(),
  status: z.enum(CONTAINER_STATUSES),
  active: z.string().describe('The latest reported count of active connections, as a string'),
  ssh_port: portString.describe('Host port of the container\'s port 22, or ""'),
  app_port: portString.describe('Host port of its other exposed port, or ""'),
  uri: z.string().describe('/v1/containers/<container_id>'),
  ports: z.record(z.string(), z.string()).describe('Every published port: container port ("80/tcp") → host port'),
  created_at: isoTime,
  last_check_in: isoTime.nullable().describe('The latest check-in since the latest start, or null'),
  next_check_at: isoTime.nullable().describe('When the idle monitor looks next, or null when it will not'),
  connections: z.string().describe('Client connections at the worker\'s latest sample, as a string; "" when not sampled'),
  last_activity_at: isoTime.nullable().describe('The latest sign of activity, or null'),
  activity_source: z.enum(['observed', 'reported']).nullable().describe('Where that sign came from'),
  ssh_keys: z.array(z.string()).describe('Fingerprints (SHA256:…) of the SSH keys it was given; keys and env are never shown'),
  wake_on_connect: z.boolean().describe('Whether a connection to one of its ports wakes it while it is stopped'),
  asleep: z.boolean().describe('Stopped, and woken by the first connection to any of its ports (which it keeps)'),
  stop_at: isoTime.nullable().describe('When it is stopped whatever its activity (stop_after, moved by extend), or null'),
  delete_at: isoTime.nullable().describe('When it is deleted whatever its state (delete_after), or null'),
  stop_reason: z
    .string()
    .nullable()
    .describe(
      'Why it stopped (or is stopping, or being deleted): "requested", "deadline", "idle: no connection or check-in for 1h 0m", "exited (code 137)", "adopted"…; null while it runs',
    ),
  kept_by: z
    .string()
    .nullable()
    .describe(
      'While it runs, what keeps it up, by the rule that decides its idle stop: "2 connections on 5432/tcp", "check-in 40 s ago (active=1)", "extended until 18:00 UTC"…',
    ),
  node: z.string().nullable().describe('On a swarm, the node (host name) its task runs on, or is kept on while stopped; null on a single engine'),
});

export const layerProgress = z.object({
  id: z.string(),
  status: z.string().describe("The engine's last word on this layer"),
  current: z.number().int().min(0).describe('Bytes downloaded'),
  total: z.number().int().min(0).describe('Bytes in all (0 while unknown)'),
});

export const pullView = z.object({
  pull_id: z.string(),
  image: z.string(),
  status: z.enum(['pulling', 'done', 'failed']),
  layers: z.array(layerProgress),
  bytes_done: z.number().int().min(0),
  bytes_total: z.number().int().min(0),
  error: z.string().nullable().describe('Why it failed, in words; null unless failed'),
  created_at: isoTime,
  updated_at: isoTime,
  uri: z.string().describe('/v1/images/pulls/<pull_id>'),
});

export const imagePresent = z.object({ image: z.string(), status: z.literal('present') });

export const imageList = z.array(z.string().describe('"repository:tag"'));

export const errorBody = z.object({
  message: z.string().describe('What went wrong, in words'),
  code: z.string().describe('A stable, machine-readable code, e.g. invalid_request, not_found, image_in_use'),
});

export const checkinAnswer = z.object({
  message: z.literal('Checked in'),
  active: z.string(),
  stop_at: isoTime.nullable().describe('When the container is stopped whatever its activity (it moves with every extend), or null'),
});

/** GET /healthz, beside the check that makes it. */
export { healthReport } from '../../adapters/redis/health.js';

export type ContainerView = z.infer<typeof containerView>;
export type PullView = z.infer<typeof pullView>;
export type ErrorBody = z.infer<typeof errorBody>;
