import type { Request } from 'express';
import ipaddr from 'ipaddr.js';

/** '::ffff:172.17.0.2' → '172.17.0.2': Docker knows containers by their plain IPv4 address. */
export function plainAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice('::ffff:'.length) : address;
}

/** The app setting that names the one header a trusted proxy names the client in (SD_PROXY_HEADER). */
export const PROXY_HEADER_SETTING = 'sd proxy header';

/**
 * Who sent a request: the peer's address, or, when the peer is a trusted proxy (SD_TRUSTED_PROXIES, Express's
 * `trust proxy`), the client it names in the one header SD_PROXY_HEADER says: `X-Forwarded-For` (through
 * `req.ip`, its last untrusted hop) or `X-Real-IP`. The other header is never read, so a client cannot slip
 * an address past a proxy that sets only one of them. The one rule for check-ins (which container), the login
 * throttle (which client) and the default password's reach.
 */
export function clientAddress(req: Request): string {
  const peer = req.socket.remoteAddress ?? '';
  if (req.app.get(PROXY_HEADER_SETTING) === 'x-real-ip') {
    const realIp = req.headers['x-real-ip'];
    const trust = req.app.get('trust proxy fn') as (address: string, hop: number) => boolean;
    return plainAddress(typeof realIp === 'string' && realIp.trim() !== '' && trust(peer, 0) ? realIp.trim() : peer);
  }
  return plainAddress(req.ip ?? peer);
}

/**
 * The key a client's failed logins are counted under: an IPv4 address as it is (also when IPv4-mapped), an IPv6
 * address by its /64, since one host is usually handed a whole /64 and could otherwise rotate through it.
 */
export function clientKey(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const groups = (parsed as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16));
  return `${groups.join(':')}::/64`;
}
