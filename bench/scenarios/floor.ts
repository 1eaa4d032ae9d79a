import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cpuMs, insertRecords, removeRecords, syntheticRecord, type BenchEnv } from '../lib/env.js';
import type { ScenarioReport } from '../lib/report.js';
import { median } from '../lib/stats.js';

const run = promisify(execFile);

interface Wrk {
  readonly rps: number;
  readonly p50: number;
  /** CPU (user + system) per request of the processes serving it, in µs: the server's own, and its Redis's. */
  readonly cpuUs: readonly number[];
}

/** wrk -t1 -c20 -d<s> (a load generator in C: the least of the two cores it takes from the servers). */
async function wrk(url: string, seconds: number, pids: readonly number[], script?: string, headers: string[] = []): Promise<Wrk> {
  const args = ['-t1', '-c20', `-d${seconds}s`, '--latency', ...headers.flatMap((h) => ['-H', h]), ...(script === undefined ? [] : ['-s', script]), url];
  const before = pids.map(cpuMs);
  const { stdout } = await run('wrk', args, { timeout: (seconds + 30) * 1000 });
  const used = pids.map((pid, i) => cpuMs(pid) - (before[i] ?? 0));
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  const p50text = /\s50%\s+([\d.]+)(us|ms|s)/.exec(stdout);
  const unit = p50text?.[2] === 'us' ? 0.001 : p50text?.[2] === 's' ? 1000 : 1;
  return { rps, p50: Number(p50text?.[1] ?? NaN) * unit, cpuUs: used.map((ms) => (ms * 1000) / (rps * seconds)) };
}

async function startBare(password: string): Promise<{ port: number; pid: number; stop: () => void }> {
  const child = spawn(process.execPath, ['bench/floor/bare-app.mjs'], {
    env: { PATH: process.env.PATH, SD_PASSWORD: password, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve) => child.stdout.on('data', (d: Buffer) => resolve(Number(/listening (\d+)/.exec(d.toString())?.[1]))));
  return { port, pid: child.pid as number, stop: () => child.kill('SIGTERM') };
}

/**
 * 10. The hot paths at the framework's floor: GET /v1/containers/<id> and a check-in with its token, against a
 * bare Express 5 app doing the same shape of work (the same body parsers, a Basic-auth string compare, a
 * 500-byte JSON answer; bench/floor/bare-app.mjs), with wrk, in alternating rounds.
 */
export async function floorScenario(env: BenchEnv): Promise<ScenarioReport> {
  const seconds = env.quick ? 1 : 8;
  const rounds = env.quick ? 1 : 2;
  const token = randomBytes(24).toString('base64url');
  const record = syntheticRecord(0, { tokenHash: createHash('sha256').update(token).digest('hex') });
  await insertRecords(env, [record]);
  const password = Buffer.from(env.authorization.slice('Basic '.length), 'base64').toString().split(':')[1] ?? '';
  const bare = await startBare(password);
  const dir = mkdtempSync(join(tmpdir(), 'sd-wrk-'));
  const checkin = join(dir, 'checkin.lua');
  writeFileSync(
    checkin,
    `wrk.method = "POST"\nwrk.body = "active=1"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\nwrk.headers["Authorization"] = "Bearer ${token}"\n`,
  );
  const basic = [`Authorization: ${env.authorization}`];
  const samples = { get: [] as Wrk[], bareGet: [] as Wrk[], checkin: [] as Wrk[], bareCheckin: [] as Wrk[] };
  const bareUrl = `http://127.0.0.1:${bare.port}`;
  const server = [env.apiPid, env.redisPid];
  try {
    // A warm-up of each, then alternating rounds.
    await wrk(`${env.url}/v1/containers/${record.id}`, 1, server, undefined, basic);
    await wrk(`${bareUrl}/v1/containers/${record.id}`, 1, [bare.pid], undefined, basic);
    for (let round = 0; round < rounds; round += 1) {
      samples.get.push(await wrk(`${env.url}/v1/containers/${record.id}`, seconds, server, undefined, basic));
      samples.bareGet.push(await wrk(`${bareUrl}/v1/containers/${record.id}`, seconds, [bare.pid], undefined, basic));
      samples.checkin.push(await wrk(`${env.url}/v1/check-in`, seconds, server, checkin));
      samples.bareCheckin.push(await wrk(`${bareUrl}/v1/check-in`, seconds, [bare.pid], checkin));
    }
  } finally {
    bare.stop();
    rmSync(dir, { recursive: true, force: true });
    await removeRecords(env, [record.id]);
  }
  const rps = (list: Wrk[]) => median(list.map((s) => s.rps));
  const p50 = (list: Wrk[]) => median(list.map((s) => s.p50));
  /** The median run's CPU per request, all its processes together (the server's: the API and its Redis). */
  const cpu = (list: Wrk[]) => median(list.map((s) => s.cpuUs.reduce((sum, us) => sum + us, 0)));
  const redisShare = (list: Wrk[]) => median(list.map((s) => s.cpuUs[1] ?? 0));
  const getRatio = rps(samples.get) / rps(samples.bareGet);
  const checkinRatio = rps(samples.checkin) / rps(samples.bareCheckin);
  return {
    name: "10. Hot paths at the framework's floor",
    note:
      `wrk -t1 -c20 -d${seconds}s, ${rounds} round(s) alternating, against the server and a bare Express 5 app of the same shape (the same body parsers, a ` +
      `Basic-auth compare, a 500-byte JSON answer; no Redis, no logging, no metrics). The server's read costs one Redis round trip (the record), a check-in one Lua script. CPU per request from /proc (user + system; the server's with its Redis's).`,
    header: ['', 'req/s', 'p50 ms', 'CPU µs/req', 'of it Redis', 'bare req/s', 'bare p50 ms', 'bare CPU µs/req', '× bare'],
    rows: [
      [
        'GET /v1/containers/<id>',
        rps(samples.get),
        p50(samples.get),
        cpu(samples.get),
        redisShare(samples.get),
        rps(samples.bareGet),
        p50(samples.bareGet),
        cpu(samples.bareGet),
        getRatio,
      ],
      [
        'POST /v1/check-in (token)',
        rps(samples.checkin),
        p50(samples.checkin),
        cpu(samples.checkin),
        redisShare(samples.checkin),
        rps(samples.bareCheckin),
        p50(samples.bareCheckin),
        cpu(samples.bareCheckin),
        checkinRatio,
      ],
    ],
    figures: {
      getRps: rps(samples.get),
      bareGetRps: rps(samples.bareGet),
      checkinRps: rps(samples.checkin),
      bareCheckinRps: rps(samples.bareCheckin),
      getRatio,
      checkinRatio,
      getCpuUs: cpu(samples.get),
      bareGetCpuUs: cpu(samples.bareGet),
      checkinCpuUs: cpu(samples.checkin),
      bareCheckinCpuUs: cpu(samples.bareCheckin),
    },
    aims: [
      { aim: 'GET one ≥ 0.8 × the bare app', met: getRatio >= 0.8, detail: `${getRatio.toFixed(2)} ×` },
      { aim: 'a check-in ≥ 0.8 × the bare app', met: checkinRatio >= 0.8, detail: `${checkinRatio.toFixed(2)} ×` },
    ],
  };
}
