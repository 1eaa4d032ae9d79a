import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/env.js';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      password: 'spindocker',
      environment: 'development',
      disableTimeouts: false,
      initialTimeoutInterval: 7200,
      timeoutInterval: 1800,
      stopTimeout: 10,
      dockerHost: 'unix:///var/run/docker.sock',
      redisUrlGiven: false,
      redisUrl: 'redis://127.0.0.1:6380',
      trustedProxies: ['loopback'],
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['yes', true],
    ['on', true],
    ['false', false],
    ['False', false],
    ['0', false],
    ['no', false],
    ['off', false],
    ['', false],
  ])('reads SD_DISABLE_TIMEOUTS=%j as %s', (value, expected) => {
    expect(loadConfig({ SD_DISABLE_TIMEOUTS: value }).disableTimeouts).toBe(expected);
  });

  it.each([
    ['SD_DISABLE_TIMEOUTS', 'sometimes'],
    ['SD_PORT', 'eighty'],
    ['SD_PORT', '70000'],
    ['SD_TIMEOUT_INTERVAL', '0'],
    ['SD_INITIAL_TIMEOUT_INTERVAL', '-5'],
    ['SD_INITIAL_TIMEOUT_INTERVAL', '1.5'],
    ['SD_ENVIRONMENT', 'staging'],
    ['REDIS_URL', 'not a url'],
    ['SD_INSTANCE', 'Has Spaces'],
  ])('refuses %s=%j with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrowError(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrowError(new RegExp(name));
  });

  it('refuses to run in production with the default password', () => {
    expect(() => loadConfig({ SD_ENVIRONMENT: 'production' })).toThrowError(/SD_PASSWORD/);
    expect(() => loadConfig({ SD_ENVIRONMENT: 'production', SD_PASSWORD: '' })).toThrowError(/SD_PASSWORD/);
    expect(loadConfig({ SD_ENVIRONMENT: 'production', SD_PASSWORD: 's3cret' }).password).toBe('s3cret');
  });

  it('reads a list of trusted proxies, and none', () => {
    expect(loadConfig({ SD_TRUSTED_PROXIES: 'loopback, 10.0.0.0/8' }).trustedProxies).toEqual(['loopback', '10.0.0.0/8']);
    expect(loadConfig({ SD_TRUSTED_PROXIES: 'none' }).trustedProxies).toEqual([]);
  });

  it('has safe defaults: the default password known as such, 100 containers, one proxy header, a network of its own', () => {
    expect(loadConfig({}).defaultPassword).toBe(true);
    expect(loadConfig({ SD_PASSWORD: 'mine-and-long' }).defaultPassword).toBe(false);
    expect(loadConfig({}).maxContainers).toBe(100);
    expect(loadConfig({ SD_MAX_CONTAINERS: '0' }).maxContainers).toBe(0);
    expect(loadConfig({}).proxyHeader).toBe('x-forwarded-for');
    expect(loadConfig({ SD_PROXY_HEADER: 'x-real-ip' }).proxyHeader).toBe('x-real-ip');
    expect(() => loadConfig({ SD_PROXY_HEADER: 'forwarded' })).toThrowError(/SD_PROXY_HEADER/);
    expect(loadConfig({}).network).toBe('spin-docker');
    expect(loadConfig({}).allowedRegistries).toEqual([]);
    expect(loadConfig({ SD_ALLOWED_REGISTRIES: 'Localhost:5000, 127.0.0.1:*' }).allowedRegistries).toEqual(['localhost:5000', '127.0.0.1:*']);
  });

  it('uses REDIS_URL when given', () => {
    expect(loadConfig({ REDIS_URL: 'redis://redis:6379/2' })).toMatchObject({ redisUrl: 'redis://redis:6379/2', redisUrlGiven: true });
  });

  it('holds containers to limits by default, reads sizes as Docker does, and 0 means none', () => {
    const logs = { logMaxSize: '10m', logMaxFiles: 3 };
    expect(loadConfig({}).containerLimits).toEqual({ pids: 512, memory: 2 * 1024 ** 3, cpus: 1, ...logs });
    expect(loadConfig({ SD_CONTAINER_MEMORY: '512m', SD_CONTAINER_CPUS: '0.5', SD_CONTAINER_PIDS_LIMIT: '64' }).containerLimits).toEqual({
      pids: 64,
      memory: 512 * 1024 ** 2,
      cpus: 0.5,
      ...logs,
    });
    expect(loadConfig({ SD_CONTAINER_MEMORY: '0', SD_CONTAINER_CPUS: '0', SD_CONTAINER_PIDS_LIMIT: '0' }).containerLimits).toEqual({
      pids: 0,
      memory: 0,
      cpus: 0,
      ...logs,
    });
    expect(loadConfig({ SD_CONTAINER_LOG_MAX_SIZE: '50M', SD_CONTAINER_LOG_MAX_FILES: '5' }).containerLimits).toMatchObject({
      logMaxSize: '50m',
      logMaxFiles: 5,
    });
    for (const bad of ['10', '10t', '0m']) expect(() => loadConfig({ SD_CONTAINER_LOG_MAX_SIZE: bad })).toThrowError(/SD_CONTAINER_LOG_MAX_SIZE/);
    for (const bad of ['lots', '1t', '-1g', '1k']) expect(() => loadConfig({ SD_CONTAINER_MEMORY: bad })).toThrowError(/SD_CONTAINER_MEMORY/);
    expect(() => loadConfig({ SD_PUBLISH_ADDRESS: 'example.org' })).toThrowError(/SD_PUBLISH_ADDRESS/);
    expect(loadConfig({ SD_PUBLISH_ADDRESS: '127.0.0.1' }).publishAddress).toBe('127.0.0.1');
  });

  it('has containers check in on SD_PORT unless SD_CHECKIN_PORT says otherwise (a port mapping)', () => {
    expect(loadConfig({ SD_PORT: '8080' }).checkinPort).toBe(8080);
    expect(loadConfig({ SD_PORT: '8080', SD_CHECKIN_PORT: '9090' }).checkinPort).toBe(9090);
  });

  it('gives Docker calls 30 s and allows 1,000 failed logins in all per lockout window by default', () => {
    expect(loadConfig({})).toMatchObject({ dockerTimeout: 30, loginGlobalMaxFailures: 1000 });
  });
});
