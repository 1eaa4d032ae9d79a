import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

export const REALM = 'spin-docker';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** HTTP Basic for user `admin`. Both sides are hashed first, so the comparison is constant-time whatever the lengths. */
export function basicAuth(password: string): RequestHandler {
  const expected = digest(`admin:${password}`);
  return (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header);
    const given = match?.[1] === undefined ? '' : Buffer.from(match[1], 'base64').toString('utf8');
    if (timingSafeEqual(digest(given), expected)) {
      next();
      return;
    }
    res
      .status(401)
      .set('WWW-Authenticate', `Basic realm="${REALM}"`)
      .json({ message: 'Wrong or missing credentials', code: 'unauthorized' });
  };
}
