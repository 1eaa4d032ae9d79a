import type { Request } from 'express';
import ipaddr from 'ipaddr.js';

/** '::ffff:172.17.0.2' → '172.17.0.2': Docker knows containers by their plain IPv4 address. */
export function plainAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice('::ffff:'.length) : address;
}

/**
 * Who sent a request: the peer's address, or, when the peer is a trusted proxy (SD_TRUSTED_PROXIES, Express's
 * `trust proxy`), the client it names: `X-Forwarded-For` (through `req.ip`), else `X-Real-IP`. The one rule for
 * check-ins (which container) and the login throttle (which client).
 */
export function clientAddress(req: Request): string {
  const realIp = req.headers['x-real-ip'];
  if (typeof realIp === 'string' && req.headers['x-forwarded-for'] === undefined) {
    const trust = req.app.get('trust proxy fn') as (address: string, hop: number) => boolean;
    if (trust(req.socket.remoteAddress ?? '', 0)) return plainAddress(realIp.trim());
  }
  return plainAddress(req.ip ?? req.socket.remoteAddress);
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
