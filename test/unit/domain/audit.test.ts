import { describe, expect, it } from 'vitest';
import { planAudit } from '../../../src/domain/containers/audit.js';
import type { ContainerRecord, ContainerStatus, RuntimeContainer } from '../../../src/domain/containers/record.js';

const record = (id: string, status: ContainerStatus, extra: Partial<ContainerRecord> = {}): ContainerRecord => ({
  id, name: `/${id}`, image: 'demo', status, active: 0, ports: {}, ip: '', run: 1,
  checkinAt: null, createdAt: 0, nextCheckAt: null, strikes: 0, tokenHash: '', ...extra,
});
const actual = (id: string, running: boolean, extra: Partial<RuntimeContainer> = {}): RuntimeContainer => ({
  id, name: `/${id}`, running, ports: {}, ip: '', ...extra,
});

describe('planAudit', () => {
  it('forgets every record whose container is gone, not just the first', () => {
    const actions = planAudit([record('a', 'running'), record('b', 'stopped'), record('c', 'stopping')], []);
    expect(actions.map((a) => [a.kind, a.record.id])).toEqual([['forget', 'a'], ['forget', 'b'], ['forget', 'c']]);
  });

  it('follows stops and starts made behind the server\'s back', () => {
    const actions = planAudit([record('a', 'running'), record('b', 'stopped')], [actual('a', false), actual('b', true)]);
    expect(actions.map((a) => [a.kind, a.record.id])).toEqual([['mark_stopped', 'a'], ['mark_running', 'b']]);
  });

  it('refreshes changed ports and leaves matching and in-flight records alone', () => {
    const actions = planAudit(
      [
        record('a', 'running', { ports: { '80/tcp': '1' }, ip: '172.17.0.2' }),
        record('b', 'running', { ports: { '80/tcp': '2' }, ip: '172.17.0.3' }),
        record('c', 'stopping'),
        record('d', 'deleting'),
      ],
      [
        actual('a', true, { ports: { '80/tcp': '1' }, ip: '172.17.0.2' }),
        actual('b', true, { ports: { '80/tcp': '9' }, ip: '172.17.0.3' }),
        actual('c', true),
        actual('d', false),
      ],
    );
    expect(actions.map((a) => [a.kind, a.record.id])).toEqual([['refresh', 'b']]);
  });
});
