import { createHash } from 'node:crypto';

/**
 * What a client may set on a new container besides its image (pure rules, so that every case is tested):
 * its SSH public keys and environment variables. Nothing that touches the host is ever an option.
 */

/** Key types OpenSSH accepts in authorized_keys, as this server does. */
const KEY_TYPES = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$/;
export const MAX_SSH_KEYS_BYTES = 8 * 1024;
export const MAX_ENV_COUNT = 64;
export const MAX_ENV_BYTES = 16 * 1024;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface AuthorizedKey {
  /** The line as it goes into authorized_keys: type, key, comment. */
  readonly line: string;
  /** OpenSSH's fingerprint: `SHA256:` and the unpadded base64 of the key blob's SHA-256. */
  readonly fingerprint: string;
}

const hasControlCharacter = (text: string) => [...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

/**
 * One or more OpenSSH public keys, one per line (blank lines and `#` comments skipped). Each must be of a
 * known type, and its base64 blob must name that same type, as ssh-keygen writes it.
 */
export function parseAuthorizedKeys(text: string, field = 'ssh_key'): Parsed<AuthorizedKey[]> {
  if (Buffer.byteLength(text) > MAX_SSH_KEYS_BYTES) return fail(`${field} is larger than ${MAX_SSH_KEYS_BYTES / 1024} KiB`);
  const keys: AuthorizedKey[] = [];
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = lines.length > 1 ? `${field} (line ${index + 1})` : field;
    const [type = '', blob = '', ...comment] = line.split(/\s+/);
    if (!KEY_TYPES.test(type)) return fail(`${where} is not an OpenSSH public key: the type must be ssh-ed25519, ssh-rsa, ecdsa-sha2-* or sk-*`);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) return fail(`${where}: the key is not base64`);
    const bytes = Buffer.from(blob, 'base64');
    const named = bytes.length >= 4 ? bytes.subarray(4, 4 + bytes.readUInt32BE(0)).toString('latin1') : '';
    if (named !== type) return fail(`${where}: the key's data does not match its type ${type}`);
    if (comment.some(hasControlCharacter)) return fail(`${where}: the comment has control characters`);
    const fingerprint = `SHA256:${createHash('sha256').update(bytes).digest('base64').replace(/=+$/, '')}`;
    keys.push({ line: [type, blob, ...comment].join(' '), fingerprint });
  }
  if (keys.length === 0) return fail(`${field} holds no key`);
  return { ok: true, value: keys };
}

/**
 * Environment variables for the container: a JSON object, or `NAME=value` strings (repeated form fields).
 * Names are `[A-Za-z_][A-Za-z0-9_]*` and never start with `SD_` (the server's own); at most 64 of them and
 * 16 KiB in all; values are text without NUL.
 */
export function parseEnv(input: unknown, field = 'env'): Parsed<Record<string, string>> {
  const pairs: [string, string][] = [];
  if (typeof input === 'string' || Array.isArray(input)) {
    for (const item of typeof input === 'string' ? [input] : input) {
      if (typeof item !== 'string') return fail(`${field} must be NAME=value strings or a JSON object`);
      const equals = item.indexOf('=');
      if (equals <= 0) return fail(`${field} entry "${item.slice(0, 40)}" is not NAME=value`);
      pairs.push([item.slice(0, equals), item.slice(equals + 1)]);
    }
  } else if (input !== null && typeof input === 'object') {
    for (const [name, value] of Object.entries(input)) {
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return fail(`${field}.${name.slice(0, 40)} must be a string`);
      pairs.push([name, String(value)]);
    }
  } else {
    return fail(`${field} must be NAME=value strings or a JSON object`);
  }
  if (pairs.length > MAX_ENV_COUNT) return fail(`${field} has more than ${MAX_ENV_COUNT} variables`);
  let bytes = 0;
  // A Map, not a plain object: `constructor`, `toString` or `__proto__` are names like any other.
  const env = new Map<string, string>();
  for (const [name, value] of pairs) {
    if (!ENV_NAME.test(name)) return fail(`${field} name "${name.slice(0, 40)}" is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)`);
    if (name.toUpperCase().startsWith('SD_')) return fail(`${field} name ${name} is reserved (SD_ variables are the server's own)`);
    if (value.includes('\0')) return fail(`${field}.${name} contains a NUL character`);
    if (env.has(name)) return fail(`${field} sets ${name} twice`);
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value) + 2;
    env.set(name, value);
  }
  if (bytes > MAX_ENV_BYTES) return fail(`${field} is larger than ${MAX_ENV_BYTES / 1024} KiB`);
  return { ok: true, value: Object.fromEntries(env) };
}
