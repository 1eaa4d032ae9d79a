import { request } from 'node:http';
import pino from 'pino';
import { RedisEventLog } from '../../src/adapters/redis/event-log.js';
import { withContainerEvents } from '../../src/domain/events.js';
import { launchChromium } from '../../test/support/browser.js';
import { insertRecords, removeRecords, syntheticRecord, type BenchEnv } from '../lib/env.js';
import type { ScenarioReport } from '../lib/report.js';
import { median } from '../lib/stats.js';

/** Counts `event:` frames of GET /v1/events until `count` have come: the stream's own delivery, no page. */
function sseCounter(env: BenchEnv, type: string, count: number): Promise<{ done: Promise<number>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const url = new URL('/v1/events', env.url);
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, headers: { authorization: env.authorization, accept: 'text/event-stream' } });
    req.once('error', reject);
    req.once('response', (res) => {
      let seen = 0;
      let tail = '';
      const done = new Promise<number>((finish) => {
        res.on('data', (chunk: Buffer) => {
          const text = tail + chunk.toString();
          seen += text.split(`event: ${type}\n`).length - 1;
          tail = text.slice(-40);
          if (seen >= count) finish(performance.now());
        });
      });
      resolve({ done, close: () => req.destroy() });
    });
    req.end();
  });
}

/**
 * 8. The dashboard with 1,000 containers, in headless Chromium: the page loaded until all 1,000 rows are
 * there, against the same 1,000-row table given to the browser as finished HTML (the browser's own floor);
 * then 1,000 activity events (one per container) until the page shows every one, against a plain client of
 * GET /v1/events counting the same 1,000 frames (the stream's floor).
 */
export async function dashboardScenario(env: BenchEnv): Promise<ScenarioReport> {
  const n = env.quick ? 200 : 1000;
  const rounds = env.quick ? 1 : 3;
  const records = Array.from({ length: n }, (_, i) => syntheticRecord(i, { nextCheckAt: Date.now() + 3_600_000 }));
  await insertRecords(env, records);
  const log = new RedisEventLog(env.redis, env.prefix, 10_000, pino({ level: 'silent' }));
  const store = withContainerEvents(env.store, log, () => undefined);
  const browser = await launchChromium();
  // The page's policy forbids eval, which Playwright's waitForFunction needs to poll the page: the bench's
  // context sets it aside (what is measured is the page's own work, which the policy does not change).
  const context = await browser.newContext({ extraHTTPHeaders: { authorization: env.authorization }, bypassCSP: true });
  const page = await context.newPage();
  const staticTable = `<table><tbody>${records
    .map(
      (r) =>
        `<tr><td>${r.name}</td><td>${r.image}</td><td><span>running</span></td><td><code>ssh -p 1</code><a href="#">1 → 80/tcp</a></td><td>–</td><td></td><td>in 1 h</td><td><button>Stop</button><button>Logs</button><button>Delete</button></td></tr>`,
    )
    .join('')}</tbody></table>`;

  const load: number[] = [];
  const floor: number[] = [];
  const updates: number[] = [];
  const stream: number[] = [];
  try {
    for (let round = 0; round < rounds; round += 1) {
      let t = performance.now();
      await page.goto(`${env.url}/`);
      // (Page-side checks are strings: this file is compiled without the DOM's types.)
      await page.waitForFunction(`document.querySelectorAll('#containers tbody tr').length === ${n}`, undefined, { timeout: 60_000, polling: 'raf' });
      load.push(performance.now() - t);

      t = performance.now();
      await page.setContent(staticTable);
      await page.waitForFunction(`document.querySelectorAll('tbody tr').length === ${n}`, undefined, { polling: 'raf' });
      floor.push(performance.now() - t);

      await page.goto(`${env.url}/`);
      await page.waitForFunction(
        `document.querySelectorAll('#containers tbody tr').length === ${n} && document.querySelector('#live').textContent === 'live'`,
        undefined,
        { timeout: 60_000, polling: 'raf' },
      );
      const counter = await sseCounter(env, 'container.activity', n);
      const connections = String(round + 1);
      t = performance.now();
      for (let i = 0; i < n; i += 100) {
        await Promise.all(records.slice(i, i + 100).map((r) => store.transition(r.id, {}, { connections: round + 1 })));
      }
      await page.waitForFunction(
        `[...document.querySelectorAll('#containers tbody td.connections')].filter((td) => td.textContent === '${connections}').length === ${n}`,
        undefined,
        { timeout: 60_000, polling: 'raf' },
      );
      updates.push(performance.now() - t);
      stream.push((await counter.done) - t);
      counter.close();
    }
  } finally {
    await browser.close();
    await removeRecords(
      env,
      records.map((r) => r.id),
    );
  }
  const [l, f, u, s] = [median(load), median(floor), median(updates), median(stream)];
  return {
    name: `8. Dashboard, ${n} containers`,
    note:
      `Headless Chromium (Debian's) through playwright-core, ${rounds} round(s), medians in ms. Load: from navigation until all ${n} rows are in the page ` +
      `(the page's list request, its script, the rows), vs the same table handed to the browser as HTML. Updates: ${n} activity events written ` +
      `through the store (one per container, in batches of 100) until the page shows every new count, vs a plain client of /v1/events receiving the same ${n} frames.`,
    header: ['', 'dashboard ms', 'floor ms', '× floor'],
    rows: [
      [`load, ${n} rows`, l, f, l / f],
      [`${n} activity events shown`, u, s, u / s],
    ],
    figures: { loadMs: l, staticTableMs: f, updatesMs: u, streamMs: s },
    aims: [
      { aim: `load within 1 s at ${n} containers`, met: l < 1000, detail: `${l.toFixed(0)} ms` },
      { aim: `${n} events shown within 1.5 × the stream's own delivery`, met: u <= 1.5 * s, detail: `× ${(u / s).toFixed(2)}` },
    ],
  };
}
