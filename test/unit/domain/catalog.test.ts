import { describe, expect, it, vi } from 'vitest';
import { createImageCatalog } from '../../../src/domain/images/catalog.js';

/** An engine whose image stream the test opens, breaks and fills; `lists` counts the engine's listings, `watches` its streams opened. */
function fakeEngine() {
  const engine = {
    images: ['a:1'],
    lists: 0,
    watches: 0,
    up: true,
    notify: (): void => undefined,
    lose: (): void => undefined,
    async listImages() {
      engine.lists += 1;
      if (!engine.up) throw new Error('engine away');
      return [...engine.images];
    },
    async watchImages(onChange: () => void, signal: AbortSignal) {
      if (!engine.up) throw new Error('engine away');
      engine.watches += 1;
      engine.notify = onChange;
      const closed = new Promise<void>((resolve) => {
        engine.lose = resolve;
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      return { closed };
    },
  };
  return engine;
}

const quiet = { warn: () => undefined };
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('the image catalog', () => {
  it('serves the images from memory while it follows the engine, and lists again on each event', async () => {
    const engine = fakeEngine();
    const catalog = createImageCatalog({ runtime: engine, logger: quiet, maxRetryMs: 10 });
    await catalog.list();
    await settle();
    const listed = engine.lists;
    expect(await catalog.list()).toEqual(['a:1']);
    expect(await catalog.list()).toEqual(['a:1']);
    expect(engine.lists).toBe(listed);
    engine.images = ['a:1', 'b:2'];
    engine.notify();
    await settle();
    expect(await catalog.list()).toEqual(['a:1', 'b:2']);
    await catalog.close();
  });

  it('asks the engine itself while the stream is lost (so an engine away is an error), and is rebuilt once it is back', async () => {
    const engine = fakeEngine();
    const catalog = createImageCatalog({ runtime: engine, logger: quiet, maxRetryMs: 10 });
    await catalog.list();
    await settle();
    engine.up = false;
    engine.lose();
    await settle();
    await expect(catalog.list()).rejects.toThrow('engine away');
    const watched = engine.watches;
    engine.up = true;
    engine.images = ['c:3'];
    // Rebuilt: the stream opened again (after the backoff), then the listing it takes.
    await vi.waitFor(() => expect(engine.watches).toBeGreaterThan(watched), { timeout: 5_000, interval: 10 });
    await settle();
    const before = engine.lists;
    expect(await catalog.list()).toEqual(['c:3']);
    expect(engine.lists).toBe(before);
    await catalog.close();
  });
});
