import ipaddr from 'ipaddr.js';

/**
 * Image references as Docker reads them (distribution's grammar): `[registry/]repository[:tag][@digest]`. The
 * first part names a registry only when it holds a `.` or a `:` or is `localhost`; otherwise the registry is
 * Docker Hub's, where a one-part repository is `library/<name>`. A reference without tag or digest means
 * `:latest`.
 */
export interface ImageReference {
  /** As Docker knows it: `docker.io` for Docker Hub, else `host[:port]` in lower case. */
  readonly registry: string;
  /** `library/postgres`, `spin-docker/base`, `team/app/api`. */
  readonly repository: string;
  /** `latest` when none is written; a digest (`sha256:…`) when that is what the reference names. */
  readonly tag: string;
}

export const DOCKER_HUB = 'docker.io';

/** The parts of a reference (or of a pattern, where each part may hold `*`). */
export function parseReference(reference: string): ImageReference {
  let rest = reference.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.indexOf('/');
  const first = slash === -1 ? '' : rest.slice(0, slash);
  const namesRegistry = slash !== -1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = namesRegistry ? first.toLowerCase() : DOCKER_HUB;
  let path = namesRegistry ? rest.slice(slash + 1) : rest;
  let tag: string | undefined;
  const colon = path.lastIndexOf(':');
  if (colon > path.lastIndexOf('/')) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
  }
  const repository = registry === DOCKER_HUB && !path.includes('/') ? `library/${path}` : path;
  return { registry, repository, tag: digest ?? tag ?? 'latest' };
}

/** Whether the reference writes a tag or a digest of its own. */
const namesTag = (reference: string) => reference.includes('@') || reference.slice(reference.lastIndexOf('/') + 1).includes(':');

const glob = (pattern: string) => new RegExp(`^${pattern.split('*').map(escapeRegex).join('.*')}$`, 'i');

/**
 * Whether an image reference matches one of the patterns (SD_ALLOWED_IMAGES). Registry, repository and tag are
 * matched each against its own part of the pattern, so a `*` never reaches from one part into another:
 * `postgres:*` admits every tag of Docker Hub's postgres and nothing from a registry named `postgres`. A
 * pattern without a tag admits `:latest` only, unless its repository ends in `*` (`spin-docker/*`: every tag of
 * every repository under it). `*` alone admits everything.
 */
export function imageAllowed(reference: string, patterns: readonly string[]): boolean {
  const ref = parseReference(reference);
  return patterns.some((pattern) => {
    if (pattern.trim() === '*') return true;
    const want = parseReference(pattern);
    const anyTag = !namesTag(pattern) && want.repository.endsWith('*');
    return glob(want.registry).test(ref.registry) && glob(want.repository).test(ref.repository) && (anyTag || glob(want.tag).test(ref.tag));
  });
}

/** The host of a registry (`[::1]:5000` → `::1`, `Localhost:5000` → `localhost`). */
export function registryHost(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'));
  const colons = registry.split(':').length - 1;
  return (colons === 1 ? registry.slice(0, registry.indexOf(':')) : registry).toLowerCase();
}

/** Whether an address is one of the host's own (loopback, unspecified) or link-local (cloud metadata services). */
export function isHostLocalAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const range = ipaddr.process(address).range();
  return range === 'loopback' || range === 'linkLocal' || range === 'unspecified';
}

/**
 * Why a pull from this registry is refused, or null: a registry on the host itself or on a link-local address
 * (named as such, or resolving to one: `addresses`) would let a caller make the engine talk to the host's own
 * ports, unless the admin lists it in SD_ALLOWED_REGISTRIES (where `*` stands for any run of characters:
 * `127.0.0.1:*`).
 */
export function registryRefusal(registry: string, allowed: readonly string[], addresses: readonly string[] = []): string | null {
  if (allowed.some((entry) => glob(entry).test(registry))) return null;
  const host = registryHost(registry);
  const local = host === 'localhost' || host.endsWith('.localhost') || isHostLocalAddress(host) || addresses.some(isHostLocalAddress);
  return local
    ? `Registry ${registry} is on this host or a link-local address; pulls from it are refused unless SD_ALLOWED_REGISTRIES lists it`
    : null;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
