import { describe, expect, it } from 'vitest';
import { parseAuthorizedKeys, parseEnv } from '../../../src/domain/containers/options.js';

// Made by ssh-keygen; their fingerprints as `ssh-keygen -lf` prints them.
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILUV5ErnKdseIqInw8AS3grtsEOmTR7DR0ELunVf6aPO alice@laptop';
const ECDSA =
  'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBOgIbC9bgg9tB2D37y4MMAdMTg9cp3k7elPhZH+zJrFMA34cLZK+PSj6dSi0B8Cw+cSbF5d5sIb38Z70r/SQ1y4= bob';

describe('parseAuthorizedKeys', () => {
  it('reads one or more keys and gives their OpenSSH fingerprints', () => {
    const parsed = parseAuthorizedKeys(`${ED25519}\n\n# a comment\r\n${ECDSA}\n`);
    expect(parsed).toEqual({
      ok: true,
      value: [
        { line: ED25519, fingerprint: 'SHA256:Hk/IWXMZ+5c1rSO/XddSXj327jgTVWqYGnoLhfbMVpg' },
        { line: ECDSA, fingerprint: 'SHA256:gLNDCpSAccR27WnhQtl3jmOwXK0VEe0GO4HkFrmIoIE' },
      ],
    });
  });

  it.each([
    ['a private key', '-----BEGIN OPENSSH PRIVATE KEY-----', /not an OpenSSH public key/],
    ['an unknown type', 'ssh-dss AAAAB3NzaC1kc3MAAACBAP8= x', /not an OpenSSH public key/],
    ['data that is not base64', 'ssh-ed25519 not*base64 x', /not base64/],
    ['data of another type', `ssh-rsa ${ED25519.split(' ')[1]}`, /does not match its type ssh-rsa/],
    ['nothing at all', '\n# only a comment\n', /holds no key/],
    ['more than 8 KiB', `${ED25519} ${'x'.repeat(8200)}`, /larger than 8 KiB/],
    ['a second line that is bad', `${ED25519}\nssh-ed25519`, /line 2/],
  ])('refuses %s, naming the field', (_name, text, message) => {
    const parsed = parseAuthorizedKeys(text);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.error).toMatch(/^ssh_key/);
    expect(parsed.ok ? '' : parsed.error).toMatch(message);
  });
});

describe('parseEnv', () => {
  it('takes a JSON object or NAME=value strings', () => {
    expect(parseEnv({ POSTGRES_PASSWORD: 's3cret', PORT: 5432, DEBUG: false })).toEqual({
      ok: true,
      value: { POSTGRES_PASSWORD: 's3cret', PORT: '5432', DEBUG: 'false' },
    });
    expect(parseEnv(['A=1', 'B=x=y', 'EMPTY='])).toEqual({ ok: true, value: { A: '1', B: 'x=y', EMPTY: '' } });
    expect(parseEnv('ONE=1')).toEqual({ ok: true, value: { ONE: '1' } });
  });

  it.each([
    ['a bad name', { '1ABC': 'x' }, /not a valid variable name/],
    ['a name with a dash', ['MY-VAR=1'], /not a valid variable name/],
    ['an SD_ name', { SD_CHECKIN_TOKEN: 'forged' }, /reserved/],
    ['an sd_ name in any case', ['Sd_Thing=1'], /reserved/],
    ['no equals sign', ['JUSTANAME'], /is not NAME=value/],
    ['an object value', { A: { nested: true } }, /env\.A must be a string/],
    ['a NUL in a value', { A: 'x\0y' }, /NUL/],
    ['a name set twice', ['A=1', 'A=2'], /twice/],
    ['65 variables', Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`V${i}`, '1'])), /more than 64/],
    ['more than 16 KiB', { BIG: 'x'.repeat(16 * 1024) }, /larger than 16 KiB/],
    ['a number', 42, /must be NAME=value strings or a JSON object/],
  ])('refuses %s, naming the field', (_name, input, message) => {
    const parsed = parseEnv(input);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.error).toMatch(/^env/);
    expect(parsed.ok ? '' : parsed.error).toMatch(message);
  });
});

describe('parseEnv names', () => {
  it("takes names an object's prototype has (constructor, toString, __proto__) like any other", () => {
    // As a JSON body arrives: JSON.parse makes __proto__ an own key.
    const parsed = parseEnv(JSON.parse('{"constructor":"a","toString":"b","__proto__":"c","hasOwnProperty":"d"}'));
    expect(parsed.ok ? Object.entries(parsed.value).sort() : parsed.error).toEqual([
      ['__proto__', 'c'],
      ['constructor', 'a'],
      ['hasOwnProperty', 'd'],
      ['toString', 'b'],
    ]);
    expect(parseEnv(['constructor=1', 'valueOf=2']).ok).toBe(true);
    expect(parseEnv(['constructor=1', 'constructor=2'])).toEqual({ ok: false, error: 'env sets constructor twice' });
  });
});
