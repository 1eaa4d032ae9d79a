import { pullTotals } from '../../domain/images/pulls.js';
import type { PullRecord } from '../../domain/ports.js';

/** A pull as clients follow it at `uri`. */
export interface PullView {
  pull_id: string;
  image: string;
  status: 'pulling' | 'done' | 'failed';
  /** Per layer: the engine's last word on it, bytes downloaded and in all (0 while unknown). */
  layers: { id: string; status: string; current: number; total: number }[];
  bytes_done: number;
  bytes_total: number;
  /** Why it failed, in words; null unless failed. */
  error: string | null;
  created_at: string;
  updated_at: string;
  uri: string;
}

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
