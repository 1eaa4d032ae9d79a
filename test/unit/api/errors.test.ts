import express from 'express';
import { pino } from 'pino';
import supertest from 'supertest';
import { describe, expect, it } from 'vitest';
import { errorHandler, methodNotAllowed } from '../../../src/api/middleware/errors.js';
import { DomainError, type ErrorKind } from '../../../src/domain/errors.js';

/** An app that throws what it is told to, behind the one error table. */
function appThrowing(error: unknown, exposeDetails = false) {
  const app = express();
  app.use(express.json());
  app.post('/', () => {
    throw error;
  });
  app.all('/only-get', methodNotAllowed(['GET']));
  app.use(errorHandler(pino({ level: 'silent' }), { exposeDetails }));
  return supertest(app);
}

describe('the error table', () => {
  it.each<[ErrorKind, number]>([
    ['invalid', 400],
    ['too_large', 413],
    ['forbidden', 403],
    ['not_found', 404],
    ['method_not_allowed', 405],
    ['conflict', 409],
    ['rate_limited', 429],
    ['unavailable', 503],
    ['internal', 500],
  ])('answers %s with %i and the error body', async (kind, status) => {
    const res = await appThrowing(new DomainError(kind, `some_${kind}`, 'Said in words', { retryAfterSeconds: 7 })).post('/');
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ message: kind === 'internal' ? 'Internal server error' : 'Said in words', code: `some_${kind}` });
    if (kind === 'rate_limited' || kind === 'unavailable') expect(res.headers['retry-after']).toBe('7');
  });

  it('gives an unavailable without a time of its own Retry-After 5, and a wrong method its Allow', async () => {
    expect((await appThrowing(new DomainError('unavailable', 'docker_unavailable', 'away')).post('/')).headers['retry-after']).toBe('5');
    const wrong = await appThrowing(null).delete('/only-get');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('GET');
  });

  it("turns body-parser's errors into the client's 400 and 413, and anything unknown into a 500 that says nothing", async () => {
    const bad = await appThrowing(null).post('/').set('content-type', 'application/json').send('{not json');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_json');
    const unknown = await appThrowing(new Error('secret detail')).post('/');
    expect(unknown.status).toBe(500);
    expect(unknown.body).toEqual({ message: 'Internal server error', code: 'internal' });
  });
});
