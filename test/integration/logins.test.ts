import { Redis } from 'ioredis';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { buildDeps } from '../../src/bootstrap/deps.js';
import { createLogger } from '../../src/bootstrap/logger.js';
import { loadConfig } from '../../src/config/env.js';
import { PASSWORD, startHarness, testRedisUrl } from '../support/harness.js';

/** Failed logins: slowed, then refused per client, with a global budget, counted in Redis for every API process. */
let redis: Redis;
beforeAll(() => {
  redis = new Redis(testRedisUrl());
});
afterAll(async () => {
  await redis?.quit();
});

describe('failed logins', () => {
  it('are slowed, then refused with 429 for that address only, even with the right password', async () => {
    const guarded = await startHarness({ SD_LOGIN_MAX_FAILURES: '5', SD_LOGIN_LOCKOUT: '60' });
    try {
      // Two clients behind the trusted proxy (loopback), told apart by X-Forwarded-For, as nginx forwards them.
      const as = (address: string, password: string) => guarded.http.get('/v1/images').set('X-Forwarded-For', address).auth('admin', password);
      const times: number[] = [];
      const statuses: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const started = Date.now();
        statuses.push((await as('198.51.100.7', `guess-${i}`)).status);
        times.push(Date.now() - started);
      }
      expect(statuses).toEqual([401, 401, 401, 401, 429]);
      // The 4th failure is held back (250 ms by default); the first ones are not.
      expect(times[3]).toBeGreaterThanOrEqual(240);

      const refused = await as('198.51.100.7', guarded.auth[1]);
      expect(refused.status).toBe(429);
      expect(refused.body.code).toBe('too_many_failed_logins');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);

      expect((await as('198.51.100.8', guarded.auth[1])).status).toBe(200);
      expect((await guarded.http.get('/v1/images').auth(...guarded.auth)).status).toBe(200);
      // A request without credentials is the normal first step of a client, not a failed login.
      for (let i = 0; i < 6; i += 1) expect((await guarded.http.get('/v1/images').set('X-Forwarded-For', '198.51.100.9')).status).toBe(401);
      expect((await as('198.51.100.9', guarded.auth[1])).status).toBe(200);
    } finally {
      await guarded.close();
    }
  });

  it('count from a client that has just logged in, whose next requests skip the throttle (the common path)', async () => {
    const guarded = await startHarness({ SD_LOGIN_MAX_FAILURES: '3', SD_LOGIN_LOCKOUT: '60' });
    try {
      const as = (password: string) => guarded.http.get('/v1/images').set('X-Forwarded-For', '198.51.100.20').auth('admin', password);
      expect((await as(guarded.auth[1])).status).toBe(200);
      expect((await as(guarded.auth[1])).status).toBe(200);
      // Within the second it is known clean, the right password is let through at once; a wrong one is not.
      expect([(await as('guess-1')).status, (await as('guess-2')).status, (await as('guess-3')).status]).toEqual([401, 401, 429]);
      expect((await as(guarded.auth[1])).status).toBe(429);
      // The same credentials written another way (lower-case scheme, spaces) take the whole way and pass too.
      const other = await guarded.http
        .get('/v1/images')
        .set('X-Forwarded-For', '198.51.100.21')
        .set('Authorization', `basic  ${Buffer.from(`admin:${guarded.auth[1]}`).toString('base64')}`);
      expect(other.status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});

describe('failed logins, counted in Redis', () => {
  const instance = `test-login-${process.pid}`;
  const apps: Awaited<ReturnType<typeof buildDeps>>[] = [];
  const apiProcess = async (env: Record<string, string> = {}) => {
    const config = loadConfig({
      SD_PASSWORD: PASSWORD,
      SD_INSTANCE: instance,
      SD_ENVIRONMENT: 'test',
      SD_LOG_LEVEL: 'silent',
      REDIS_URL: testRedisUrl(),
      SD_LOGIN_MAX_FAILURES: '4',
      SD_LOGIN_LOCKOUT: '60',
      ...env,
    });
    const deps = await buildDeps(config, createLogger('silent', 'test'), { role: 'api', checkinUrl: 'http://127.0.0.1:1/v1/check-in' });
    apps.push(deps);
    const http = supertest(buildApp(deps));
    return (address: string, password: string) => http.get('/v1/containers').set('X-Forwarded-For', address).auth('admin', password);
  };
  const clearLogins = async () => {
    const keys = await redis.keys(`spin-docker:${instance}:login*`);
    if (keys.length > 0) await redis.del(...keys);
  };
  afterAll(async () => {
    await clearLogins();
    await Promise.all(apps.map((deps) => deps.close()));
  });

  it('are shared by every API process and survive a restart', async () => {
    await clearLogins();
    const [one, two] = [await apiProcess(), await apiProcess()];
    expect((await one('198.51.100.20', 'guess-1')).status).toBe(401);
    expect((await two('198.51.100.20', 'guess-2')).status).toBe(401);
    expect((await one('198.51.100.20', 'guess-3')).status).toBe(401);
    expect((await two('198.51.100.20', 'guess-4')).status).toBe(429);
    // A process started afterwards (a restart) knows it too, also for the right password.
    const restarted = await apiProcess();
    const refused = await restarted('198.51.100.20', PASSWORD);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(50);
    expect((await restarted('198.51.100.21', PASSWORD)).status).toBe(200);
  });

  it('count an IPv6 client by its /64, so that it cannot rotate through its addresses', async () => {
    await clearLogins();
    const as = await apiProcess();
    for (const [i, suffix] of ['1', '2', 'abcd:1', 'ffff:ffff:fff0'].entries()) {
      expect((await as(`2001:db8:7:7::${suffix}`, `guess-${i}`)).status).toBe(i < 3 ? 401 : 429);
    }
    expect((await as('2001:db8:7:7::99', PASSWORD)).status).toBe(429);
    expect((await as('2001:db8:7:8::1', PASSWORD)).status).toBe(200);
  });

  it('have a global budget: guesses spread over many addresses are refused too once it is spent', async () => {
    await clearLogins();
    const as = await apiProcess({ SD_LOGIN_GLOBAL_MAX_FAILURES: '6' });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i += 1) statuses.push((await as(`203.0.113.${i + 1}`, 'guess')).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429, 429]);
    // Nobody logs in until the window ends, not even with the right password from a new address.
    const res = await as('203.0.113.100', PASSWORD);
    expect(res.status).toBe(429);
    expect(res.body.code).toBe('too_many_failed_logins');
    await clearLogins();
    expect((await as('203.0.113.100', PASSWORD)).status).toBe(200);
  });
});
