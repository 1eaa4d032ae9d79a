import { z } from 'zod';
import { checkinSchema } from './routes/checkin.schemas.js';
import { createContainerSchema, listContainersSchema, logsSchema, patchContainerSchema } from './routes/containers.schemas.js';
import { eventsSchema } from './routes/events.schemas.js';
import { pullImageSchema } from './routes/images.schemas.js';
import { checkinAnswer, containerView, errorBody, healthReport, imageList, imagePresent, pullView } from './schemas/responses.js';

/**
 * The OpenAPI 3.1 document (GET /v1/openapi.json), generated from the zod schemas that validate each request
 * and describe each answer: nothing here restates a field by hand.
 */
type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const COMPONENTS = {
  Container: containerView,
  Pull: pullView,
  ImagePresent: imagePresent,
  ImageList: imageList,
  Error: errorBody,
  CheckIn: checkinAnswer,
  Health: healthReport,
};
type Component = keyof typeof COMPONENTS;
const ref = (name: Component) => ({ $ref: `#/components/schemas/${name}` });

const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const answer = (description: string, schema?: JsonSchema, headers?: Record<string, unknown>) => ({
  description,
  ...(schema === undefined ? {} : { content: json(schema) }),
  ...(headers === undefined ? {} : { headers }),
});
const text = (description: string, type = 'text/plain') => ({ description, content: { [type]: { schema: { type: 'string' } } } });

const ERRORS: Record<string, string> = {
  '400': 'Bad input (the message names the field); nothing changed',
  '401': 'Missing or wrong credentials',
  '403':
    "Not allowed: an image outside SD_ALLOWED_IMAGES, a registry on this host, SD_MAX_CONTAINERS reached, another container's check-in token, a browser page of another site (cross_site), or the default password from another address (default_password)",
  '404': 'No such container, image, pull or route',
  '409': 'Conflicts with the current state (e.g. starting a container that is stopping, deleting an image in use)',
  '429': 'Too many failed logins from this client (Retry-After)',
  '503': 'Redis or the Docker engine is unavailable (Retry-After)',
};
/** Any route may answer 403 (a browser page of another site, the default password from afar): every operation says so. */
const errors = (...codes: string[]) =>
  Object.fromEntries([...new Set([...codes, '403'])].sort().map((code) => [code, answer(ERRORS[code] as string, ref('Error'))]));

/** A request body, as a form or as JSON (every field may also come in the query string). */
const body = (schema: z.ZodType) => {
  const s = jsonSchema(schema, 'input');
  return { required: true, content: { 'application/x-www-form-urlencoded': { schema: s }, 'application/json': { schema: s } } };
};

/** Query parameters, one per field of an object schema. */
function query(schema: z.ZodObject): unknown[] {
  const whole = jsonSchema(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(whole.properties ?? {}).map(([name, field]) => ({
    name,
    in: 'query',
    required: whole.required?.includes(name) ?? false,
    ...(typeof field.description === 'string' ? { description: field.description } : {}),
    schema: field,
  }));
}

const idParameter = {
  name: 'id',
  in: 'path',
  required: true,
  description: "A container id, or a unique prefix of it of at least 4 characters (400 ambiguous_id when it is not unique); on a swarm, the service's id",
  schema: { type: 'string', pattern: '^[0-9a-z]{4,64}$' },
};
const location = { Location: { description: 'Where to follow it', schema: { type: 'string' } } };

export function openApiDocument(version: string): Record<string, unknown> {
  const containers = ['Containers'];
  const images = ['Images'];
  return {
    openapi: '3.1.0',
    info: {
      title: 'spin-docker',
      version,
      description:
        'Start a container with one request, get its ports, and let the server stop the containers nobody uses. ' +
        'Every request body may be a form (application/x-www-form-urlencoded) or JSON; fields may also come in the query string.',
    },
    servers: [{ url: '/' }],
    security: [{ basic: [] }],
    tags: [
      { name: 'Containers' },
      { name: 'Images' },
      { name: 'Activity', description: 'What containers report, and what happens, as it happens' },
      { name: 'Operations' },
    ],
    components: {
      securitySchemes: {
        basic: { type: 'http', scheme: 'basic', description: 'User admin (any user name), password SD_PASSWORD' },
        checkinToken: { type: 'http', scheme: 'bearer', description: "The container's own SD_CHECKIN_TOKEN" },
      },
      schemas: Object.fromEntries(Object.entries(COMPONENTS).map(([name, schema]) => [name, jsonSchema(schema, 'output')])),
    },
    paths: {
      '/v1/containers': {
        get: {
          operationId: 'listContainers',
          tags: containers,
          summary: 'Every container this server created, oldest first',
          parameters: query(listContainersSchema),
          description: 'With audit=true, as POST /v1/containers/audit (kept for curl; a browser on another site is refused with 403 cross_site).',
          responses: {
            '200': answer(
              'The containers',
              { type: 'array', items: ref('Container') },
              { 'X-Audit-Failures': { description: 'With audit=true: corrections that failed', schema: { type: 'string' } } },
            ),
            ...errors('400', '401', '403', '429', '503'),
          },
        },
        post: {
          operationId: 'createContainer',
          tags: containers,
          summary: 'Create and start a container',
          requestBody: body(createContainerSchema),
          responses: {
            '201': answer('Started (or, when its command exited at once, stopped)', ref('Container'), location),
            ...errors('400', '401', '403', '404', '429', '503'),
          },
        },
      },
      '/v1/containers/audit': {
        post: {
          operationId: 'auditContainers',
          tags: containers,
          summary: 'Re-read every container from the engine, correct the records, and list them (GET /v1/containers?audit=true does the same)',
          responses: {
            '200': answer(
              'The containers, as corrected',
              { type: 'array', items: ref('Container') },
              { 'X-Audit-Failures': { description: 'Corrections that failed', schema: { type: 'string' } } },
            ),
            ...errors('401', '403', '429', '503'),
          },
        },
      },
      '/v1/containers/{id}': {
        parameters: [idParameter],
        get: {
          operationId: 'getContainer',
          tags: containers,
          summary: 'One container',
          responses: { '200': answer('The container', ref('Container')), ...errors('400', '401', '404', '429', '503') },
        },
        patch: {
          operationId: 'changeContainerStatus',
          tags: containers,
          summary: 'Stop it (the worker stops it; the answer says stopping) or start it again',
          requestBody: body(patchContainerSchema),
          responses: { '200': answer('Its new state', ref('Container')), ...errors('400', '401', '403', '404', '409', '429', '503') },
        },
        delete: {
          operationId: 'deleteContainer',
          tags: containers,
          summary: 'Delete it (the worker stops and removes it, then the record)',
          responses: { '204': { description: 'Being deleted' }, ...errors('400', '401', '403', '404', '409', '429', '503') },
        },
      },
      '/v1/containers/{id}/logs': {
        parameters: [idParameter],
        get: {
          operationId: 'getContainerLogs',
          tags: containers,
          summary: 'Its output, stdout and stderr interleaved as written',
          parameters: query(logsSchema),
          responses: { '200': text('The lines; with follow=true, streamed'), ...errors('400', '401', '404', '429', '503') },
        },
      },
      '/v1/images': {
        get: {
          operationId: 'listImages',
          tags: images,
          summary: 'The tagged images on the engine',
          responses: { '200': answer('"repository:tag" strings', ref('ImageList')), ...errors('401', '429', '503') },
        },
        post: {
          operationId: 'pullImage',
          tags: images,
          summary: 'Pull an image (in the worker)',
          requestBody: body(pullImageSchema),
          responses: {
            '200': answer('Already present', ref('ImagePresent')),
            '202': answer('Being pulled: follow the pull at Location', ref('Pull'), location),
            ...errors('400', '401', '403', '429', '503'),
          },
        },
      },
      '/v1/images/pulls/{pull_id}': {
        parameters: [{ name: 'pull_id', in: 'path', required: true, schema: { type: 'string' } }],
        get: {
          operationId: 'getPull',
          tags: images,
          summary: 'A pull and its progress (kept a day after it ends)',
          responses: { '200': answer('The pull', ref('Pull')), ...errors('401', '404', '429', '503') },
        },
      },
      '/v1/images/{reference}': {
        parameters: [{ name: 'reference', in: 'path', required: true, description: 'The image reference, URL-encoded', schema: { type: 'string' } }],
        delete: {
          operationId: 'removeImage',
          tags: images,
          summary: 'Remove an image',
          responses: { '204': { description: 'Removed' }, ...errors('400', '401', '403', '404', '409', '429', '503') },
        },
      },
      '/v1/events': {
        get: {
          operationId: 'followEvents',
          tags: ['Activity'],
          summary: 'Live events (Server-Sent Events)',
          description:
            'Each event has an id, a type (container.created, .started, .stopping, .stopped, .deleting, .deleted, .activity; image.pull; ' +
            'events.gap when a resumed stream cannot reach back far enough) and JSON data: {container_id, container} or {pull}. ' +
            'Send the last id seen as Last-Event-ID (EventSource does) to resume without losing any. Comment lines are heartbeats.',
          parameters: [
            ...query(eventsSchema),
            {
              name: 'Last-Event-ID',
              in: 'header',
              required: false,
              description: 'Resume after this event (wins over last_event_id)',
              schema: { type: 'string' },
            },
          ],
          responses: { '200': text('The stream', 'text/event-stream'), ...errors('400', '401', '429', '503') },
        },
      },
      '/v1/check-in': {
        post: {
          operationId: 'checkIn',
          tags: ['Activity'],
          summary: 'A container reports its activity',
          description: 'Known by its token (Authorization: Bearer, or a token field), or else by its address on the Docker bridge.',
          security: [{}, { checkinToken: [] }],
          requestBody: body(checkinSchema),
          responses: { '200': answer('Counted', ref('CheckIn')), ...errors('400', '403', '404', '503') },
        },
      },
      '/v1/openapi.json': {
        get: {
          operationId: 'getOpenApiDocument',
          tags: ['Operations'],
          summary: 'This document',
          security: [{}],
          responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } },
        },
      },
      '/healthz': {
        get: {
          operationId: 'getHealth',
          tags: ['Operations'],
          summary: 'Health of the API, Redis, Docker and the worker',
          security: [{}],
          responses: { '200': answer('All well', ref('Health')), '503': answer('Something is down', ref('Health')) },
        },
      },
      '/metrics': {
        get: {
          operationId: 'getMetrics',
          tags: ['Operations'],
          summary: 'Prometheus metrics of this API process (public when SD_METRICS_PUBLIC=true)',
          responses: { '200': text('Prometheus text format 0.0.4'), ...errors('401', '429') },
        },
      },
    },
  };
}
