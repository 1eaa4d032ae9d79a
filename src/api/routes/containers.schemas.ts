import { z } from 'zod';
import { parseAuthorizedKeys, parseEnv } from '../../domain/containers/options.js';
import { parseDuration } from '../../domain/durations.js';

/**
 * Docker's reference grammar, simplified: [registry[:port]/]path[:tag][@sha256:digest]. The registry is
 * localhost or has a dot or a port (as Docker decides); path components are lower-case alphanumerics
 * joined by '.', '_', '__' or dashes.
 */
const IMAGE_REFERENCE =
  /^(?:(?:localhost|(?:[a-zA-Z0-9-]+\.)+[a-zA-Z0-9-]+|[a-zA-Z0-9-]+(?=:[0-9]))(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

const blank = 'Image cannot be blank';

/** An image reference as a client sends it: trimmed, non-blank, Docker's grammar. */
export const imageReference = z
  .string({ error: (issue) => (issue.input === undefined ? blank : 'Image must be a single string') })
  .trim()
  .min(1, blank)
  .max(255, 'Image reference is too long')
  .regex(IMAGE_REFERENCE, 'Image is not a valid image reference')
  .describe('An image reference, as Docker takes it: [registry[:port]/]name[:tag][@sha256:digest]');

/** `ssh_key`: one or more OpenSSH public keys, as text (one per line) or repeated fields. */
const sshKeyField = z
  .union([z.string(), z.array(z.string())], { error: 'ssh_key must be text: one or more OpenSSH public keys' })
  .transform((value, ctx) => {
    const parsed = parseAuthorizedKeys(Array.isArray(value) ? value.join('\n') : value);
    if (parsed.ok) return parsed.value;
    ctx.addIssue({ code: 'custom', message: parsed.error });
    return z.NEVER;
  })
  .describe(
    'OpenSSH public keys (ssh-ed25519, ssh-rsa, ecdsa-sha2-*, sk-*), one per line or repeated, at most 8 KiB; handed to the container as SD_SSH_AUTHORIZED_KEYS',
  );

/** `env`: a JSON object, or `NAME=value` strings (repeated form fields). */
const envField = z
  .unknown()
  .transform((value, ctx) => {
    const parsed = parseEnv(value);
    if (parsed.ok) return parsed.value;
    ctx.addIssue({ code: 'custom', message: parsed.error });
    return z.NEVER;
  })
  .describe(
    'Environment variables: a JSON object of NAME → value, or repeated NAME=value form fields; names [A-Za-z_][A-Za-z0-9_]* not starting with SD_, at most 64 of them and 16 KiB in all',
  );

/**
 * A create takes an image, and optionally SSH keys and environment variables for the container, nothing
 * else: no client can ask for privileged mode, capabilities, devices, host mounts, host networking or any
 * other HostConfig. Any other field is refused rather than ignored, so that nobody believes they got an
 * option they did not.
 */
/** A duration field: `90m`, `8h`, `14d`, `2h30m`, or seconds (a JSON number or text). */
const durationField = (name: string) =>
  z.union([z.string(), z.number()], { error: `${name} must be a duration such as 90m, 8h, 14d or seconds` }).transform((value, ctx) => {
    const seconds = parseDuration(String(value));
    if (seconds !== null && seconds > 0 && seconds <= 10 * 365 * 86_400) return seconds;
    ctx.addIssue({ code: 'custom', message: `${name} must be a duration such as 90m, 8h, 14d or seconds (more than 0, at most 10 years)` });
    return z.NEVER;
  });

/** A yes/no field: a JSON boolean, or true/false/1/0 as a form or query sends it. */
const yesNo = (name: string) =>
  z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0'])], { error: `${name} must be true or false` })
    .transform((value) => value === true || value === 'true' || value === '1');

export const createContainerSchema = z.strictObject(
  {
    ssh_key: sshKeyField.optional(),
    env: envField.optional(),
    wake: yesNo('wake')
      .optional()
      .describe("Whether a connection to one of its ports wakes it while it is stopped (default: the server's SD_WAKE_ON_CONNECT, true)"),
    stop_after: durationField('stop_after').optional().describe('Stopped this long after the create, whatever its activity (at most SD_MAX_LIFETIME)'),
    delete_after: durationField('delete_after').optional().describe('Deleted this long after the create, whatever its state'),
    image: imageReference,
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `Only image, ssh_key, env, wake, stop_after and delete_after can be given; options such as ${issue.keys
            .slice(0, 3)
            .map((key) => key.slice(0, 40))
            .join(', ')} are not accepted (containers never run privileged, with host mounts or on the host network)`
        : undefined,
  },
);

export const patchContainerSchema = z
  .object({
    status: z
      .enum(['running', 'stopped'], { error: "Status must be 'running' or 'stopped'" })
      .optional()
      .describe('stopped: stop it (in the worker); running: start it again, on the same ports'),
    extend: durationField('extend').optional().describe('Keep it up this much longer: its stop deadline moves, and it counts as in use until then'),
  })
  .refine((fields) => fields.status !== undefined || fields.extend !== undefined, { message: "Status must be 'running' or 'stopped' (or give extend)" });

const flag = (name: string) =>
  z
    .string({ error: `${name} must be 'true' or 'false'` })
    .toLowerCase()
    .pipe(z.enum(['true', 'false', '1', '0'], { error: `${name} must be 'true' or 'false'` }))
    .transform((value) => value === 'true' || value === '1')
    .default(false);

/** `GET /v1/containers/<id>/logs?tail=100&follow=true&timestamps=true`. */
export const logsSchema = z.strictObject(
  {
    tail: z
      .string({ error: "tail must be a number of lines or 'all'" })
      .regex(/^(all|\d{1,6})$/, "tail must be a number of lines (at most 999999) or 'all'")
      .transform((value) => (value === 'all' ? ('all' as const) : Number(value)))
      .default(100)
      .describe("Lines from the end to start with (default 100), or 'all'"),
    follow: flag('follow').describe('Go on streaming until the container stops or the client goes away'),
    timestamps: flag('timestamps').describe('Start each line with its RFC 3339 time'),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `Only tail, follow and timestamps can be given` : undefined) },
);

export const listContainersSchema = z.object({
  audit: z
    .string({ error: "audit must be 'true' or 'false'" })
    .toLowerCase()
    .pipe(z.enum(['true', 'false'], { error: "audit must be 'true' or 'false'" }))
    .optional()
    .describe('true: re-read every container from the engine first and correct the records (slow)'),
});
