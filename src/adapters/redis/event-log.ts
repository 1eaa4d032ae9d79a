import type { Redis } from 'ioredis';
import { DomainError } from '../../domain/errors.js';
import { compareEventIds } from '../../domain/events.js';
import type { DomainEvent, EventLog, StoredEvent } from '../../domain/ports.js';
import type { Logger } from '../../domain/ports.js';
import { redisCall } from './connection.js';

type Entry = [id: string, fields: string[]];

function parse([id, fields]: Entry): StoredEvent | null {
  const index = fields.indexOf('e');
  if (index === -1) return null;
  try {
    return { ...(JSON.parse(fields[index + 1] as string) as DomainEvent), eventId: id };
  } catch {
    return null;
  }
}

/**
 * The event log as a capped Redis Stream (`<prefix>events`, about `maxLength` entries, older ones trimmed).
 * Every process publishes with XADD; a process that has subscribers follows the stream with one blocking
 * XREAD on a connection of its own and hands each entry to all of them.
 */
export class RedisEventLog implements EventLog {
  private readonly key: string;
  private readonly listeners = new Set<(event: StoredEvent) => void>();
  private reader: Redis | undefined;
  /** Resolves once the reader knows where the stream ends (see subscribe). */
  private positioned: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly maxLength: number,
    private readonly logger: Logger,
  ) {
    this.key = `${prefix}events`;
  }

  publish(event: DomainEvent): Promise<void> {
    return redisCall(async () => {
      await this.redis.xadd(this.key, 'MAXLEN', '~', String(this.maxLength), '*', 'e', JSON.stringify(event));
    });
  }

  after(eventId: string, count: number): Promise<{ events: StoredEvent[]; gap: boolean }> {
    return redisCall(async () => {
      const [entries, info] = await Promise.all([
        this.redis.xrange(this.key, `(${eventId}`, '+', 'COUNT', count) as Promise<Entry[]>,
        this.redis.call('XINFO', 'STREAM', this.key).catch(() => null) as Promise<unknown[] | null>,
      ]);
      // Trimmed: more entries were ever added than the stream holds. Then a client whose id is older than the
      // first entry held may have missed some (or none, if its id was the last one trimmed: it re-reads anyway).
      let gap = false;
      if (Array.isArray(info)) {
        const field = (name: string) => info[info.indexOf(name) + 1];
        const [added, length, first] = [Number(field('entries-added')), Number(field('length')), field('first-entry')];
        const firstId = Array.isArray(first) ? first[0] : undefined;
        gap = added > length && typeof firstId === 'string' && compareEventIds(firstId, eventId) > 0;
      }
      return { events: entries.map(parse).filter((e): e is StoredEvent => e !== null), gap };
    });
  }

  /**
   * Starts following the stream on the first subscriber. The promise resolves once the reader is at the
   * stream's end, so that an `after` read made then misses nothing that the subscription will not bring.
   */
  async subscribe(listener: (event: StoredEvent) => void, timeoutMs = 5000): Promise<() => void> {
    this.listeners.add(listener);
    this.positioned ??= this.follow();
    const unsubscribe = () => {
      this.listeners.delete(listener);
    };
    // While Redis is away the reader cannot find the stream's end: the caller is told so (503), not kept waiting.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DomainError('unavailable', 'redis_unavailable', 'The state store (Redis) is unavailable')), timeoutMs);
    });
    try {
      await Promise.race([this.positioned, late]);
    } catch (error) {
      unsubscribe();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return unsubscribe;
  }

  private follow(): Promise<void> {
    // Its own connection (XREAD BLOCK holds it), which waits for Redis rather than failing while it connects.
    const reader = this.redis.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true, lazyConnect: false });
    reader.on('error', () => undefined);
    this.reader = reader;
    return new Promise<void>((positioned) => {
      void (async () => {
        let last: string | undefined;
        while (!this.closed) {
          try {
            if (last === undefined) {
              const newest = (await reader.xrevrange(this.key, '+', '-', 'COUNT', 1)) as Entry[];
              last = newest[0]?.[0] ?? '0-0';
              positioned();
            }
            const answer = (await reader.xread('COUNT', 500, 'BLOCK', 5000, 'STREAMS', this.key, last)) as [string, Entry[]][] | null;
            for (const entry of answer?.[0]?.[1] ?? []) {
              last = entry[0];
              const event = parse(entry);
              if (event === null) continue;
              for (const listener of [...this.listeners]) listener(event);
            }
          } catch (error) {
            if (this.closed) break;
            this.logger.warn({ err: (error as Error).message }, 'event stream: cannot read Redis; trying again');
            await new Promise((resolve) => setTimeout(resolve, 1000));
          }
        }
        positioned();
      })();
    });
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.reader?.disconnect();
  }
}
