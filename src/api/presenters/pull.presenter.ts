import { pullTotals } from '../../domain/images/pulls.js';
import type { PullRecord } from '../../domain/ports.js';
import type { PullView } from '../schemas/responses.js';

/** A pull as clients follow it at `uri` (schemas/responses.ts). */
export type { PullView };

export function presentPull(pull: PullRecord): PullView {
  const { done, total } = pullTotals(pull.layers);
  return {
    pull_id: pull.id,
    image: pull.reference,
    status: pull.status,
    layers: pull.layers.map((layer) => ({ ...layer })),
    bytes_done: done,
    bytes_total: total,
    error: pull.error,
    created_at: new Date(pull.createdAt).toISOString(),
    updated_at: new Date(pull.updatedAt).toISOString(),
    uri: `/v1/images/pulls/${pull.id}`,
  };
}
