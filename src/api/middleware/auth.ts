import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { DomainError } from '../../domain/errors.js';
import expressBasicAuth from 'express-basic-auth';
import type { LoginStanding, LoginThrottle } from '../../domain/ports.js';
import { clientAddress, clientKey } from './client.js';

export const REALM = 'spin-docker';

const digest = (value: string) => createHash('sha256').update(value).digest();

const UNAUTHORIZED = { message: 'Wrong or missing credentials', code: 'unauthorized' };

const tooMany = (retryAfterSeconds: number) =>
  new DomainError('rate_limited', 'too_many_failed_logins', `Too many failed logins; try again in ${retryAfterSeconds} s`, { retryAfterSeconds });

/** What the authorizer of a request needs to know of it (express-basic-auth hands it only the credentials). */
interface Attempt {
  readonly client: string;
  readonly before: Extract<LoginStanding, { kind: 'allow' }>;
  /** The standing was read from the throttle for this request with no failure recorded here since: a success may mark the client clean. */
  readonly mayMarkClean: boolean;
  readonly next: NextFunction;
}

/**
 * HTTP Basic for user `admin`, by express-basic-auth (its challenge and realm), with the throttle around it:
 * a refused client gets 429 before its credentials are looked at; a wrong guess is counted, and its 401 held
 * back or turned into a 429 by the throttle. A request without credentials is how every client starts (the
 * challenge), so it does not count. Both sides are hashed before the comparison, so it takes the same time
 * whatever the lengths.
 *
 * The common request (the canonical `Basic` header of the right credentials, from a client with no failures on
 * record that logged in within the last second) is let through at once: no Redis round trip, no promise and no
 * parse. Everything else takes the whole way above.
 */
export function basicAuth(password: string, throttle: LoginThrottle, options: { cleanForMs?: number } = {}): RequestHandler {
  const expected = digest(`admin:${password}`);
  const correct = (user: string, pass: string) => timingSafeEqual(digest(`${user}:${pass}`), expected);
  const expectedHeader = digest(`Basic ${Buffer.from(`admin:${password}`).toString('base64')}`);
  const canonical = (header: string | undefined) => header !== undefined && timingSafeEqual(digest(header), expectedHeader);
  // A client that just logged in with no failures on record is not asked about again for a moment: the
  // common request then costs no Redis round trip. A lockout made by another API process reaches it that late.
  const cleanForMs = options.cleanForMs ?? 1000;
  const clean = new Map<string, number>();
  const CLEAN: LoginStanding = { kind: 'allow', failures: 0 };
  // Failed logins recorded by this process: a standing read while one was recorded may be older than it.
  let failuresSeen = 0;
  // express-basic-auth calls the authorizer synchronously, inside authenticate(): the attempt is handed over here.
  let current: Attempt | undefined;

  const authenticate = expressBasicAuth({
    challenge: true,
    realm: REALM,
    unauthorizedResponse: UNAUTHORIZED,
    authorizeAsync: true,
    authorizer: (user: string, pass: string, done: (error: unknown, allowed: boolean) => void) => {
      if (current === undefined) return done(null, false);
      const { client, before, mayMarkClean, next } = current;
      if (correct(user, pass)) {
        // Only a client with failures on record has anything to clear: no write on the common path.
        if (before.failures === 0) {
          // Marked clean only on what the throttle said just now: a mark is never renewed on the mark alone.
          if (mayMarkClean) {
            if (clean.size > 10_000) clean.clear();
            clean.set(client, Date.now() + cleanForMs);
          }
          done(null, true);
        } else throttle.succeed(client).then(() => done(null, true), next);
        return;
      }
      failuresSeen += 1;
      clean.delete(client);
      throttle.fail(client).then((verdict) => {
        if (verdict.kind === 'refuse') next(tooMany(verdict.retryAfterSeconds));
        else if (verdict.delayMs === 0) done(null, false);
        else setTimeout(() => done(null, false), verdict.delayMs);
      }, next);
    },
  });

  async function checked(req: Request, res: Response, next: NextFunction, client: string, isClean: boolean): Promise<void> {
    const seen = failuresSeen;
    const before = isClean ? CLEAN : await throttle.standing(client);
    if (before.kind === 'refuse') throw tooMany(before.retryAfterSeconds);
    current = { client, before, mayMarkClean: !isClean && failuresSeen === seen, next };
    try {
      authenticate(req, res, next);
    } finally {
      current = undefined;
    }
  }

  return (req, res, next) => {
    const client = clientKey(clientAddress(req));
    const cleanUntil = clean.get(client);
    const isClean = cleanUntil !== undefined && cleanUntil > Date.now();
    if (isClean && canonical(req.headers.authorization)) return next();
    checked(req, res, next, client, isClean).catch(next);
  };
}
