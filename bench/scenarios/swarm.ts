import { execFileSync } from 'node:child_process';
import type Docker from 'dockerode';
import { LABELS } from '../../src/domain/containers/labels.js';
import { DEMO_IMAGE, startBenchEnv, type BenchEnv } from '../lib/env.js';
import type { ScenarioReport } from '../lib/report.js';
import { median, since } from '../lib/stats.js';

interface Task {
  Status: { State: string };
  DesiredState: string;
  CreatedAt: string;
}

/** Polls a service's tasks (every 20 ms, as a script watching `docker service ps` closely would) until `done`. */
async function untilTasks(docker: Docker, id: string, done: (tasks: Task[]) => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!done((await docker.listTasks({ filters: { service: [id] } })) as Task[])) {
    if (Date.now() > deadline) throw new Error(`service ${id} did not settle`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
const newest = (tasks: Task[]) => [...tasks].sort((a, b) => Date.parse(b.CreatedAt) - Date.parse(a.CreatedAt))[0];
const running = (tasks: Task[]) => newest(tasks)?.Status.State === 'running';
const ended = (tasks: Task[]) => tasks.every((t) => ['complete', 'shutdown', 'failed', 'rejected', 'orphaned', 'remove'].includes(t.Status.State));

interface Spec {
  Name: string;
  Labels: Record<string, string>;
  TaskTemplate: {
    ContainerSpec: { Env?: string[]; Labels?: Record<string, string>; Mounts?: { Source: string; VolumeOptions?: { Labels?: Record<string, string> } }[] };
  };
  EndpointSpec: { Ports: { Protocol: string; TargetPort: number; PublishedPort: number; PublishMode: string }[] };
}

/**
 * The spec of a service the server made, as the raw side's own: the same image, network, limits, init,
 * dropped capability, log rotation, update order and stop grace, under the raw side's label, name and port.
 * (The raw side with the engine's defaults measured the server's options, not the server: create on one engine
 * was 1.27 × until its raw side used the server's options, 0.99 × with them.)
 */
async function learnSpec(docker: Docker, serviceId: string, label: string): Promise<(port: number) => Spec> {
  const { Spec: spec } = (await docker.getService(serviceId).inspect()) as { Spec: Spec };
  return (port) => {
    const name = `sd-bench-raw-${port}`;
    const container = spec.TaskTemplate.ContainerSpec;
    return {
      ...spec,
      Name: name,
      Labels: { [LABELS.instance]: label },
      TaskTemplate: {
        ...spec.TaskTemplate,
        ContainerSpec: {
          ...container,
          // Not the server's container's check-in token and URL: its raw twin would check in as that container.
          Env: (container.Env ?? []).filter((entry) => !entry.startsWith('SD_')),
          Labels: { [LABELS.instance]: label },
          Mounts: (container.Mounts ?? []).map((mount, i) => ({
            ...mount,
            Source: `${name}-v${i}`,
            VolumeOptions: { ...mount.VolumeOptions, Labels: { [LABELS.instance]: label } },
          })),
        },
      },
      EndpointSpec: { Ports: spec.EndpointSpec.Ports.map((p, k) => ({ ...p, PublishedPort: port + 100 * k })) },
    };
  };
}

/** What `docker service create` of that spec does, until its task runs. */
async function rawCreate(docker: Docker, spec: Spec): Promise<string> {
  const service = (await docker.createService(undefined as unknown as Docker.AuthConfig, spec as unknown as Docker.ServiceSpec)) as unknown as { id: string };
  await untilTasks(docker, service.id, running);
  return service.id;
}

/** `docker service scale <id>=<n>`, until its task runs (1) or every task has ended (0). */
async function rawScale(docker: Docker, id: string, replicas: number): Promise<void> {
  const service = docker.getService(id);
  const info = (await service.inspect()) as { Version: { Index: number }; Spec: Record<string, unknown> };
  await service.update({ ...info.Spec, Mode: { Replicated: { Replicas: replicas } }, version: info.Version.Index });
  await untilTasks(docker, id, replicas === 0 ? ended : running);
}

async function api(env: BenchEnv, method: string, path: string, body?: object): Promise<{ status: number; body: Record<string, string> }> {
  const res = await fetch(`${env.url}${path}`, {
    method,
    headers: { authorization: env.authorization, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, string> };
}

async function untilStatus(env: BenchEnv, id: string, status: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await env.redis.hget(`${env.prefix}c:${id}`, 'status')) !== status) {
    if (Date.now() > deadline) throw new Error(`${id} never reached ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * 11. On a Docker Swarm (SD_ENGINE=swarm, `npm run bench -- --only swarm`): create, stop and start through the
 * API against the raw Engine API calls of `docker service create` / `scale` of the same image, alternating, on a
 * one-node swarm of this engine (made for the run and left after it, unless the engine was in one already).
 */
export async function swarmScenario(base: BenchEnv): Promise<ScenarioReport> {
  const { docker } = base;
  const state = execFileSync('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'], { encoding: 'utf8' }).trim();
  if (state !== 'active') execFileSync('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1'], { stdio: 'ignore' });
  const env = await startBenchEnv(base.quick, { SD_ENGINE: 'swarm', SD_NETWORK: 'sd-bench-swarm', SD_PORT_RANGE: '24000-24999' });
  const n = base.quick ? 2 : 10;
  const figures = {
    create: [] as number[],
    rawCreate: [] as number[],
    stop: [] as number[],
    rawStop: [] as number[],
    start: [] as number[],
    rawStart: [] as number[],
    follow: [] as number[],
    rawFollow: [] as number[],
  };
  const rawLabel = `${env.instance}-raw`;
  let rawSpec: ((port: number) => Spec) | undefined;
  try {
    for (let i = 0; i < n; i += 1) {
      let ours = '';
      let theirs = '';
      const steps: [() => Promise<void>, () => Promise<void>][] = [
        [
          async () => {
            const start = performance.now();
            const created = await api(env, 'POST', '/v1/containers', { image: DEMO_IMAGE });
            if (created.status !== 201) throw new Error(`create answered ${created.status}: ${created.body.message}`);
            figures.create.push(since(start));
            ours = created.body.container_id as string;
            rawSpec ??= await learnSpec(docker, ours, rawLabel);
          },
          async () => {
            const start = performance.now();
            if (rawSpec === undefined) throw new Error("the raw side's spec is learnt from the server's first create, which runs first");
            theirs = await rawCreate(docker, rawSpec(25000 + i));
            figures.rawCreate.push(since(start));
          },
        ],
        [
          async () => {
            const start = performance.now();
            await api(env, 'PATCH', `/v1/containers/${ours}`, { status: 'stopped' });
            await untilStatus(env, ours, 'stopped');
            figures.stop.push(since(start));
          },
          async () => {
            const start = performance.now();
            await rawScale(docker, theirs, 0);
            figures.rawStop.push(since(start));
          },
        ],
        [
          async () => {
            const start = performance.now();
            const started = await api(env, 'PATCH', `/v1/containers/${ours}`, { status: 'running' });
            if (started.body.status !== 'running') throw new Error(`start answered ${started.status}: ${started.body.message}`);
            figures.start.push(since(start));
          },
          async () => {
            const start = performance.now();
            await rawScale(docker, theirs, 1);
            figures.rawStart.push(since(start));
          },
        ],
      ];
      for (const [oursStep, rawStep] of steps) {
        if (i % 2 === 0) {
          await oursStep();
          await rawStep();
        } else {
          await rawStep();
          await oursStep();
        }
      }
      // A task that ends by itself (its container killed): until the record says stopped, against until the
      // manager's task list says it ended (what a script polling `docker service ps` sees first).
      const task = execFileSync('docker', ['ps', '-q', '--filter', `label=com.docker.swarm.service.id=${ours}`], { encoding: 'utf8' }).trim();
      const killed = performance.now();
      execFileSync('docker', ['kill', task], { stdio: 'ignore' });
      await Promise.all([
        untilStatus(env, ours, 'stopped').then(() => figures.follow.push(since(killed))),
        untilTasks(docker, ours, ended).then(() => figures.rawFollow.push(since(killed))),
      ]);
    }
  } finally {
    for (const label of [env.instance, rawLabel]) {
      const services = (await docker.listServices({ filters: { label: [`${LABELS.instance}=${label}`] } })) as { ID: string }[];
      for (const service of services) await docker.getService(service.ID).remove();
    }
    await env.close();
    const volumes = [
      ...((await docker.listVolumes({ filters: { label: [`${LABELS.instance}=${env.instance}`] } })).Volumes ?? []),
      ...((await docker.listVolumes({ filters: { label: [`${LABELS.instance}=${rawLabel}`] } })).Volumes ?? []),
    ];
    for (const volume of volumes)
      await docker
        .getVolume(volume.Name)
        .remove()
        .catch(() => undefined);
    if (state !== 'active') execFileSync('docker', ['swarm', 'leave', '--force'], { stdio: 'ignore' });
    await docker
      .getNetwork('sd-bench-swarm')
      .remove()
      .catch(() => undefined);
  }
  const row = (label: string, ours: number[], raw: number[]) => [label, median(ours), median(raw), median(ours) / median(raw)] as const;
  const rows = [
    row('create (until its task runs)', figures.create, figures.rawCreate),
    row('stop (scale to 0, until it ended)', figures.stop, figures.rawStop),
    row('start (scale to 1, until it runs)', figures.start, figures.rawStart),
    row('follow (a killed task, until the record says stopped)', figures.follow, figures.rawFollow),
  ];
  return {
    name: '11. On a Docker Swarm',
    note: `SD_ENGINE=swarm on a one-node swarm of this engine, the demo image (${n}× each, alternating with the raw Engine API calls of docker service create / scale of a service with the server's own spec, read off its first create, which poll the tasks every 20 ms). A killed task: until its record says stopped (polled in Redis every 2 ms) against until the manager's task list says it ended (polled every 20 ms). The swarm reschedules no task (restart policy none: a container's volumes are on its node); a node that goes down is followed in the three-node test (test/deploy/swarm.test.ts prints the time).`,
    header: ['', 'median ms', 'raw ms', 'ratio'],
    rows,
    figures: Object.fromEntries(
      rows.flatMap(([label, ours, raw, ratio]) => {
        const key = label.split(' ')[0] as string;
        return [
          [`${key}Ms`, ours],
          [`${key}RawMs`, raw],
          [`${key}Ratio`, ratio],
        ];
      }),
    ),
    aims: rows.map(([label, ours, raw, ratio]) =>
      label.startsWith('follow')
        ? { aim: 'a killed task followed within 1 s of the task list', met: ours - raw <= 1000, detail: `${Math.round(ours - raw)} ms later` }
        : { aim: `${label.split(' ')[0]} ≤ 1.2 × raw`, met: ratio <= 1.2, detail: `${ratio.toFixed(2)} ×` },
    ),
  };
}
