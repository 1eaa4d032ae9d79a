/** Every key of an installation lives under this prefix (SD_INSTANCE): records, pulls, events, logins, queues. */
export const keyPrefix = (instance: string) => `spin-docker:${instance}:`;

/** BullMQ's prefix for this installation's queues. */
export const bullPrefix = (instance: string) => `${keyPrefix(instance)}bull`;
