import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';

/** Requests sent through HTTP, and raw byte strings written to a socket. Seeded: a failure can be replayed. */
const REQUESTS = 3_000;
const RAW = 200;
const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const PARALLEL = 16;

let h: Harness;
let realId = '';
beforeAll(async () => {
  // Failed logins from the fuzzer would otherwise lock loopback out and hide every route behind a 429.
  h = await startHarness({ SD_LOGIN_MAX_FAILURES: '1000000' });
  const res = await h.http
    .post('/v1/containers')
    .auth(...h.auth)
    .send({ image: TEST_IMAGES.noPorts });
  expect(res.status).toBe(201);
  realId = res.body.container_id as string;
});
afterAll(async () => {
  await h?.close();
});

/** mulberry32: small, seeded, good enough to pick test cases. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  return { next, int, pick, bytes };
}

const STRANGE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'null',
  'undefined',
  'true',
  '-1',
  '1e999',
  '9'.repeat(400),
  'NaN',
  '0x10',
  '1.5',
  ' 3 ',
  '²',
  '../../etc/passwd',
  '%00',
  '%zz',
  '<script>',
  "' OR 1=1 --",
  '${jndi:x}',
  '__proto__',
  'constructor',
  '\u202e',
  '😀',
  'x'.repeat(70_000),
  'a'.repeat(300),
  'spin-docker/demo:latest@sha256:',
  'UPPER/Case',
  'localhost:99999/x',
  ':tag',
  'image::',
];

function strangeValue(r: ReturnType<typeof random>): unknown {
  switch (r.int(9)) {
    case 0:
      return r.pick(STRANGE_STRINGS);
    case 1:
      return r.int(2) === 0 ? -r.int(1e9) : r.next() * 1e308;
    case 2:
      return null;
    case 3:
      return [r.pick(STRANGE_STRINGS), r.int(5)];
    case 4:
      return { $gt: '', nested: { deeper: [r.pick(STRANGE_STRINGS)] } };
    case 5:
      return r.int(2) === 0;
    case 6:
      return JSON.parse('{"__proto__": {"polluted": true}}') as unknown;
    case 7:
      return 'x'.repeat(r.int(5_000));
    default:
      return r.bytes(r.int(40)).toString('latin1');
  }
}

const FIELDS = ['image', 'status', 'active', 'active-connections', 'token', 'audit', '__proto__', 'constructor', 'privileged', ''];
const STATUS_JUNK = ['', 'RUNNING', 'stop', 'deleted', 'running\u0000', 'Stopped', ' stopped', 'x'.repeat(10_000)];

interface Case {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

function makeCase(r: ReturnType<typeof random>, i: number): Case {
  // (A prefix of the real id is a valid short id: the 63-character one here starts differently.)
  const ids = [
    realId,
    realId.toUpperCase(),
    `${realId.startsWith('a') ? 'b' : 'a'}${realId.slice(1, 63)}`,
    `${realId}0`,
    'f'.repeat(64),
    '..%2F..%2Fetc',
    '%zz',
    'x'.repeat(10_000),
    encodeURIComponent(r.pick(STRANGE_STRINGS)),
    '',
  ];
  const paths = [
    '/v1/containers',
    `/v1/containers/${r.pick(ids)}`,
    '/v1/images',
    '/v1/check-in',
    '/v1/containers/',
    '/v1//containers',
    `/v1/containers?audit=${encodeURIComponent(r.pick(STRANGE_STRINGS))}`,
    `/v1/containers?${r.pick(FIELDS)}=${encodeURIComponent(String(strangeValue(r)))}`,
    `/v1/${encodeURIComponent(r.pick(STRANGE_STRINGS))}`,
    '/',
    '/v2/containers',
    `/v1/check-in?active=${encodeURIComponent(String(strangeValue(r)))}`,
  ];
  let path = r.pick(paths);
  let method = r.pick(['GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'CONNECT']);
  // Never a request that could legitimately change the one real container: no stop, no delete of it.
  if (path.includes(realId) && method === 'DELETE') method = 'PUT';
  if (method === 'CONNECT') path = '127.0.0.1:1';

  const headers: Record<string, string> = {};
  const auth = r.int(10);
  if (auth < 7) headers.authorization = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;
  else if (auth === 7)
    headers.authorization = r.pick(['Basic', 'Basic !!!', `Bearer ${'t'.repeat(r.int(3000))}`, `Basic ${Buffer.from('admin').toString('base64')}`, 'Digest x']);
  // A fresh address for every request with wrong credentials, so that the login throttle never delays the run.
  if (auth === 7 || r.int(4) === 0)
    headers['x-forwarded-for'] =
      auth === 7 ? `198.18.${i >> 8}.${i & 255}` : r.pick(['junk', '1.2.3.4, 5.6.7.8', '::ffff:', '999.1.1.1', 'x'.repeat(2000), '']);
  if (r.int(8) === 0)
    headers['x-real-ip'] = r
      .pick(STRANGE_STRINGS)
      .slice(0, 100)
      .replace(/[^\x20-\x7e]/g, '');

  let body: Buffer | undefined;
  const kind = r.int(6);
  if (method !== 'GET' && method !== 'HEAD' && kind > 0) {
    const fields: Record<string, unknown> = {};
    for (let n = r.int(4); n >= 0; n -= 1) fields[r.pick(FIELDS)] = strangeValue(r);
    if (path.includes(realId) && 'status' in fields) fields.status = r.pick(STATUS_JUNK);
    switch (kind) {
      case 1:
        headers['content-type'] = r.pick(['application/json', 'application/json; charset=utf-16', 'application/vnd.x+json']);
        body = Buffer.from(r.int(3) === 0 ? `{"image": ${'['.repeat(r.int(5000))}` : JSON.stringify(fields));
        break;
      case 2:
        headers['content-type'] = 'application/x-www-form-urlencoded';
        body = Buffer.from(
          Object.entries(fields)
            .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
            .join('&') + (r.int(3) === 0 ? '&a=%E0%A4%A&&&==' : ''),
        );
        break;
      case 3:
        headers['content-type'] = r.pick(['text/plain', 'multipart/form-data; boundary=x', 'application/xml', '', '*/*', 'application/json; charset=bogus']);
        body = r.bytes(r.int(2_000));
        break;
      case 4:
        headers['content-type'] = 'application/json';
        body = Buffer.alloc(70_000 + r.int(10_000), 'a');
        break;
      default:
        headers['content-type'] = 'application/json';
        body = r.bytes(r.int(300));
    }
  }
  return { method, path, headers, body };
}

function send(port: number, c: Case): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: c.method, path: c.path, headers: c.headers, timeout: 15_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(res.statusCode ?? 0));
    });
    // The server may refuse to read a body (413) and close early: that is an answer, not a failure.
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' || error.code === 'EPIPE' ? resolve(-1) : reject(error)));
    req.on('timeout', () => req.destroy(new Error(`no answer to ${c.method} ${c.path.slice(0, 80)}`)));
    req.end(c.body);
  });
}

/** Writes bytes that are not HTTP (or barely) and reads the status line of whatever comes back, if anything. */
function sendRaw(port: number, bytes: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    socket.setTimeout(5_000, () => socket.destroy());
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0)));
    socket.end(bytes);
  });
}

function rawCase(r: ReturnType<typeof random>): Buffer {
  switch (r.int(6)) {
    case 0:
      return r.bytes(r.int(500));
    case 1:
      return Buffer.from(`GET /v1/containers HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    case 2:
      return Buffer.from('POST /v1/check-in HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n');
    case 3:
      return Buffer.from('POST /v1/containers HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nimage');
    case 4:
      return Buffer.from(`${r.pick(['GET', 'POST'])} /v1/containers HTTP/1.1\r\nHost: x\r\n${r.bytes(50).toString('latin1')}\r\n\r\n`);
    default:
      return Buffer.from(`GET ${'/v1'.repeat(r.int(5000))} HTTP/1.1\r\n\r\n`);
  }
}

describe('a fuzz pass over every route', () => {
  it(`answers ${REQUESTS} malformed requests and ${RAW} raw byte strings without a 5xx, a crash or a change of state`, async () => {
    const snapshot = async () => ({
      records: await h.worker.store.list(),
      containers: (await h.worker.runtime.listManaged()).map((c) => `${c.id} ${c.running}`),
    });
    const before = await snapshot();
    expect(before.records).toHaveLength(1);

    const r = random(SEED);
    const cases = Array.from({ length: REQUESTS }, (_, i) => makeCase(r, i));
    const raws = Array.from({ length: RAW }, () => rawCase(r));
    const counts = new Map<number, number>();
    const fives: string[] = [];
    const record = (status: number, what: string) => {
      counts.set(status, (counts.get(status) ?? 0) + 1);
      if (status >= 500) fives.push(`${status} ${what.slice(0, 120)}`);
    };
    for (let start = 0; start < cases.length; start += PARALLEL) {
      const batch = cases.slice(start, start + PARALLEL);
      const statuses = await Promise.all(batch.map((c) => send(h.port, c)));
      statuses.forEach((status, k) => record(status, `${batch[k]?.method} ${batch[k]?.path}`));
    }
    for (let start = 0; start < raws.length; start += PARALLEL) {
      const batch = raws.slice(start, start + PARALLEL);
      (await Promise.all(batch.map((bytes) => sendRaw(h.port, bytes)))).forEach((status, k) => record(status, `raw ${batch[k]?.toString('latin1')}`));
    }

    const summary = [...counts.entries()].sort(([a], [b]) => a - b).map(([status, n]) => `${status === -1 ? 'reset' : status === 0 ? 'closed' : status}×${n}`);
    process.stdout.write(
      `fuzz (seed ${SEED}): ${REQUESTS + RAW} tried (${REQUESTS} HTTP requests, ${RAW} raw); answers ${summary.join(' ')}; 5xx: ${fives.length}\n`,
    );
    expect(fives).toEqual([]);
    // Still serving, and nothing changed.
    expect((await h.http.get('/v1/containers').auth(...h.auth)).status).toBe(200);
    expect(await snapshot()).toEqual(before);
  });
});
