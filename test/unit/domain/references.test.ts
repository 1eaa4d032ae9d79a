import { describe, expect, it } from 'vitest';
import { imageAllowed, parseReference, registryRefusal } from '../../../src/domain/images/references.js';

describe('parseReference', () => {
  it.each([
    ['postgres', { registry: 'docker.io', repository: 'library/postgres', tag: 'latest' }],
    ['postgres:15', { registry: 'docker.io', repository: 'library/postgres', tag: '15' }],
    ['spin-docker/base', { registry: 'docker.io', repository: 'spin-docker/base', tag: 'latest' }],
    ['postgres:443/evil/app', { registry: 'postgres:443', repository: 'evil/app', tag: 'latest' }],
    ['127.0.0.1:5000/team/app:1', { registry: '127.0.0.1:5000', repository: 'team/app', tag: '1' }],
    ['localhost/app', { registry: 'localhost', repository: 'app', tag: 'latest' }],
    ['[::1]:5000/app:2', { registry: '[::1]:5000', repository: 'app', tag: '2' }],
    ['Registry.Example.com/a/b@sha256:abc', { registry: 'registry.example.com', repository: 'a/b', tag: 'sha256:abc' }],
  ])('%s', (reference, parts) => {
    expect(parseReference(reference)).toEqual(parts);
  });
});

describe('imageAllowed', () => {
  it('matches patterns with * against the reference, a tagless one also as :latest', () => {
    expect(imageAllowed('anything/at:all', ['*'])).toBe(true);
    expect(imageAllowed('127.0.0.1:5000/x', ['*'])).toBe(true);
    expect(imageAllowed('spin-docker/demo', ['spin-docker/*'])).toBe(true);
    expect(imageAllowed('spin-docker/demo:2', ['spin-docker/*'])).toBe(true);
    expect(imageAllowed('spin-docker/demo', ['spin-docker/demo:latest'])).toBe(true);
    expect(imageAllowed('spin-docker/demo:2', ['spin-docker/demo:latest'])).toBe(false);
    expect(imageAllowed('127.0.0.1:5000/team/app:1', ['127.0.0.1:5000/team/*'])).toBe(true);
    expect(imageAllowed('evil/spin-docker', ['spin-docker/*'])).toBe(false);
    expect(imageAllowed('postgres', ['redis', 'postgres:*'])).toBe(true);
    expect(imageAllowed('docker.io/library/postgres:15', ['postgres:*'])).toBe(true);
    expect(imageAllowed('postgres', [])).toBe(false);
    // A name without a tag means :latest on either side.
    expect(imageAllowed('redis:latest', ['redis'])).toBe(true);
    expect(imageAllowed('redis:7', ['redis'])).toBe(false);
    // Regex characters in a pattern are plain characters.
    expect(imageAllowed('aXb', ['a.b'])).toBe(false);
  });

  it('never lets a * reach from one part into another: registry, repository and tag are matched apart', () => {
    // The tag pattern of Docker Hub's postgres does not admit a registry named postgres.
    expect(imageAllowed('postgres:443/evil/app', ['postgres:*'])).toBe(false);
    expect(imageAllowed('postgres:443/evil/app:1', ['postgres:*'])).toBe(false);
    // A repository pattern on Docker Hub admits nothing of another registry.
    expect(imageAllowed('evil.example:5000/spin-docker/base', ['spin-docker/*'])).toBe(false);
    expect(imageAllowed('spin-docker.evil.example/base', ['spin-docker*'])).toBe(false);
    // A registry pattern stays in the registry.
    expect(imageAllowed('a.registry.example/app', ['*.registry.example/*'])).toBe(true);
    expect(imageAllowed('registry.example.evil/app', ['*.registry.example/*'])).toBe(false);
    expect(imageAllowed('x.registry.example:5000/app', ['*.registry.example/*'])).toBe(false);
  });
});

describe('registryRefusal', () => {
  it('refuses registries on the host itself or link-local, named or resolved, unless listed', () => {
    for (const registry of [
      '127.0.0.1:5000',
      'localhost:5000',
      'localhost',
      'foo.localhost',
      '[::1]:5000',
      '169.254.169.254',
      '0.0.0.0:80',
      '[fe80::1]:5000',
    ]) {
      expect(registryRefusal(registry, []), registry).toMatch(/SD_ALLOWED_REGISTRIES/);
    }
    expect(registryRefusal('127.0.0.1:5000', ['127.0.0.1:5000'])).toBeNull();
    expect(registryRefusal('127.0.0.1:5001', ['127.0.0.1:5000'])).not.toBeNull();
    expect(registryRefusal('127.0.0.1:5001', ['127.0.0.1:*'])).toBeNull();
    expect(registryRefusal('127.0.0.2:5001', ['127.0.0.1:*'])).not.toBeNull();
    expect(registryRefusal('registry.example', [], ['10.0.0.5'])).toBeNull();
    expect(registryRefusal('docker.io', [])).toBeNull();
    expect(registryRefusal('rebind.example', [], ['127.0.0.2'])).toMatch(/this host/);
  });
});
