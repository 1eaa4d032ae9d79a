import { Router, type Request } from 'express';
import type { Counter } from 'prom-client';
import type { ContainerService } from '../../domain/containers/containers.service.js';
import { HttpError, methodNotAllowed } from '../middleware/errors.js';
import { parseFields } from '../middleware/validate.js';
import { bearerToken, checkinSchema } from './checkin.schemas.js';

/** '::ffff:172.17.0.2' → '172.17.0.2': Docker knows containers by their plain IPv4 address. */
export function plainAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice('::ffff:'.length) : address;
}

/**
 * The calling container's address. `req.ip` already honours X-Forwarded-For from trusted proxies only
 * (Express's trust proxy); X-Real-IP is honoured on the same terms when no X-Forwarded-For came.
 */
export function clientAddress(req: Request): string {
  const realIp = req.headers['x-real-ip'];
  if (typeof realIp === 'string' && req.headers['x-forwarded-for'] === undefined) {
    const trust = req.app.get('trust proxy fn') as (address: string, hop: number) => boolean;
    if (trust(req.socket.remoteAddress ?? '', 0)) return plainAddress(realIp.trim());
  }
  return plainAddress(req.ip);
}

/** What a check-in came to, for the metrics: the error's status says it. */
function checkinResult(error: unknown): string {
  const status = (error as { status?: number; kind?: string } | null)?.status;
  const kind = (error as { kind?: string } | null)?.kind;
  if (status === 400) return 'invalid';
  if (kind === 'forbidden') return 'refused';
  if (kind === 'not_found') return 'unknown';
  return 'error';
}

export function checkinRoutes(service: ContainerService, counter?: Counter<'result'>): Router {
  const router = Router();
  router
    .route('/')
    .post(async (req, res) => {
      // A secret in the URL ends up in every access log on the way: the header or the body only.
      if ((req.query as Record<string, unknown>).token !== undefined) {
        throw new HttpError(400, 'token_in_query', 'Send the check-in token as Authorization: Bearer <token> or in the body, never in the query string');
      }
      try {
        const { active, token } = parseFields(checkinSchema, req);
        await service.checkIn(clientAddress(req), bearerToken(req.headers.authorization) ?? token, active);
        counter?.inc({ result: 'ok' });
        res.json({ message: 'Checked in', active: String(active) });
      } catch (error) {
        counter?.inc({ result: checkinResult(error) });
        throw error;
      }
    })
    .all(methodNotAllowed(['POST']));
  return router;
}
