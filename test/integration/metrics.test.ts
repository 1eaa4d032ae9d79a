import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerRecord } from '../../src/domain/containers/record.js';
import { aRecord } from '../fakes/engine.js';
import { keyPrefix } from '../../src/adapters/redis/keys.js';
import { startHarness, type Harness } from '../support/harness.js';
import { sample } from '../support/prom.js';

/** GET /metrics of the API: check-ins by result, requests by route, and who may scrape. */
let h: Harness;
let open: Harness;
beforeAll(async () => {
  h = await startHarness({}, { worker: false });
  open = await startHarness({ SD_METRICS_PUBLIC: 'true' }, { worker: false });
});
afterAll(async () => {
  await h?.close();
  await open?.close();
});

describe('GET /metrics', () => {
  it('counts check-ins by result', async () => {
    const before = (await h.http.get('/metrics').auth(...h.auth)).text;
    await h.http.post('/v1/check-in').send({ 'active-connections': '1' }); // from the host: no such container
    await h.http.post('/v1/check-in').send({ 'active-connections': 'many' });
    await h.http.post('/v1/check-in').send({ 'active-connections': '1' }).set('Authorization', 'Bearer not-a-token');
    const after = (await h.http.get('/metrics').auth(...h.auth)).text;
    const delta = (result: string) => sample(after, 'spin_docker_checkins_total', { result }) - (sample(before, 'spin_docker_checkins_total', { result }) || 0);
    expect([delta('unknown'), delta('invalid'), delta('refused')]).toEqual([1, 1, 1]);
  });

  it('labels requests by route, never by id, and unmatched paths as one', async () => {
    await h.http.get(`/v1/containers/${'ab'.repeat(32)}`).auth(...h.auth);
    await h.http.get('/no/such/path/42').auth(...h.auth);
    const text = (await h.http.get('/metrics').auth(...h.auth)).text;
    expect(sample(text, 'spin_docker_http_request_duration_seconds_count', { route: '/v1/containers/:id', status: '404' })).toBe(1);
    expect(sample(text, 'spin_docker_http_request_duration_seconds_count', { route: 'unmatched', status: '404' })).toBe(1);
    expect(text).not.toMatch(/abababab|\/no\/such/);
  });

  it('labels engine calls by operation only: two pulls of two references make one series, naming neither', async () => {
    const worker = await startHarness();
    try {
      for (const image of ['127.0.0.1:9/first/app:1', '127.0.0.1:9/second/app:2']) {
        const res = await worker.http
          .post('/v1/images')
          .auth(...worker.auth)
          .send({ image });
        await expect
          .poll(async () => (await worker.http.get(`/v1/images/pulls/${res.body.pull_id}`).auth(...worker.auth)).body.status, { timeout: 20_000 })
          .toBe('failed');
      }
      const text = await worker.worker.metrics.registry.metrics();
      expect(sample(text, 'spin_docker_engine_call_duration_seconds_count', { operation: 'pull image', outcome: 'error' })).toBe(2);
      expect(text).not.toMatch(/first\/app|second\/app/);
    } finally {
      await worker.close();
    }
  });

  it('counts containers by status from the counts every write keeps: a scrape reads one hash, however many records there are', async () => {
    const record = (i: number): ContainerRecord =>
      aRecord(randomBytes(32).toString('hex'), { name: `/metrics-${i}`, createdAt: Date.now(), tokenHash: randomBytes(32).toString('hex') });
    const store = open.api.store;
    const records = Array.from({ length: 300 }, (_, i) => record(i));
    for (const r of records) await store.insert(r);
    for (const r of records.slice(0, 200)) await store.transition(r.id, { from: ['running'] }, { status: 'stopping' });
    for (const r of records.slice(0, 120)) await store.transition(r.id, { from: ['stopping'] }, { status: 'stopped' });
    for (const r of records.slice(0, 20)) await store.remove(r.id);
    const redis = open.api.redis;
    const calls = async () => {
      const stats = await redis.info('commandstats');
      const count = (command: string) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
      return { evalsha: count('evalsha'), hgetall: count('hgetall') };
    };
    const before = await calls();
    const text = (await open.http.get('/metrics')).text;
    const after = await calls();
    const gauge = (status: string) => sample(text, 'spin_docker_containers', { status });
    expect([gauge('running'), gauge('stopping'), gauge('stopped'), gauge('deleting')]).toEqual([100, 80, 100, 0]);
    // One HGETALL of the counts (the INFO calls around it are not counted), and no script over the records.
    expect({ evalsha: after.evalsha - before.evalsha, hgetall: after.hgetall - before.hgetall }).toEqual({ evalsha: 0, hgetall: 1 });

    // Counts that drifted (a record changed by hand) are made right by a recount (each reconciliation pass makes one).
    await redis.hset(`${keyPrefix(open.instance)}counts`, 'running', '999');
    await redis.hset(`${keyPrefix(open.instance)}c:${records[299]?.id}`, 'status', 'stopped');
    await open.api.store.recount();
    expect(await open.api.store.countByStatus()).toMatchObject({ running: 99, stopping: 80, stopped: 101 });
    for (const r of records.slice(20)) await store.remove(r.id);
    expect(await open.api.store.countByStatus()).toEqual({ running: 0, stopping: 0, stopped: 0, deleting: 0 });
  });

  it('needs Basic auth unless SD_METRICS_PUBLIC=true', async () => {
    expect((await h.http.get('/metrics')).status).toBe(401);
    const res = await open.http.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/^# TYPE spin_docker_containers gauge$/m);
  });
});
