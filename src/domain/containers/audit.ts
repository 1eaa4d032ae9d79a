import type { ContainerRecord, PortMap, RuntimeContainer } from './record.js';

/** One correction that brings the records in line with what Docker says. */
export type AuditAction =
  | { readonly kind: 'forget'; readonly record: ContainerRecord }
  | { readonly kind: 'mark_stopped'; readonly record: ContainerRecord; readonly actual: RuntimeContainer }
  | { readonly kind: 'mark_running'; readonly record: ContainerRecord; readonly actual: RuntimeContainer }
  | { readonly kind: 'refresh'; readonly record: ContainerRecord; readonly actual: RuntimeContainer }
  /** A container of this installation without a record: adopted, unless it is an unfinished create's. */
  | { readonly kind: 'unrecorded'; readonly actual: RuntimeContainer };

/**
 * Compares records with Docker's view (Docker is the truth) and lists what to correct.
 * A `stopping` record whose container no longer runs is stopped; `deleting` records are left to their jobs
 * unless the container has vanished. With `unrecorded`, every container that has no record is listed too
 * (a full pass; a pass over some records only cannot tell).
 * `actual` must have been read after `records`, so that a record is never younger than the listing.
 */
export function planAudit(
  records: readonly ContainerRecord[],
  actual: readonly RuntimeContainer[],
  options: { readonly unrecorded?: boolean } = {},
): AuditAction[] {
  const byId = new Map(actual.map((c) => [c.id, c]));
  const actions: AuditAction[] = [];
  for (const record of records) {
    const container = byId.get(record.id);
    if (container === undefined) {
      actions.push({ kind: 'forget', record });
    } else if ((record.status === 'running' || record.status === 'stopping') && !container.running) {
      actions.push({ kind: 'mark_stopped', record, actual: container });
    } else if (record.status === 'stopped' && container.running) {
      actions.push({ kind: 'mark_running', record, actual: container });
    } else if (record.status === 'running' && (record.ip !== container.ip || record.node !== container.node || !samePorts(record.ports, container.ports))) {
      actions.push({ kind: 'refresh', record, actual: container });
    }
  }
  if (options.unrecorded === true) {
    const known = new Set(records.map((r) => r.id));
    for (const container of actual) if (!known.has(container.id)) actions.push({ kind: 'unrecorded', actual: container });
  }
  return actions;
}

function samePorts(a: PortMap, b: PortMap): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}
