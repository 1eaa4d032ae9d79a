import { createHash, randomBytes } from 'node:crypto';

/** A container's check-in token: handed to it once (SD_CHECKIN_TOKEN), never stored. */
export const newToken = () => randomBytes(24).toString('base64url');

/** Tokens are stored only as their SHA-256, so that the store never holds a usable secret. */
export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
