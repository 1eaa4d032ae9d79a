import type Docker from 'dockerode';
import type { ImageOperations, PullEvent, RegistryAuth } from '../../domain/ports.js';
import { DeadlineError, type EngineConnection } from './connection.js';
import { dockerStatus } from './errors.js';
import { jsonLines } from './events.js';

/** The engine's images: list, inspect, pull (with progress), remove. */
export class DockerImages implements ImageOperations {
  constructor(private readonly engine: EngineConnection) {}

  async listImages(): Promise<string[]> {
    const images = await this.engine.call('list images', (abortSignal) => this.engine.docker.listImages({ abortSignal }));
    return images
      .flatMap((image) => image.RepoTags ?? [])
      .filter((tag) => tag !== '<none>:<none>')
      .sort();
  }

  async pullImage(
    reference: string,
    auth: RegistryAuth | undefined,
    onEvent: (event: PullEvent) => void,
    options: { timeoutMs: number; signal: AbortSignal },
  ): Promise<void> {
    const { timeoutMs } = options;
    if (options.signal.aborted) throw options.signal.reason as Error;
    // The whole pull, stream included, under one deadline of its own (pulls are long), or until the caller gives up.
    await this.engine.call(
      'pull image',
      async (deadline) => {
        const abortSignal = AbortSignal.any([deadline, options.signal]);
        const given = () => (options.signal.aborted ? (options.signal.reason as Error) : new DeadlineError(timeoutMs));
        const stream = (await this.engine.docker.pull(reference, {
          abortSignal,
          ...(auth === undefined ? {} : { authconfig: auth }),
        } as object)) as NodeJS.ReadableStream & {
          destroy?: () => void;
        };
        await new Promise<void>((resolve, reject) => {
          let failure: string | undefined;
          const onAbort = () => stream.destroy?.();
          abortSignal.addEventListener('abort', onAbort, { once: true });
          const settle = (error?: Error) => {
            abortSignal.removeEventListener('abort', onAbort);
            if (error !== undefined) reject(error);
            else if (failure !== undefined) reject(new Error(failure));
            else resolve();
          };
          stream.on(
            'data',
            jsonLines((value) => {
              const event = (value ?? {}) as PullEvent;
              if (event.error !== undefined) failure = event.error;
              else onEvent(event);
            }),
          );
          stream.once('end', () => settle());
          stream.once('error', (error: Error) => settle(abortSignal.aborted ? given() : error));
          stream.once('close', () => settle(abortSignal.aborted ? given() : undefined));
        });
      },
      { timeoutMs, action: `pull ${reference}` },
    );
  }

  async removeImage(reference: string): Promise<'removed' | 'missing'> {
    try {
      await this.engine.call('remove image', (abortSignal) => this.engine.docker.getImage(reference).remove({ abortSignal } as object), {
        action: `remove image ${reference}`,
      });
      return 'removed';
    } catch (error) {
      if (dockerStatus(error) === 404) return 'missing';
      throw error;
    }
  }

  async imageExists(reference: string): Promise<boolean> {
    return (await this.inspect(reference)) !== null;
  }

  async exposedPorts(reference: string): Promise<string[] | null> {
    const image = await this.inspect(reference);
    return image === null ? null : Object.keys(image.Config?.ExposedPorts ?? {}).sort();
  }

  /** The engine's inspect of an image, or null when it has no such image. */
  async inspect(reference: string): Promise<Docker.ImageInspectInfo | null> {
    try {
      return await this.engine.call(
        'inspect image',
        (abortSignal) => this.engine.get<Docker.ImageInspectInfo>(`/images/${reference}/json`, 'image', abortSignal),
        {
          action: `inspect image ${reference}`,
        },
      );
    } catch (error) {
      if (dockerStatus(error) === 404) return null;
      throw error;
    }
  }
}

/** The domain's ImageOperations on these images, as a runtime hands them on (bound, so they can be spread). */
export function imageOperations(images: DockerImages): ImageOperations {
  return {
    listImages: () => images.listImages(),
    pullImage: (reference, auth, onEvent, pullOptions) => images.pullImage(reference, auth, onEvent, pullOptions),
    removeImage: (reference) => images.removeImage(reference),
    imageExists: (reference) => images.imageExists(reference),
    exposedPorts: (reference) => images.exposedPorts(reference),
  };
}
