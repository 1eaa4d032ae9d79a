import { describe, expect, it } from 'vitest';
import { fromService, pinnedNode, taskEnding, taskLive, type EngineService, type EngineTask } from '../../../src/adapters/swarm/mapping.js';
import { serviceIds } from '../../../src/adapters/swarm/events.js';

const service = (extra: Partial<EngineService['Spec']> = {}): EngineService => ({
  ID: 'k3q9v0s1l2m3n4o5p6q7r8s9t',
  CreatedAt: '2026-12-02T10:00:00.000Z',
  Version: { Index: 12 },
  Spec: {
    Name: 'sd-0123456789abcdef',
    Labels: { 'io.spin-docker.instance': 'main' },
    TaskTemplate: { ContainerSpec: { Image: 'spin-docker/demo' } },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: {
      Ports: [
        { Protocol: 'tcp', TargetPort: 80, PublishedPort: 20001, PublishMode: 'host' },
        { Protocol: 'tcp', TargetPort: 22, PublishedPort: 20002, PublishMode: 'host' },
      ],
    },
    ...extra,
  },
});

const task = (state: string, at: string, extra: Partial<EngineTask> = {}): EngineTask => ({
  ID: `t-${at}`,
  ServiceID: 'k3q9v0s1l2m3n4o5p6q7r8s9t',
  NodeID: 'node-a',
  CreatedAt: at,
  DesiredState: state === 'running' ? 'running' : 'shutdown',
  Status: { State: state, ContainerStatus: { ContainerID: 'c'.repeat(64), PID: state === 'running' ? 4242 : 0, ExitCode: 0 } },
  NetworksAttachments: [{ Addresses: ['10.0.7.3/24'] }],
  ...extra,
});

const names = (id: string) => ({ name: ({ 'node-a': 'host-a', 'node-b': 'host-b' } as Record<string, string>)[id] ?? id, down: id === 'node-down' });

describe('a swarm service as a container', () => {
  it('runs while its newest task runs: its PID, its overlay address, its node by host name, its published ports', () => {
    const actual = fromService(service(), [task('shutdown', '2026-12-02T10:00:01Z'), task('running', '2026-12-02T10:05:00Z')], names);
    expect(actual).toMatchObject({
      id: 'k3q9v0s1l2m3n4o5p6q7r8s9t',
      name: 'sd-0123456789abcdef',
      running: true,
      pid: 4242,
      ip: '10.0.7.3',
      node: 'host-a',
      ports: { '80/tcp': '20001', '22/tcp': '20002' },
      ended: null,
    });
  });

  it('is not running when the node of its running task is down, and says so', () => {
    const actual = fromService(service(), [task('running', '2026-12-02T10:05:00Z', { NodeID: 'node-down' })], names);
    expect(actual).toMatchObject({ running: false, pid: 0, ip: '', ended: 'node node-down is down' });
  });

  it('is stopped with no task, and kept on the node of its placement constraint', () => {
    const actual = fromService(
      service({ TaskTemplate: { ContainerSpec: { Image: 'x' }, Placement: { Constraints: ['node.hostname == host-b'] } } }),
      [],
      names,
    );
    expect(actual).toMatchObject({ running: false, pid: 0, ip: '', node: 'host-b', ended: null });
    expect(actual.ports['80/tcp']).toBe('20001');
  });

  it('says how its last task ended, in the single engine words or the swarm own', () => {
    const exited = task('failed', '2026-12-02T10:00:00Z', {
      Status: { State: 'failed', Err: 'task: non-zero exit (3)', ContainerStatus: { ContainerID: 'c', ExitCode: 3 } },
    });
    expect(taskEnding(exited)).toBe('exited (code 3)');
    const rejected = task('rejected', '2026-12-02T10:00:00Z', { Status: { State: 'rejected', Err: 'No such image: nope' } });
    expect(taskEnding(rejected)).toBe('rejected: No such image: nope');
    // A container the node could not start (the three-node test's: its port held by the wake listener).
    const unstarted = task('failed', '2026-12-02T10:00:00Z', {
      Status: {
        State: 'failed',
        Err: 'starting container failed: … Error starting userland proxy: listen tcp4 0.0.0.0:21000: bind: address already in use',
        ContainerStatus: { ContainerID: 'f'.repeat(64), ExitCode: 128 },
      },
    });
    expect(taskEnding(unstarted)).toMatch(/^failed: starting container failed: .*address already in use$/);
    expect(taskEnding(task('running', '2026-12-02T10:00:00Z'))).toBeNull();
  });

  it('reads the pinned node from its constraints, with or without spaces', () => {
    expect(
      pinnedNode(service({ TaskTemplate: { ContainerSpec: { Image: 'x' }, Placement: { Constraints: ['node.role==worker', 'node.hostname==h1'] } } }).Spec),
    ).toBe('h1');
    expect(pinnedNode(service().Spec)).toBe('');
  });

  it('counts as on its way the task an update makes (desired state ready until the old task is down), not one told to shut down', () => {
    // What a start's ForceUpdate made, as the manager lists it the first moment: CI once took it for a start that ended.
    expect(taskLive(task('pending', '2026-12-02T10:00:00Z', { DesiredState: 'ready', NodeID: undefined }))).toBe(true);
    expect(taskLive(task('starting', '2026-12-02T10:00:00Z', { DesiredState: 'running' }))).toBe(true);
    expect(taskLive(task('running', '2026-12-02T10:00:00Z', { DesiredState: 'shutdown' }))).toBe(false);
    expect(taskLive(task('failed', '2026-12-02T10:00:00Z', { DesiredState: 'running' }))).toBe(false);
  });
});

describe("the manager's events", () => {
  it("names the service of a service event and of a task container's event, and nothing else", () => {
    const ids: string[] = [];
    const feed = serviceIds((id) => ids.push(id));
    feed(
      [
        JSON.stringify({ Type: 'service', Action: 'update', Actor: { ID: 'svc1', Attributes: { name: 'sd-1' } } }),
        JSON.stringify({ Type: 'container', Action: 'die', Actor: { ID: 'c'.repeat(64), Attributes: { 'com.docker.swarm.service.id': 'svc2' } } }),
        JSON.stringify({ Type: 'container', Action: 'start', Actor: { ID: 'd'.repeat(64), Attributes: {} } }),
        JSON.stringify({ Type: 'network', Action: 'connect', Actor: { ID: 'n1' } }),
        '',
      ].join('\n'),
    );
    expect(ids).toEqual(['svc1', 'svc2']);
  });
});
