import type { RequestHandler } from 'express';
import ipaddr from 'ipaddr.js';
import { DomainError } from '../../domain/errors.js';
import { clientAddress } from './client.js';

const REFUSED = new DomainError(
  'forbidden',
  'default_password',
  'This server still has the default password, so it answers only this host and its containers. Set SD_PASSWORD to a password of your own to serve other addresses.',
);

/** How long the containers' subnets are taken as known before they are asked again. */
const NETWORKS_FOR_MS = 30_000;

/**
 * While the password is the well-known default, the API serves only where the host's own users and its
 * containers reach it: clients on loopback, and on the containers' networks (their check-ins). Every other
 * client, also one named by a trusted proxy, gets a 403 that names SD_PASSWORD.
 */
export function localOnly(localNetworks: () => Promise<readonly string[]>): RequestHandler {
  let networks: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];
  let knownUntil = 0;
  const refresh = async () => {
    if (Date.now() < knownUntil) return;
    try {
      const subnets = await localNetworks();
      networks = subnets.flatMap((subnet) => {
        try {
          return [ipaddr.parseCIDR(subnet)];
        } catch {
          return [];
        }
      });
      knownUntil = Date.now() + NETWORKS_FOR_MS;
    } catch {
      // The engine cannot say right now: what was known stays, and it is asked again soon.
      knownUntil = Date.now() + 2_000;
    }
  };
  return async (req, _res, next) => {
    const client = clientAddress(req);
    if (!ipaddr.isValid(client)) return next(REFUSED);
    const address = ipaddr.process(client);
    if (address.range() === 'loopback') return next();
    await refresh();
    const inside = networks.some(([network, bits]) => network.kind() === address.kind() && (address as ipaddr.IPv4).match(network as ipaddr.IPv4, bits));
    next(inside ? undefined : REFUSED);
  };
}
