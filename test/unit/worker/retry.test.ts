import { UnrecoverableError, type Job } from 'bullmq';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DomainError } from '../../../src/domain/errors.js';
import { withRetryPolicy } from '../../../src/worker/job-workers.js';

const job = { id: '1', name: 'stop-container', data: {}, attemptsMade: 0 } as unknown as Job<unknown, never>;
const logger = pino({ level: 'silent' });
const failing = (error: unknown) => withRetryPolicy(async () => Promise.reject(error), logger);

describe('the retry rule', () => {
  it('retries what is transient (Docker or Redis away), as it was', async () => {
    const away = new DomainError('unavailable', 'docker_unavailable', 'away');
    await expect(failing(away)(job)).rejects.toBe(away);
  });

  it('gives up at once on what would fail the same way again: a bad payload, any other kind', async () => {
    const parsed = z.object({ id: z.string() }).safeParse({});
    await expect(failing(parsed.error)(job)).rejects.toBeInstanceOf(UnrecoverableError);
    await expect(failing(new DomainError('conflict', 'status_conflict', 'no'))(job)).rejects.toBeInstanceOf(UnrecoverableError);
  });

  it('retries an error it does not know (a bug, or a failure not yet translated)', async () => {
    const odd = new Error('odd');
    await expect(failing(odd)(job)).rejects.toBe(odd);
  });
});
