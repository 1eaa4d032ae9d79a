import express from 'express';
import { pino } from 'pino';
import supertest from 'supertest';
import { describe, expect, it, vi } from 'vitest';
import { basicAuth } from '../../../src/api/middleware/auth.js';
import { errorHandler } from '../../../src/api/middleware/errors.js';
import type { LoginStanding, LoginThrottle, LoginVerdict } from '../../../src/domain/ports.js';

/**
 * A throttle in memory that counts what it is asked; `locked` refuses every client, and `holdStanding` keeps the
 * answer of the next standing read (as it was when asked) until released: a slow Redis.
 */
function fakeThrottle() {
  const calls = { standing: 0, fail: 0, succeed: 0 };
  const state = { locked: false, failures: 0 };
  let hold: Promise<void> | undefined;
  const throttle: LoginThrottle = {
    async standing(): Promise<LoginStanding> {
      calls.standing += 1;
      const answer: LoginStanding = state.locked ? { kind: 'refuse', retryAfterSeconds: 60 } : { kind: 'allow', failures: state.failures };
      const held = hold;
      hold = undefined;
      await held;
      return answer;
    },
    async fail(): Promise<LoginVerdict> {
      calls.fail += 1;
      state.failures += 1;
      if (state.failures >= 3) state.locked = true;
      return state.locked ? { kind: 'refuse', retryAfterSeconds: 60 } : { kind: 'allow', delayMs: 0 };
    },
    async succeed() {
      calls.succeed += 1;
      state.failures = 0;
    },
  };
  const holdStanding = () => {
    let release = () => undefined as void;
    hold = new Promise<void>((resolve) => (release = resolve));
    return release;
  };
  return { throttle, calls, state, holdStanding };
}

function appBehind(throttle: LoginThrottle, cleanForMs = 60_000) {
  const app = express();
  app.use(basicAuth('pw', throttle, { cleanForMs }));
  app.get('/', (_req, res) => {
    res.json({ ok: true });
  });
  app.use(errorHandler(pino({ level: 'silent' }), { exposeDetails: false }));
  return supertest(app);
}

const canonical = `Basic ${Buffer.from('admin:pw').toString('base64')}`;

describe('basicAuth', () => {
  it('asks the throttle once for a client that logged in cleanly, then lets its canonical header through', async () => {
    const { throttle, calls } = fakeThrottle();
    const http = appBehind(throttle);
    for (let i = 0; i < 5; i += 1) expect((await http.get('/').set('Authorization', canonical)).status).toBe(200);
    expect(calls).toEqual({ standing: 1, fail: 0, succeed: 0 });
  });

  it('never renews a clean mark on the mark alone: a header written another way is asked about again once it is gone', async () => {
    const { throttle, calls, state } = fakeThrottle();
    const http = appBehind(throttle, 100);
    const other = `basic  ${Buffer.from('admin:pw').toString('base64')}`;
    // Asked about every 40 ms for 320 ms: the mark of the first request runs out, and the throttle is asked again.
    for (let i = 0; i < 8; i += 1) {
      expect((await http.get('/').set('Authorization', other)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    expect(calls.standing).toBeGreaterThan(1);
    // So a lockout recorded elsewhere reaches such a client within the mark's time.
    state.locked = true;
    await new Promise((resolve) => setTimeout(resolve, 110));
    expect((await http.get('/').set('Authorization', other)).status).toBe(429);
    expect((await http.get('/').set('Authorization', canonical)).status).toBe(429);
  });

  it('does not mark a client clean on a standing read that a failure overtook', async () => {
    const { throttle, calls, holdStanding } = fakeThrottle();
    const http = appBehind(throttle);
    // The right password's standing read is slow; three wrong guesses lock the client meanwhile.
    const release = holdStanding();
    const slow = http
      .get('/')
      .set('Authorization', canonical)
      .then((res) => res.status);
    await vi.waitFor(() => expect(calls.standing).toBe(1));
    const guesses = [];
    for (let i = 0; i < 3; i += 1) guesses.push((await http.get('/').auth('admin', `guess-${i}`)).status);
    expect(guesses).toEqual([401, 401, 429]);
    // The slow one read "no failures" before the guesses: it passes, but leaves no clean mark behind.
    release();
    expect(await slow).toBe(200);
    expect((await http.get('/').set('Authorization', canonical)).status).toBe(429);
    expect(calls.fail).toBe(3);
  });

  it('counts a wrong password from a clean client, and not a request without credentials', async () => {
    const { throttle, calls } = fakeThrottle();
    const http = appBehind(throttle);
    expect((await http.get('/').set('Authorization', canonical)).status).toBe(200);
    expect((await http.get('/').auth('admin', 'wrong')).status).toBe(401);
    expect(calls.fail).toBe(1);
    // The failure ended the clean mark: the next request asks the throttle again.
    expect((await http.get('/').set('Authorization', canonical)).status).toBe(200);
    expect(calls.standing).toBe(2);
    expect(calls.succeed).toBe(1);
    const before = calls.standing;
    const res = await http.get('/');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Basic realm="spin-docker"');
    expect(calls.fail).toBe(1);
    expect(calls.standing).toBe(before + 1);
  });
});
