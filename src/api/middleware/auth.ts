import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { LoginThrottle } from './login-throttle.js';

export const REALM = 'spin-docker';

const digest = (value: string) => createHash('sha256').update(value).digest();

function tooMany(res: Response, retryAfterSeconds: number): void {
  res
    .status(429)
    .set('Retry-After', String(retryAfterSeconds))
    .json({ message: `Too many failed logins from this address; try again in ${retryAfterSeconds} s`, code: 'too_many_failed_logins' });
}

/**
 * HTTP Basic for user `admin`. Both sides are hashed first, so the comparison is constant-time whatever the
 * lengths. Failed logins (a request that carried credentials) go through the throttle, by client address.
 */
export function basicAuth(password: string, throttle: LoginThrottle): RequestHandler {
  const expected = digest(`admin:${password}`);
  return (req, res, next) => {
    const address = req.ip ?? req.socket.remoteAddress ?? '';
    const before = throttle.check(address);
    if (before.kind === 'refuse') {
      tooMany(res, before.retryAfterSeconds);
      return;
    }
    const header = req.headers.authorization;
    const match = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header ?? '');
    const given = match?.[1] === undefined ? '' : Buffer.from(match[1], 'base64').toString('utf8');
    if (timingSafeEqual(digest(given), expected)) {
      throttle.succeed(address);
      next();
      return;
    }
    const unauthorized = () =>
      res
        .status(401)
        .set('WWW-Authenticate', `Basic realm="${REALM}"`)
        .json({ message: 'Wrong or missing credentials', code: 'unauthorized' });
    // No credentials at all is how every client starts (the challenge); only a wrong guess counts.
    if (header === undefined) {
      unauthorized();
      return;
    }
    const verdict = throttle.fail(address);
    if (verdict.kind === 'refuse') tooMany(res, verdict.retryAfterSeconds);
    else if (verdict.delayMs === 0) unauthorized();
    else setTimeout(unauthorized, verdict.delayMs);
  };
}
