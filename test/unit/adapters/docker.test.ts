import { describe, expect, it } from 'vitest';
import { firstHost } from '../../../src/adapters/docker/connection.js';
import { eventIds } from '../../../src/adapters/docker/events.js';
import { portsFromInspect, portsFromListing } from '../../../src/adapters/docker/mapping.js';
import { translateDockerError } from '../../../src/adapters/docker/errors.js';

describe('translateDockerError', () => {
  const answer = (statusCode: number, message: string) => Object.assign(new Error('(HTTP code)'), { statusCode, json: { message } });

  it.each([
    [400, 'invalid'],
    [404, 'not_found'],
    [409, 'conflict'],
    [500, 'internal'],
    [503, 'unavailable'],
    [418, 'internal'],
  ])('maps Docker status %i to %s', (status, kind) => {
    const error = translateDockerError(answer(status, 'no such thing'), 'start the container');
    expect(error.kind).toBe(kind);
    expect(error.message).toBe('Docker could not start the container: no such thing');
  });

  it.each(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EACCES'])('maps a socket error %s to unavailable', (code) => {
    const error = translateDockerError(Object.assign(new Error(`connect ${code} /var/run/docker.sock`), { code }), 'list images');
    expect(error).toMatchObject({ kind: 'unavailable', code: 'docker_unavailable', message: 'The Docker engine is unreachable' });
  });

  it('maps anything else to internal', () => {
    expect(translateDockerError(new Error('boom'), 'list images').kind).toBe('internal');
  });
});

describe('port maps', () => {
  it('reads inspect bindings, preferring IPv4, skipping unpublished ports', () => {
    expect(
      portsFromInspect({
        '22/tcp': [
          { HostIp: '::', HostPort: '40001' },
          { HostIp: '0.0.0.0', HostPort: '40000' },
        ],
        '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '40002' }],
        '9000/tcp': null as never,
      }),
    ).toEqual({ '22/tcp': '40000', '80/tcp': '40002' });
  });

  it("reads a listing's ports the same way", () => {
    expect(
      portsFromListing([
        { PrivatePort: 22, PublicPort: 40001, Type: 'tcp', IP: '::' },
        { PrivatePort: 22, PublicPort: 40000, Type: 'tcp', IP: '0.0.0.0' },
        { PrivatePort: 9000, Type: 'tcp' } as never,
      ]),
    ).toEqual({ '22/tcp': '40000' });
  });
});

describe('firstHost', () => {
  it('finds the gateway Docker gives a bridge', () => {
    expect(firstHost('172.17.0.0/16')).toBe('172.17.0.1');
    expect(firstHost('192.168.5.0/24')).toBe('192.168.5.1');
    expect(firstHost('fd00::/64')).toBeUndefined();
  });
});

describe('eventIds', () => {
  it('hands on container ids from newline-delimited JSON split anywhere, skipping other types and junk', () => {
    const ids: string[] = [];
    const feed = eventIds((id) => ids.push(id));
    const lines =
      [
        JSON.stringify({ Type: 'container', Action: 'die', Actor: { ID: 'aaa' } }),
        JSON.stringify({ Type: 'network', Action: 'connect', Actor: { ID: 'net' } }),
        'not json',
        JSON.stringify({ status: 'start', id: 'bbb' }),
      ].join('\n') + '\n';
    feed(lines.slice(0, 17));
    feed(Buffer.from(lines.slice(17, 60)));
    feed(lines.slice(60));
    expect(ids).toEqual(['aaa', 'bbb']);
  });
});
