import { describe, expect, it } from 'vitest';
import { clientKey } from '../../../src/api/middleware/client.js';
import { failureDelay } from '../../../src/domain/logins.js';

describe('failureDelay', () => {
  it('answers the first three failures at once, then 250 ms more each time, up to 2 s', () => {
    expect([1, 2, 3, 4, 5, 6, 11, 50].map((n) => failureDelay(n))).toEqual([0, 0, 0, 250, 500, 750, 2000, 2000]);
  });
});

describe('clientKey', () => {
  it('keeps IPv4 addresses as they are, also when IPv4-mapped', () => {
    expect(clientKey('198.51.100.7')).toBe('198.51.100.7');
    expect(clientKey('::ffff:198.51.100.7')).toBe('198.51.100.7');
  });

  it('counts an IPv6 address by its /64, however it is written', () => {
    const key = clientKey('2001:db8:1:2::1');
    expect(key).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:0db8:0001:0002:ffff:ffff:ffff:fffe')).toBe(key);
    expect(clientKey('2001:db8:1:2:0:0:0:9%eth0')).toBe(key);
    expect(clientKey('2001:db8:1:3::1')).not.toBe(key);
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('fe80::1:2:3.4.5.6')).toBe('fe80:0:0:0::/64');
  });

  it('leaves anything else alone', () => {
    expect(clientKey('')).toBe('');
    expect(clientKey('not-an-address')).toBe('not-an-address');
  });
});
