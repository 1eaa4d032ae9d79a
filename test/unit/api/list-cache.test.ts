import { describe, expect, it } from 'vitest';
import { aRecord } from '../../fakes/engine.js';
import { createListCache, type ListSource } from '../../../src/api/presenters/list-cache.js';
import type { ContainerRecord } from '../../../src/domain/containers/record.js';

const record = (id: string): ContainerRecord => aRecord(id);

/** A store whose version and records the test moves, and whose listAt() can be held open. */
function fakeSource() {
  const state = { version: 1, ids: ['a'], lists: 0 };
  let hold: Promise<void> | undefined;
  const resets: (() => void)[] = [];
  const source: ListSource = {
    onStoreReset: (listener) => resets.push(listener),
    version: async () => state.version,
    listAt: async () => {
      state.lists += 1;
      const snapshot = { version: state.version, records: state.ids.map(record) };
      await hold;
      return snapshot;
    },
  };
  const holdLists = () => {
    let release: () => void = () => undefined;
    hold = new Promise((resolve) => (release = resolve));
    return () => {
      hold = undefined;
      release();
    };
  };
  const reset = () => resets.forEach((listener) => listener());
  return { state, source, holdLists, reset };
}

const ids = (body: Buffer) => (JSON.parse(body.toString()) as { container_id: string }[]).map((c) => c.container_id);

describe('createListCache', () => {
  it('renders once per version and again after any write', async () => {
    const { state, source } = fakeSource();
    const body = createListCache(source);
    expect(ids(await body())).toEqual(['a']);
    await body();
    expect(state.lists).toBe(1);
    state.ids = ['a', 'b'];
    state.version = 2;
    expect(ids(await body())).toEqual(['a', 'b']);
    expect(state.lists).toBe(2);
  });

  it('lets concurrent requests share one rendering', async () => {
    const { state, source, holdLists } = fakeSource();
    const body = createListCache(source);
    const release = holdLists();
    const answers = Promise.all([body(), body(), body()]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    release();
    expect((await answers).map(ids)).toEqual([['a'], ['a'], ['a']]);
    expect(state.lists).toBe(1);
  });

  it('never answers with a rendering older than the version the request read', async () => {
    const { state, source, holdLists } = fakeSource();
    const body = createListCache(source);
    const release = holdLists();
    const early = body();
    await new Promise((resolve) => setTimeout(resolve, 5));
    // A write lands while the first rendering (of version 1) is still under way; then a request comes.
    state.ids = ['a', 'b'];
    state.version = 2;
    const late = body();
    await new Promise((resolve) => setTimeout(resolve, 5));
    release();
    expect(ids(await early)).toEqual(['a']);
    expect(ids(await late)).toEqual(['a', 'b']);
  });

  it('drops its renderings when the store went back (lost writes, a restored backup), even to an older version', async () => {
    const { state, source, reset } = fakeSource();
    const body = createListCache(source);
    state.version = 7;
    state.ids = ['a', 'b'];
    expect(ids(await body())).toEqual(['a', 'b']);
    // Redis comes back from an older snapshot: version 5, and b never existed there.
    state.version = 5;
    state.ids = ['a'];
    reset();
    expect(ids(await body())).toEqual(['a']);
  });
});
