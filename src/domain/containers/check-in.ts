import { forbidden, notFound } from '../errors.js';
import type { Clock, ContainerStore } from '../ports.js';
import { hashToken } from './tokens.js';

/** A container's own report of its activity (POST /v1/check-in). */
export function createCheckIn({ store, clock }: { readonly store: Pick<ContainerStore, 'checkIn'>; readonly clock: Clock }) {
  /**
   * A check-in names its container by token (when it carries one) or by the sender's address. Says the
   * container's stop deadline (epoch ms) back, or null when it has none.
   */
  return async function checkIn(ip: string, token: string | undefined, active: number): Promise<{ readonly stopAt: number | null }> {
    const { outcome, stopAt } = await store.checkIn(ip, token === undefined ? undefined : hashToken(token), active, clock.now());
    if (outcome === 'refused') throw forbidden('invalid_token', 'The check-in token does not belong to the sending container');
    if (outcome === 'unknown') {
      throw notFound('unknown_address', token === undefined ? `No running container has the address ${ip}` : 'The container of this token is not running');
    }
    return { stopAt };
  };
}

export type CheckIn = ReturnType<typeof createCheckIn>;
