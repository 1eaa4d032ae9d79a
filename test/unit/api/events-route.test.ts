import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { eventsRoutes } from '../../../src/api/routes/events.routes.js';
import { MemoryEventLog } from '../../fakes/event-log.js';

/** GET /v1/events while a client catches up from Last-Event-ID: what waits for it is bounded, in count and in time. */
let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** A log whose catch-up read answers only when told to (a slow Redis, a long history). */
class SlowLog extends MemoryEventLog {
  release: () => void = () => undefined;
  reads = 0;
  override async after(eventId: string, count: number) {
    this.reads += 1;
    await new Promise<void>((resolve) => (this.release = resolve));
    return super.after(eventId, count);
  }
}

async function serve(log: MemoryEventLog, options: { maxQueued?: number; catchUpMs?: number }): Promise<number> {
  const app = express();
  app.use('/v1/events', eventsRoutes(log, { heartbeatMs: 60_000, ...options }));
  server = createServer(app);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Opens the stream from `lastEventId`; resolves with what it got once the server ends it. */
function follow(port: number, lastEventId: string): { ended: Promise<string>; opened: Promise<void>; text: () => string; stop: () => void } {
  let opened!: () => void;
  const openedPromise = new Promise<void>((resolve) => (opened = resolve));
  let text = '';
  let stop = () => undefined as void;
  const ended = new Promise<string>((resolve) => {
    const req = get({ port, host: '127.0.0.1', path: '/v1/events', headers: { 'last-event-id': lastEventId } }, (res) => {
      opened();
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('close', () => resolve(text));
    });
    stop = () => req.destroy();
    req.on('error', () => resolve(text));
  });
  return { ended, opened: openedPromise, text: () => text, stop };
}

const event = (i: number) => ({ type: 'container.deleted', id: String(i).padStart(64, '0'), at: i }) as never;

describe('a client catching up', () => {
  it('is cut off (and resumes) when more live events wait for it than the cap', async () => {
    const log = new SlowLog();
    for (let i = 0; i < 3; i += 1) await log.publish(event(i));
    const port = await serve(log, { maxQueued: 5, catchUpMs: 60_000 });
    const stream = follow(port, '1-0');
    await stream.opened;
    // Live events come while the catch-up read is still out: six is one more than may wait.
    for (let i = 0; i < 6; i += 1) await log.publish(event(10 + i));
    const got = await stream.ended;
    expect(got).toMatch(/^retry: 2000/);
    expect(got).not.toMatch(/^id:/m);
  });

  it('is cut off when the catch-up takes longer than its deadline, and keeps everything under the cap otherwise', async () => {
    const log = new SlowLog();
    for (let i = 0; i < 3; i += 1) await log.publish(event(i));
    const port = await serve(log, { maxQueued: 5, catchUpMs: 300 });
    const late = follow(port, '1-0');
    await late.opened;
    // The read never answers: the deadline ends the stream.
    expect(await late.ended).not.toMatch(/^id:/m);

    const fine = follow(port, '1-0');
    await expect.poll(() => log.reads).toBe(2);
    await log.publish(event(20));
    log.release();
    // What it missed, then what came meanwhile, in order, past the deadline: a catch-up in time is not cut off.
    await expect.poll(() => [...fine.text().matchAll(/^id: (\S+)$/gm)].map((m) => m[1])).toEqual(['2-0', '3-0', '4-0']);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await log.publish(event(21));
    await expect.poll(() => [...fine.text().matchAll(/^id: (\S+)$/gm)].map((m) => m[1])).toEqual(['2-0', '3-0', '4-0', '5-0']);
    fine.stop();
  });
});
