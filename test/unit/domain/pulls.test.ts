import { describe, expect, it } from 'vitest';
import { registryAuths, registryOf } from '../../../src/adapters/docker/registry-auth.js';
import { applyPullEvent, normalizedReference, pullTotals } from '../../../src/domain/images/pulls.js';
import type { LayerProgress, PullEvent } from '../../../src/domain/ports.js';

// The engine's progress lines for a pull of two layers, one already present (as `docker pull` prints them).
const EVENTS: PullEvent[] = [
  { status: 'Pulling from sd/big', id: '1' },
  { status: 'Pulling fs layer', progressDetail: {}, id: 'aaa' },
  { status: 'Already exists', progressDetail: {}, id: 'bbb' },
  { status: 'Downloading', progressDetail: { current: 1000, total: 5000 }, id: 'aaa' },
  { status: 'Downloading', progressDetail: { current: 4000, total: 5000 }, id: 'aaa' },
  { status: 'Verifying Checksum', progressDetail: {}, id: 'aaa' },
  { status: 'Download complete', progressDetail: {}, id: 'aaa' },
  { status: 'Extracting', progressDetail: { current: 32768, total: 5000 }, id: 'aaa' },
  { status: 'Pull complete', progressDetail: {}, id: 'aaa' },
  { status: 'Digest: sha256:abc' },
  { status: 'Status: Downloaded newer image for 127.0.0.1:5000/sd/big:1' },
];

describe('applyPullEvent', () => {
  it('follows each layer from first sight to complete, counting bytes downloaded', () => {
    const seen: LayerProgress[][] = [];
    let layers: LayerProgress[] = [];
    for (const event of EVENTS) {
      layers = applyPullEvent(layers, event);
      seen.push(layers);
    }
    expect(seen[3]).toEqual([
      { id: 'aaa', status: 'Downloading', current: 1000, total: 5000 },
      { id: 'bbb', status: 'Already exists', current: 0, total: 0 },
    ]);
    expect(pullTotals(seen[4] ?? [])).toEqual({ done: 4000, total: 5000 });
    expect(layers).toEqual([
      { id: 'aaa', status: 'Pull complete', current: 5000, total: 5000 },
      { id: 'bbb', status: 'Already exists', current: 0, total: 0 },
    ]);
    expect(pullTotals(layers)).toEqual({ done: 5000, total: 5000 });
  });

  it('never goes backwards in bytes', () => {
    let layers: LayerProgress[] = [];
    let before = 0;
    for (const event of EVENTS) {
      layers = applyPullEvent(layers, event);
      const { done } = pullTotals(layers);
      expect(done).toBeGreaterThanOrEqual(before);
      before = done;
    }
  });
});

describe('normalizedReference', () => {
  it('treats a name without a tag as :latest', () => {
    expect(normalizedReference('redis')).toBe('redis:latest');
    expect(normalizedReference('127.0.0.1:5000/sd/app')).toBe('127.0.0.1:5000/sd/app:latest');
    expect(normalizedReference('127.0.0.1:5000/sd/app:2')).toBe('127.0.0.1:5000/sd/app:2');
    expect(normalizedReference(`app@sha256:${'a'.repeat(64)}`)).toBe(`app@sha256:${'a'.repeat(64)}`);
  });
});

describe('registry credentials', () => {
  it('names the registry of a reference, Docker Hub for plain names', () => {
    expect(registryOf('postgres:16')).toBe('https://index.docker.io/v1/');
    expect(registryOf('team/app')).toBe('https://index.docker.io/v1/');
    expect(registryOf('registry.example.org/team/app:1')).toBe('registry.example.org');
    expect(registryOf('127.0.0.1:5000/app')).toBe('127.0.0.1:5000');
    expect(registryOf('localhost/app')).toBe('localhost');
  });

  it('reads a Docker config.json, auth as base64 or username and password', () => {
    const lookup = registryAuths(
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hub:pass').toString('base64') },
          'registry.example.org': { username: 'ci', password: 'token' },
          'broken.example.org': {},
        },
      }),
    );
    expect(lookup('postgres')).toEqual({ username: 'hubuser', password: 'hub:pass', serveraddress: 'https://index.docker.io/v1/' });
    expect(lookup('registry.example.org/team/app:1')).toEqual({ username: 'ci', password: 'token', serveraddress: 'registry.example.org' });
    expect(lookup('broken.example.org/x')).toBeUndefined();
    expect(lookup('elsewhere.example.org/x')).toBeUndefined();
    expect(() => registryAuths('{"credsStore": "desktop"}')).toThrow(/auths/);
  });
});
