import { describe, expect, it } from 'vitest';
import { bearerToken, checkinSchema } from '../../../src/api/routes/checkin.schemas.js';
import { createContainerSchema } from '../../../src/api/routes/containers.schemas.js';
import { plainAddress } from '../../../src/api/middleware/client.js';

describe('image references', () => {
  it.each(['spin-docker/demo', 'postgres', 'postgres:16.2-alpine', 'registry.local:5000/team/app:v1', 'a/b/c', 'my_app', 'x@sha256:' + 'a'.repeat(64)])(
    'accepts %s',
    (image) => {
      expect(createContainerSchema.parse({ image }).image).toBe(image);
    },
  );

  it.each(['UPPER/case', 'has space', '-leading', 'trailing-', 'a:b:c', 'x'.repeat(256), '../etc'])('refuses %j', (image) => {
    expect(createContainerSchema.safeParse({ image }).success).toBe(false);
  });

  it('says "Image cannot be blank" for a missing or blank image', () => {
    expect(createContainerSchema.safeParse({}).error?.issues[0]?.message).toBe('Image cannot be blank');
    expect(createContainerSchema.safeParse({ image: '  ' }).error?.issues[0]?.message).toBe('Image cannot be blank');
  });

  it.each([{ privileged: 'true' }, { HostConfig: { Binds: ['/:/host'] } }, { network_mode: 'host' }, { volumes: '/etc:/etc' }])(
    'refuses any field besides the image, naming it: %j',
    (extra) => {
      const issue = createContainerSchema.safeParse({ image: 'demo', ...extra }).error?.issues[0];
      expect(issue?.code).toBe('unrecognized_keys');
      expect(issue?.message).toContain(Object.keys(extra)[0]);
    },
  );
});

describe('check-in values', () => {
  it('reads either field name, as text or number, preferring active-connections', () => {
    expect(checkinSchema.parse({ 'active-connections': '3' })).toMatchObject({ active: 3 });
    expect(checkinSchema.parse({ active: 0 })).toMatchObject({ active: 0 });
    expect(checkinSchema.parse({ active: '1', 'active-connections': '5' })).toMatchObject({ active: 5 });
  });

  it.each([[{ active: '-1' }], [{ active: '1.5' }], [{ active: 'x' }], [{}], [{ active: ['1', '2'] }], [{ active: 1e12 }]])('refuses %j', (fields) => {
    expect(checkinSchema.safeParse(fields).success).toBe(false);
  });
});

describe('plainAddress', () => {
  it('unwraps IPv4-mapped IPv6', () => {
    expect(plainAddress('::ffff:172.17.0.2')).toBe('172.17.0.2');
    expect(plainAddress('172.17.0.2')).toBe('172.17.0.2');
    expect(plainAddress('::1')).toBe('::1');
  });
});

describe('check-in tokens', () => {
  it('reads a Bearer token and nothing else', () => {
    expect(bearerToken('Bearer abc.DEF-123_')).toBe('abc.DEF-123_');
    expect(bearerToken('bearer  xyz ')).toBe('xyz');
    expect(bearerToken('Bearer ')).toBeUndefined();
    expect(bearerToken('Basic YWRtaW46cHc=')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });

  it('takes a token field beside the count', () => {
    expect(checkinSchema.parse({ active: '1', token: 't0k' })).toEqual({ active: 1, token: 't0k' });
    expect(checkinSchema.safeParse({ active: '1', token: '' }).success).toBe(false);
  });
});
