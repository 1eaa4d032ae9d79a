import type { VersionedRecords } from '../../domain/ports.js';
import { presentContainer, type Present } from './container.presenter.js';

export interface ListSource {
  listAt(): Promise<VersionedRecords>;
  version(): Promise<number>;
  /** Called when versions may have gone back (the store lost writes): every rendering is dropped then. */
  onStoreReset(listener: () => void): void;
}

interface Rendered {
  readonly version: number;
  /** Epoch ms it was made. */
  readonly at: number;
  readonly body: Buffer;
}

/**
 * The JSON body of `GET /v1/containers`, rendered once per version of the records. Each request costs one
 * small Redis read (the version) while nothing changes. Never stale: a request is answered from a rendering
 * whose version is at least the one it read, so a client sees its own writes. Renderings are single-flight:
 * requests that arrive during one wait for it (or for the next one, if it started before they looked).
 */
export function createListCache(source: ListSource, present: Present = (record) => presentContainer(record), options: { maxAgeMs?: number } = {}) {
  // Renderings say "3 min ago" (kept_by): one older than this is made again even when nothing was written.
  const maxAgeMs = options.maxAgeMs ?? 10_000;
  let latest: Rendered | undefined;
  let building: Promise<Rendered> | undefined;
  /** Bumped when the store may have gone back: a rendering begun before then is never kept. */
  let epoch = 0;
  source.onStoreReset(() => {
    epoch += 1;
    latest = undefined;
    building = undefined;
  });

  function render(): Promise<Rendered> {
    const startedIn = epoch;
    const started = (async () => {
      const { version, records } = await source.listAt();
      const rendered = { version, at: Date.now(), body: Buffer.from(JSON.stringify(records.map(present))) };
      if (startedIn === epoch && (latest === undefined || rendered.version >= latest.version)) latest = rendered;
      return rendered;
    })().finally(() => {
      if (building === started) building = undefined;
    });
    building = started;
    return started;
  }

  return async function body(): Promise<Buffer> {
    const version = await source.version();
    if (latest !== undefined && latest.version >= version && Date.now() - latest.at < maxAgeMs) return latest.body;
    const inFlight = building;
    if (inFlight === undefined) return (await render()).body;
    // That rendering began before our read and may be older than what we must show.
    const earlier = await inFlight.catch(() => undefined);
    if (earlier !== undefined && earlier.version >= version) return earlier.body;
    // Whatever starts from here on (ours, or another waiter's) began after our read.
    return (await (building ?? render())).body;
  };
}
