import { describe, expect, it } from 'vitest';
import { aContainer, aRecord } from '../../fakes/engine.js';
import { planAudit, type AuditAction } from '../../../src/domain/containers/audit.js';
import type { ContainerRecord, ContainerStatus, RuntimeContainer } from '../../../src/domain/containers/record.js';

const record = (id: string, status: ContainerStatus, extra: Partial<ContainerRecord> = {}): ContainerRecord => aRecord(id, { status, ...extra });
const actual = (id: string, running: boolean, extra: Partial<RuntimeContainer> = {}): RuntimeContainer => aContainer(id, { running, ...extra });
const summary = (actions: AuditAction[]) => actions.map((a) => [a.kind, a.kind === 'unrecorded' ? a.actual.id : a.record.id]);

describe('planAudit', () => {
  it('forgets every record whose container is gone, not just the first', () => {
    const actions = planAudit([record('a', 'running'), record('b', 'stopped'), record('c', 'stopping'), record('d', 'deleting')], []);
    expect(summary(actions)).toEqual([
      ['forget', 'a'],
      ['forget', 'b'],
      ['forget', 'c'],
      ['forget', 'd'],
    ]);
  });

  it("follows stops and starts made behind the server's back", () => {
    const actions = planAudit([record('a', 'running'), record('b', 'stopped')], [actual('a', false), actual('b', true)]);
    expect(summary(actions)).toEqual([
      ['mark_stopped', 'a'],
      ['mark_running', 'b'],
    ]);
  });

  it('finishes a stop whose container no longer runs (its job may have died with a worker)', () => {
    expect(summary(planAudit([record('a', 'stopping')], [actual('a', false)]))).toEqual([['mark_stopped', 'a']]);
  });

  it('refreshes changed ports and leaves matching and in-flight records alone', () => {
    const actions = planAudit(
      [
        record('a', 'running', { ports: { '80/tcp': '1' }, ip: '172.17.0.2' }),
        record('b', 'running', { ports: { '80/tcp': '2' }, ip: '172.17.0.3' }),
        record('c', 'stopping'),
        record('d', 'deleting'),
        record('e', 'deleting'),
      ],
      [
        actual('a', true, { ports: { '80/tcp': '1' }, ip: '172.17.0.2' }),
        actual('b', true, { ports: { '80/tcp': '9' }, ip: '172.17.0.3' }),
        actual('c', true),
        actual('d', false),
        actual('e', true),
      ],
    );
    expect(summary(actions)).toEqual([['refresh', 'b']]);
  });

  it('lists containers without a record only in a full pass (a pass over some records cannot tell)', () => {
    const containers = [actual('stray', true), actual('known', true)];
    const records = [record('known', 'running')];
    expect(summary(planAudit(records, containers))).toEqual([]);
    expect(summary(planAudit(records, containers, { unrecorded: true }))).toEqual([['unrecorded', 'stray']]);
  });
});
