import { randomBytes } from 'node:crypto';
import { conflict, forbidden, notFound } from '../errors.js';
import { DOCKER_HUB, imageAllowed, parseReference, registryHost, registryRefusal } from './references.js';
import type { Clock, ContainerRuntime, ContainerStore, JobQueue, LayerProgress, PullEvent, PullRecord, PullStore, RegistryAuth } from '../ports.js';

export interface PullSettings {
  readonly allowedImages: readonly string[];
  /** Registries on the host itself or link-local that pulls may use all the same (SD_ALLOWED_REGISTRIES). */
  readonly allowedRegistries: readonly string[];
  /** The addresses a registry's host name stands for (none when it cannot be resolved). */
  readonly resolveHost: (host: string) => Promise<readonly string[]>;
  /** The longest a pull may take. */
  readonly pullTimeoutMs: number;
  /** The longest a pull may go without a byte more (a registry gone away: the engine itself retries for minutes). */
  readonly pullStallMs: number;
  /** Credentials for the registry of a reference, if any are configured. */
  readonly registryAuth: (reference: string) => RegistryAuth | undefined;
}

export interface PullDeps {
  readonly runtime: Pick<ContainerRuntime, 'imageExists' | 'pullImage' | 'removeImage'>;
  readonly records: Pick<ContainerStore, 'list'>;
  readonly pulls: PullStore;
  readonly queue: Pick<JobQueue, 'enqueuePull' | 'pullQueued'>;
  readonly clock: Clock;
  readonly settings: PullSettings;
  /** How often progress is written at most, in ms. */
  readonly progressEveryMs?: number;
}

export type PullRequestOutcome = { readonly kind: 'present'; readonly reference: string } | { readonly kind: 'pulling'; readonly pull: PullRecord };

/** "name" and "name:latest" are one image, as for Docker. */
export function normalizedReference(reference: string): string {
  const last = reference.slice(reference.lastIndexOf('/') + 1);
  return last.includes(':') || reference.includes('@') ? reference : `${reference}:latest`;
}

/**
 * Folds one line of the engine's pull progress into the layers seen so far (in order of first sight). A layer
 * that is complete or already there counts as fully done.
 */
export function applyPullEvent(layers: readonly LayerProgress[], event: PullEvent): LayerProgress[] {
  const id = event.id;
  // Lines without a layer ("Pulling from …", "Digest: …", "Status: …") say nothing per layer.
  if (id === undefined || event.status === undefined || /^(Pulling from|Digest|Status)/.test(event.status)) return [...layers];
  const index = layers.findIndex((layer) => layer.id === id);
  const before: LayerProgress = index === -1 ? { id, status: event.status, current: 0, total: 0 } : (layers[index] as LayerProgress);
  const detail = event.progressDetail ?? {};
  const downloading = event.status === 'Downloading';
  const total = downloading && typeof detail.total === 'number' && detail.total > 0 ? detail.total : before.total;
  let current = downloading && typeof detail.current === 'number' ? detail.current : before.current;
  if (/^(Download complete|Pull complete|Already exists|Verifying Checksum|Extracting)/.test(event.status)) current = Math.max(current, total);
  const next: LayerProgress = { id, status: event.status, current, total };
  return index === -1 ? [...layers, next] : layers.map((layer, i) => (i === index ? next : layer));
}

/** Bytes done and to do over every layer. */
export function pullTotals(layers: readonly LayerProgress[]): { done: number; total: number } {
  return layers.reduce((sum, layer) => ({ done: sum.done + layer.current, total: sum.total + layer.total }), { done: 0, total: 0 });
}

/** Adding and removing images: a pull is asked for by the API and carried out by the worker. */
export function createImagePulls({ runtime, records, pulls, queue, clock, settings, progressEveryMs = 250 }: PullDeps) {
  const allowed = (reference: string) => {
    if (!imageAllowed(reference, settings.allowedImages)) throw forbidden('image_not_allowed', `Image ${reference} is not allowed on this server (SD_ALLOWED_IMAGES)`);
  };

  /**
   * A pull still `pulling` that nobody carries out: no progress for the stall timeout and no job waiting or
   * running (the API was killed between storing it and queueing it, or the queue was lost with Redis). Failed
   * here, so that its reference is free to be pulled again; answers what the pull is now.
   */
  async function settleIfAbandoned(pull: PullRecord): Promise<PullRecord> {
    if (pull.status !== 'pulling' || clock.now() - pull.updatedAt <= settings.pullStallMs || (await queue.pullQueued(pull.id))) return pull;
    const seconds = Math.round(settings.pullStallMs / 1000);
    const error = `The pull was never carried out: no worker took it up within ${seconds} s (was the server restarted, or its state lost, while it waited?); ask again to pull anew`;
    await pulls.finish(pull.id, { status: 'failed', error, layers: pull.layers }, clock.now());
    return (await pulls.get(pull.id)) ?? { ...pull, status: 'failed', error };
  }

  /** A pull may not make the engine talk to the host's own ports (or a link-local metadata service). */
  async function reachable(reference: string): Promise<void> {
    const { registry } = parseReference(reference);
    if (registry === DOCKER_HUB) return;
    const refusal = registryRefusal(registry, settings.allowedRegistries, await settings.resolveHost(registryHost(registry)));
    if (refusal !== null) throw forbidden('registry_not_allowed', refusal);
  }

  return {
    /** API: an image already there is the answer at once; otherwise the pull of it (a new one, or the one under way). */
    async request(reference: string): Promise<PullRequestOutcome> {
      allowed(reference);
      await reachable(reference);
      if (await runtime.imageExists(reference)) return { kind: 'present', reference };
      let joined = await pulls.startOrJoin(reference, randomBytes(8).toString('hex'), clock.now());
      if (!joined.created && (await settleIfAbandoned(joined.pull)).status !== 'pulling') {
        joined = await pulls.startOrJoin(reference, randomBytes(8).toString('hex'), clock.now());
      }
      const { pull, created } = joined;
      if (created) {
        try {
          await queue.enqueuePull(pull.id, reference);
        } catch (error) {
          // Never leave a pull that nobody carries out holding its reference.
          await pulls.finish(pull.id, { status: 'failed', error: 'The pull could not be queued', layers: [] }, clock.now()).catch(() => undefined);
          throw error;
        }
      }
      return { kind: 'pulling', pull };
    },

    async get(id: string): Promise<PullRecord> {
      const pull = /^[0-9a-f]{16}$/.test(id) ? await pulls.get(id) : null;
      if (pull === null) throw notFound('pull_not_found', `Pull ${id} doesn't exist (finished pulls are kept for a day)`);
      return settleIfAbandoned(pull);
    },

    /** Worker (periodic): fails every pull that nobody carries out; how many. */
    async settleAbandoned(): Promise<number> {
      let failed = 0;
      for (const pull of await pulls.listActive()) if ((await settleIfAbandoned(pull)).status === 'failed') failed += 1;
      return failed;
    },

    /** Worker: carries out a pull, writing its progress now and then, and its end. */
    async carryOut(id: string, reference: string): Promise<'done' | 'failed' | 'stale'> {
      const pull = await pulls.get(id);
      if (pull === null || pull.status !== 'pulling') return 'stale';
      let layers: LayerProgress[] = [];
      let writtenAt = 0;
      let writing: Promise<void> = Promise.resolve();
      // Given up when nothing moves for pullStallMs: bytes, or a layer reaching a new stage.
      const stalled = new AbortController();
      let movedAt = clock.now();
      let moved = '';
      const watchdog = setInterval(() => {
        if (clock.now() - movedAt > settings.pullStallMs) {
          stalled.abort(new Error(`The pull made no progress for ${Math.round(settings.pullStallMs / 1000)} s (is the registry reachable?)`));
        }
      }, Math.min(1000, settings.pullStallMs));
      try {
        await runtime.pullImage(reference, settings.registryAuth(reference), (event) => {
          layers = applyPullEvent(layers, event);
          const now = clock.now();
          const state = layers.map((layer) => `${layer.current}/${layer.status}`).join(',');
          if (state !== moved && !/^Retrying/.test(event.status ?? '')) [moved, movedAt] = [state, now];
          if (now - writtenAt < progressEveryMs) return;
          writtenAt = now;
          const snapshot = layers;
          writing = writing.then(() => pulls.progress(id, snapshot, now)).catch(() => undefined);
        }, { timeoutMs: settings.pullTimeoutMs, signal: stalled.signal });
        await writing;
        await pulls.finish(id, { status: 'done', error: null, layers }, clock.now());
        return 'done';
      } catch (error) {
        await writing;
        await pulls.finish(id, { status: 'failed', error: (error as Error).message, layers }, clock.now());
        return 'failed';
      } finally {
        clearInterval(watchdog);
      }
    },

    /** API: removes an image no managed container uses. */
    async remove(reference: string): Promise<void> {
      if (!(await runtime.imageExists(reference))) throw notFound('image_not_found', `Image ${reference} not found on this server`);
      const wanted = normalizedReference(reference);
      const users = (await records.list()).filter((record) => normalizedReference(record.image) === wanted);
      if (users.length > 0) throw conflict('image_in_use', `Image ${reference} is used by ${users.length} container(s) of this server; delete them first`);
      if ((await runtime.removeImage(reference)) === 'missing') throw notFound('image_not_found', `Image ${reference} not found on this server`);
    },
  };
}

export type ImagePulls = ReturnType<typeof createImagePulls>;
