import type { RegistryAuth } from '../../domain/ports.js';

/** Docker Hub's name in a config.json. */
const DOCKER_HUB = 'https://index.docker.io/v1/';

/** The registry a reference names: its first part when that is a host (a dot, a port or localhost), else Docker Hub. */
export function registryOf(reference: string): string {
  const first = reference.split('/')[0] ?? '';
  return reference.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : DOCKER_HUB;
}

/**
 * Credentials from a Docker `config.json` (`{"auths": {"registry": {"auth": base64("user:password")}}}`, or
 * `username` and `password`), looked up by the registry of a reference. Throws a readable error for a file that
 * is not such a document.
 */
export function registryAuths(json: string): (reference: string) => RegistryAuth | undefined {
  const document = JSON.parse(json) as { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  if (document === null || typeof document !== 'object' || typeof document.auths !== 'object') throw new Error('it has no "auths" object');
  const byRegistry = new Map<string, RegistryAuth>();
  for (const [server, entry] of Object.entries(document.auths ?? {})) {
    let { username, password } = entry;
    if (entry.auth !== undefined) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) [username, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
    }
    if (username === undefined || password === undefined) continue;
    const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    const key = /(^|\.)docker\.io$/.test(host) ? DOCKER_HUB : host;
    byRegistry.set(key, { username, password, serveraddress: server });
  }
  return (reference) => byRegistry.get(registryOf(reference));
}
