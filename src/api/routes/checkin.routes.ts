import { Router } from 'express';
import type { Counter } from 'prom-client';
import type { CheckIn } from '../../domain/containers/check-in.js';
import { clientAddress } from '../middleware/client.js';
import { DomainError, type ErrorKind } from '../../domain/errors.js';
import { asDomainError, methodNotAllowed } from '../middleware/errors.js';
import { parseFields } from '../middleware/validate.js';
import { bearerToken, checkinSchema } from './checkin.schemas.js';

/** What a check-in came to, for the metrics, by the kind of its error. */
const RESULT: Partial<Record<ErrorKind, string>> = { invalid: 'invalid', forbidden: 'refused', not_found: 'unknown' };

export function checkinRoutes(checkIn: CheckIn, counter?: Counter<'result'>): Router {
  const router = Router();
  router
    .route('/')
    .post(async (req, res) => {
      // A secret in the URL ends up in every access log on the way: the header or the body only.
      if ((req.query as Record<string, unknown>).token !== undefined) {
        throw new DomainError(
          'invalid',
          'token_in_query',
          'Send the check-in token as Authorization: Bearer <token> or in the body, never in the query string',
        );
      }
      try {
        const { active, token } = parseFields(checkinSchema, req);
        const { stopAt } = await checkIn(clientAddress(req), bearerToken(req.headers.authorization) ?? token, active);
        counter?.inc({ result: 'ok' });
        // The stop deadline moves with every extend: the container learns it here (sd-report shows it at login).
        res.json({ message: 'Checked in', active: String(active), stop_at: stopAt === null ? null : new Date(stopAt).toISOString() });
      } catch (error) {
        counter?.inc({ result: RESULT[asDomainError(error).kind] ?? 'error' });
        throw error;
      }
    })
    .all(methodNotAllowed(['POST']));
  return router;
}
