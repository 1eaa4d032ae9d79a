#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import cliProgress from 'cli-progress';
import type { ContainerView, PullView } from '../client/api-client.js';
import { readEvents } from '../client/sse.js';
import { relative } from '../client/time.js';
import { CliClient, CliError, EXIT } from './client.js';
import { bytes, ports, table } from './format.js';

/**
 * `spin-docker`: the command line for a spin-docker server, over its HTTP API only (SD_URL, SD_PASSWORD, or
 * --url, --password). Exit codes: 0 done, 1 refused or failed by the server, 2 bad usage, 3 server
 * unreachable, 4 wrong password (or too many failed logins).
 */
interface Globals {
  url: string;
  user: string;
  password: string;
}

const out = (text: string): void => void process.stdout.write(text);
const err = (text: string): void => void process.stderr.write(text);
const client = (cmd: Command) => {
  const { url, user, password } = cmd.optsWithGlobals<Globals>();
  return new CliClient({ url, user, password });
};
const path = (id: string) => `/v1/containers/${encodeURIComponent(id)}`;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Runs `each` for every id; reports each failure on stderr and goes on; exits 1 if any failed (as docker rm does). */
async function forEach(ids: string[], each: (id: string) => Promise<void>): Promise<void> {
  let failed: CliError | undefined;
  for (const id of ids) {
    try {
      await each(id);
    } catch (error) {
      if (!(error instanceof CliError) || error.exitCode !== EXIT.refused) throw error;
      err(`spin-docker: ${id}: ${error.message}\n`);
      failed = error;
    }
  }
  if (failed !== undefined) throw new CliError('', EXIT.refused);
}

const program = new Command()
  .name('spin-docker')
  .description('Drive a spin-docker server from the command line, through its HTTP API.')
  .addOption(new Option('--url <url>', 'the server').env('SD_URL').default('http://localhost:8080'))
  .addOption(new Option('--user <name>', 'the user for Basic auth').env('SD_USER').default('admin'))
  .addOption(new Option('--password <password>', "the server's SD_PASSWORD").env('SD_PASSWORD').default('spindocker'))
  .showHelpAfterError('(spin-docker --help for usage)')
  .exitOverride();

program
  .command('ps')
  .description('List containers (running and asleep ones; --all for every one)')
  .option('-a, --all', 'every container, stopped ones too')
  .option('--json', 'the container objects as JSON')
  .option('-q, --quiet', 'ids only')
  .action(async (options: { all?: boolean; json?: boolean; quiet?: boolean }, cmd: Command) => {
    const all = await client(cmd).json<ContainerView[]>('GET', '/v1/containers');
    // Asleep containers are listed too: their ports answer (a connection wakes them).
    const shown = options.all ? all : all.filter((c) => c.status === 'running' || c.status === 'stopping' || c.asleep);
    if (options.json) return out(`${JSON.stringify(shown, null, 2)}\n`);
    if (options.quiet) return out(shown.map((c) => `${c.container_id.slice(0, 12)}\n`).join(''));
    out(
      table(
        ['CONTAINER ID', 'IMAGE', 'STATUS', 'PORTS', 'CONNECTIONS', 'LAST ACTIVITY', 'NEXT CHECK', 'NAME'],
        shown.map((c) => [
          c.container_id.slice(0, 12),
          c.image,
          c.asleep ? 'asleep' : c.status,
          ports(c.ports),
          c.connections,
          relative(c.last_activity_at),
          relative(c.next_check_at),
          c.name.replace(/^\//, ''),
        ]),
      ),
    );
  });

program
  .command('run')
  .description('Create and start a container; prints its id')
  .argument('<image>', 'the image, e.g. spin-docker/postgres')
  .option('--ssh-key <file>', 'OpenSSH public key(s) to log in with (e.g. ~/.ssh/id_ed25519.pub)')
  .option('-e, --env <NAME=value>', 'an environment variable (repeatable)', collect, [])
  .option('--stop-after <duration>', 'stop it this long after the create, whatever its activity (90m, 8h, 14d)')
  .option('--delete-after <duration>', 'delete it this long after the create')
  .option('--no-wake', 'a stopped container stays stopped: no wake on connect')
  .option('--json', 'the container object as JSON')
  .action(
    async (
      image: string,
      options: { sshKey?: string; env: string[]; json?: boolean; stopAfter?: string; deleteAfter?: string; wake: boolean },
      cmd: Command,
    ) => {
      const env: Record<string, string> = {};
      for (const pair of options.env) {
        const at = pair.indexOf('=');
        if (at <= 0) throw new CliError(`-e takes NAME=value, not ${JSON.stringify(pair)}`, EXIT.usage);
        env[pair.slice(0, at)] = pair.slice(at + 1);
      }
      let sshKey: string | undefined;
      if (options.sshKey !== undefined) {
        try {
          sshKey = readFileSync(options.sshKey, 'utf8');
        } catch (error) {
          throw new CliError(`cannot read --ssh-key ${options.sshKey} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, EXIT.usage);
        }
      }
      const body = {
        image,
        ...(sshKey === undefined ? {} : { ssh_key: sshKey }),
        ...(options.env.length === 0 ? {} : { env }),
        ...(options.stopAfter === undefined ? {} : { stop_after: options.stopAfter }),
        ...(options.deleteAfter === undefined ? {} : { delete_after: options.deleteAfter }),
        ...(options.wake ? {} : { wake: false }),
      };
      const container = await client(cmd).json<ContainerView>('POST', '/v1/containers', body);
      if (options.json) return out(`${JSON.stringify(container, null, 2)}\n`);
      out(`${container.container_id}\n`);
      if (process.stderr.isTTY) {
        err(
          `${container.status}${container.ssh_port ? `; ssh -p ${container.ssh_port} root@<server>` : ''}${container.app_port ? `; app on port ${container.app_port}` : ''}\n`,
        );
      }
    },
  );

for (const [name, status, what] of [
  ['start', 'running', 'Start stopped containers again (on the same ports)'],
  ['stop', 'stopped', 'Stop containers (the server stops them in the background)'],
] as const) {
  program
    .command(name)
    .description(what)
    .argument('<id...>', 'container ids, or unique prefixes of at least 4 characters')
    .action(async (ids: string[], _options: unknown, cmd: Command) => {
      const api = client(cmd);
      await forEach(ids, async (id) => {
        const container = await api.json<ContainerView>('PATCH', path(id), { status });
        out(`${container.container_id}\n`);
      });
    });
}

program
  .command('extend')
  .description('Keep a running container up longer: its stop deadline moves, and it counts as in use until then')
  .argument('<id>', 'container id or unique prefix')
  .argument('<duration>', 'how much longer: 30m, 2h, 1d')
  .action(async (id: string, duration: string, _options: unknown, cmd: Command) => {
    const container = await client(cmd).json<ContainerView>('PATCH', path(id), { extend: duration });
    out(`${container.container_id}${container.stop_at === null ? '' : ` stops at ${container.stop_at}`}\n`);
  });

program
  .command('rm')
  .description('Delete containers (stopped and removed by the server in the background)')
  .argument('<id...>', 'container ids, or unique prefixes of at least 4 characters')
  .action(async (ids: string[], _options: unknown, cmd: Command) => {
    const api = client(cmd);
    await forEach(ids, async (id) => {
      const container = await api.json<ContainerView>('GET', path(id));
      await api.json('DELETE', path(container.container_id));
      out(`${container.container_id}\n`);
    });
  });

program
  .command('logs')
  .description("Print a container's output (stdout and stderr, as written)")
  .argument('<id>', 'container id or unique prefix')
  .option('-f, --follow', 'keep printing until the container stops')
  .option('-n, --tail <lines>', "lines from the end ('all' for every line)", '100')
  .option('-t, --timestamps', 'start each line with its time')
  .action(async (id: string, options: { follow?: boolean; tail: string; timestamps?: boolean }, cmd: Command) => {
    const query = new URLSearchParams({ tail: options.tail, follow: String(Boolean(options.follow)), timestamps: String(Boolean(options.timestamps)) });
    const res = await client(cmd).request('GET', `${path(id)}/logs?${query}`, { headers: { accept: 'text/plain' } });
    if (res.body === null) return;
    for await (const chunk of res.body) process.stdout.write(chunk);
  });

program
  .command('inspect')
  .description('Print container objects as JSON')
  .argument('<id...>', 'container ids or unique prefixes')
  .action(async (ids: string[], _options: unknown, cmd: Command) => {
    const api = client(cmd);
    const found: ContainerView[] = [];
    await forEach(ids, async (id) => {
      found.push(await api.json<ContainerView>('GET', path(id)));
    }).finally(() => out(`${JSON.stringify(found, null, 2)}\n`));
  });

program
  .command('images')
  .description('List the images the server can start')
  .option('--json', 'as a JSON array')
  .action(async (options: { json?: boolean }, cmd: Command) => {
    const images = await client(cmd).json<string[]>('GET', '/v1/images');
    out(options.json ? `${JSON.stringify(images, null, 2)}\n` : images.map((image) => `${image}\n`).join(''));
  });

program
  .command('pull')
  .description('Pull an image onto the server, showing its progress')
  .argument('<image>', 'an image reference, e.g. registry.example.org/team/app:1')
  .action(async (image: string, _options: unknown, cmd: Command) => {
    const api = client(cmd);
    const started = await api.json<PullView | { image: string; status: 'present' }>('POST', '/v1/images', { image });
    if (started.status === 'present') return out(`${image}: already present\n`);
    let pull = started as PullView;
    const tty = process.stderr.isTTY === true;
    const bar = tty
      ? new cliProgress.SingleBar(
          { format: `${image} [{bar}] {percentage}% | {done} of {size}`, hideCursor: true, stream: process.stderr },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
    bar?.start(Math.max(pull.bytes_total, 1), 0, { done: bytes(0), size: '?' });
    let said = '';
    try {
      while (pull.status === 'pulling') {
        await new Promise((resolve) => setTimeout(resolve, tty ? 250 : 1000));
        pull = await api.json<PullView>('GET', pull.uri);
        if (bar !== undefined) {
          bar.setTotal(Math.max(pull.bytes_total, 1));
          bar.update(pull.bytes_done, { done: bytes(pull.bytes_done), size: pull.bytes_total > 0 ? bytes(pull.bytes_total) : '?' });
        } else {
          const line = `${image}: pulling, ${bytes(pull.bytes_done)} of ${pull.bytes_total > 0 ? bytes(pull.bytes_total) : '?'} (${pull.layers.length} layers)\n`;
          if (line !== said) err(line);
          said = line;
        }
      }
    } finally {
      bar?.stop();
    }
    if (pull.status === 'failed') throw new CliError(`${image}: pull failed: ${pull.error ?? 'no reason given'}`, EXIT.refused);
    out(`${image}: done (${bytes(pull.bytes_total)})\n`);
  });

program
  .command('events')
  .description('Print what happens, as it happens (reconnects by itself, missing nothing)')
  .option('--json', 'one JSON object per line: {id, type, data}')
  .option('--since <event-id>', 'start after this event id (as printed with --json)')
  .action(async (options: { json?: boolean; since?: string }, cmd: Command) => {
    const api = client(cmd);
    let last = options.since;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const res = await api.request('GET', '/v1/events', {
          headers: { accept: 'text/event-stream', ...(last === undefined ? {} : { 'last-event-id': last }) },
        });
        attempt = 0;
        for await (const event of readEvents(res.body as ReadableStream<Uint8Array>)) {
          if (event.id !== undefined) last = event.id;
          const data = JSON.parse(event.data) as { container_id?: string; container?: ContainerView; pull?: PullView };
          if (options.json) {
            out(`${JSON.stringify({ id: event.id, type: event.type, data })}\n`);
          } else {
            const time = new Date(Number(event.id?.split('-')[0] ?? Date.now())).toISOString();
            const about = data.pull
              ? `${data.pull.image} ${data.pull.status} ${bytes(data.pull.bytes_done)}/${bytes(data.pull.bytes_total)}`
              : `${(data.container_id ?? '').slice(0, 12)} ${data.container?.image ?? ''}${data.container?.connections ? ` connections=${data.container.connections}` : ''}`;
            out(`${time} ${event.type} ${about.trim()}\n`);
          }
        }
      } catch (error) {
        // A refusal (bad id, wrong password) is final; a lost connection is tried again.
        if (error instanceof CliError && error.exitCode !== EXIT.unreachable) throw error;
        if (attempt >= 30) throw error instanceof CliError ? error : new CliError(`lost the event stream (${(error as Error).message})`, EXIT.unreachable);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000 * 2 ** Math.min(attempt, 3), 5000)));
    }
  });

async function main(): Promise<number> {
  try {
    await program.parseAsync(process.argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof CliError) {
      if (error.message !== '') err(`spin-docker: ${error.message}\n`);
      return error.exitCode;
    }
    err(`spin-docker: ${(error as Error)?.message ?? String(error)}\n`);
    return EXIT.refused;
  }
}

// Output to a closed pipe (`spin-docker events | head`) ends quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => process.exit(error.code === 'EPIPE' ? 0 : 1));
process.exitCode = await main();
