import { z } from 'zod';

/**
 * Docker's reference grammar, simplified: [registry[:port]/]path[:tag][@sha256:digest]. The registry is
 * localhost or has a dot or a port (as Docker decides); path components are lower-case alphanumerics
 * joined by '.', '_', '__' or dashes.
 */
const IMAGE_REFERENCE =
  /^(?:(?:localhost|(?:[a-zA-Z0-9-]+\.)+[a-zA-Z0-9-]+|[a-zA-Z0-9-]+(?=:[0-9]))(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

const blank = 'Image cannot be blank';

/**
 * A create takes an image and nothing else: no client can ask for privileged mode, capabilities, devices,
 * host mounts, host networking or any other HostConfig. Any other field is refused rather than ignored, so
 * that nobody believes they got an option they did not.
 */
export const createContainerSchema = z.strictObject({
  image: z
    .string({ error: (issue) => (issue.input === undefined ? blank : 'Image must be a single string') })
    .trim()
    .min(1, blank)
    .max(255, 'Image reference is too long')
    .regex(IMAGE_REFERENCE, 'Image is not a valid image reference'),
}, {
  error: (issue) =>
    issue.code === 'unrecognized_keys'
      ? `Only an image can be given; options such as ${issue.keys.slice(0, 3).map((key) => key.slice(0, 40)).join(', ')} are not accepted (containers never run privileged, with host mounts or on the host network)`
      : undefined,
});

export const patchContainerSchema = z.object({
  status: z.enum(['running', 'stopped'], { error: "Status must be 'running' or 'stopped'" }),
});

export const listContainersSchema = z.object({
  audit: z
    .string({ error: "audit must be 'true' or 'false'" })
    .toLowerCase()
    .pipe(z.enum(['true', 'false'], { error: "audit must be 'true' or 'false'" }))
    .optional(),
});

/** Container ids are Docker's full 64-hex ids; anything else cannot name a record. */
export const CONTAINER_ID = /^[0-9a-f]{64}$/;
