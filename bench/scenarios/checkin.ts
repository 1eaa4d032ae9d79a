import { insertRecords, rawRun, removeLabelled, removeRecords, rssMiB, syntheticRecord, type BenchEnv } from '../lib/env.js';
import { interleavedLoad, type LoadFigures } from '../lib/load.js';
import type { Row, ScenarioReport } from '../lib/report.js';

/**
 * 4. POST /v1/check-in at 1,000 registered addresses, sent from loopback with X-Forwarded-For as nginx forwards
 * them; then GET /v1/images and GET /v1/containers/<id>. Each against the engine's nearest call.
 */
export async function checkinScenario(env: BenchEnv): Promise<ScenarioReport> {
  const rounds = env.quick ? 1 : 3;
  const duration = env.quick ? 1 : 5;
  const connections = 20;
  const records = Array.from({ length: 1000 }, (_, i) => syntheticRecord(i));
  await insertRecords(env, records);
  const addresses = records.map((r) => r.ip);
  let next = 0;

  const checkins = await interleavedLoad(
    rounds,
    {
      url: env.url,
      connections,
      duration,
      requests: [
        {
          method: 'POST',
          path: '/v1/check-in',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'active=1',
          setupRequest: (request) => {
            next = (next + 1) % addresses.length;
            return { ...request, headers: { ...request.headers, 'x-forwarded-for': addresses[next] as string } };
          },
        },
      ],
    },
    { url: 'http://localhost/_ping', socketPath: '/var/run/docker.sock', connections, duration },
  );
  const rss = rssMiB(env.apiPid);
  const credited = (await Promise.all(records.slice(0, 50).map((r) => env.store.get(r.id)))).filter((r) => r?.active === 1).length;

  const rawId = await rawRun(env);
  const images = await interleavedLoad(
    rounds,
    { url: `${env.url}/v1/images`, headers: { authorization: env.authorization }, connections, duration },
    { url: 'http://localhost/images/json', socketPath: '/var/run/docker.sock', connections, duration },
  );
  const one = await interleavedLoad(
    rounds,
    { url: `${env.url}/v1/containers/${records[0]?.id}`, headers: { authorization: env.authorization }, connections, duration },
    { url: `http://localhost/containers/${rawId}/json`, socketPath: '/var/run/docker.sock', connections, duration },
  );
  await removeLabelled(env.docker, env.rawInstance);
  await removeRecords(
    env,
    records.map((r) => r.id),
  );

  const row = (label: string, figures: LoadFigures, versus?: LoadFigures): Row => [
    label,
    figures.rps,
    figures.p50,
    figures.p99,
    figures.errors + figures.non2xx,
    versus === undefined ? '-' : figures.rps / versus.rps,
  ];
  return {
    name: '4. Check-in and reads',
    note:
      `autocannon ${connections} connections × ${duration} s, ${rounds} round(s) interleaved with the engine. ` +
      `Check-ins name 1,000 registered addresses in turn through X-Forwarded-For from loopback (the trusted-proxy path); ` +
      `the engine's nearest calls are GET /_ping, /images/json and /containers/<id>/json. API RSS after the check-ins: ${rss.toFixed(0)} MiB.`,
    header: ['', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'throughput × engine'],
    rows: [
      row('POST /v1/check-in', checkins.ours, checkins.raw),
      row('raw engine GET /_ping', checkins.raw),
      row('GET /v1/images', images.ours, images.raw),
      row('raw engine GET /images/json', images.raw),
      row('GET /v1/containers/<id>', one.ours, one.raw),
      row('raw engine GET /containers/<id>/json', one.raw),
    ],
    figures: {
      checkinRps: checkins.ours.rps,
      checkinP99Ms: checkins.ours.p99,
      checkinErrors: checkins.ours.errors + checkins.ours.non2xx,
      pingRps: checkins.raw.rps,
      apiRssMiB: rss,
      creditedOf50: credited,
      imagesRps: images.ours.rps,
      rawImagesRps: images.raw.rps,
      containerRps: one.ours.rps,
      rawContainerRps: one.raw.rps,
    },
    aims: [
      { aim: '≥ 4,000 check-ins/s', met: checkins.ours.rps >= 4000, detail: `${checkins.ours.rps} req/s` },
      { aim: 'check-in p99 under 50 ms', met: checkins.ours.p99 < 50, detail: `${checkins.ours.p99} ms` },
      // Served from memory (the catalog follows the engine's image events), so it must beat asking the engine.
      {
        aim: "GET /v1/images ≥ 5 × the engine's /images/json",
        met: images.ours.rps >= 5 * images.raw.rps && images.ours.non2xx + images.ours.errors === 0,
        detail: `× ${(images.ours.rps / images.raw.rps).toFixed(1)}`,
      },
      {
        aim: 'every check-in answered 200 and stored',
        met: checkins.ours.non2xx + checkins.ours.errors === 0 && credited === 50,
        detail: `${checkins.ours.non2xx + checkins.ours.errors} failed; ${credited}/50 sampled records credited`,
      },
    ],
  };
}
