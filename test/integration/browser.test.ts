import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { TEST_IMAGES } from '../support/images.js';
import { launchChromium } from '../support/browser.js';
import { sample } from '../support/prom.js';

/**
 * The API as a browser target: an admin's browser holds the dashboard's Basic login and visits a page of
 * another site (here another port of the same host, as a container's own page would be). That page tries what
 * such pages try; nothing it sends may change anything. Real Chromium, real API.
 */
let h: Harness;
let browser: Browser;
let context: BrowserContext;
let evil: Server;
let evilPage = '';

const api = () => `http://127.0.0.1:${h.port}`;

beforeAll(async () => {
  h = await startHarness();
  browser = await launchChromium();
  // The browser answers the API's Basic challenge with the admin's login, as one that logged in to the dashboard does.
  context = await browser.newContext({ httpCredentials: { username: 'admin', password: h.auth[1] } });
  evil = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' }).end(evilPage);
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => evil?.close(resolve));
  await h?.close();
});

const evilUrl = () => `http://127.0.0.1:${(evil.address() as AddressInfo).port}/`;
const records = async () => (await h.http.get('/v1/containers').auth(...h.auth)).body as { container_id: string }[];

describe('a page of another site', () => {
  it('cannot create a container by a form it posts, nor pull by a beacon or a no-cors fetch: 403 cross_site, nothing created', async () => {
    const before = (await records()).length;
    const refused: { url: string; status: number }[] = [];
    const page = await context.newPage();
    page.on('response', (res) => {
      if (res.url().startsWith(api())) refused.push({ url: res.url().slice(api().length), status: res.status() });
    });
    evilPage = `<!doctype html><html><body>
      <form id="f" method="POST" action="${api()}/v1/containers">
        <input name="image" value="${TEST_IMAGES.noPorts}">
        <input name="ssh_key" value="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILUV5ErnKdseIqInw8AS3grtsEOmTR7DR0ELunVf6aPO evil@elsewhere">
      </form>
      <script>
        navigator.sendBeacon('${api()}/v1/images?image=${TEST_IMAGES.noPorts}');
        fetch('${api()}/v1/containers?image=${TEST_IMAGES.noPorts}', { method: 'POST', mode: 'no-cors', credentials: 'include' });
        fetch('${api()}/v1/containers/audit', { method: 'POST', mode: 'no-cors', credentials: 'include' });
        setTimeout(() => document.getElementById('f').submit(), 300);
      </script>
    </body></html>`;
    await page.goto(evilUrl());
    await page.waitForURL(`${api()}/v1/containers`, { timeout: 10_000 });
    expect(await page.textContent('body')).toMatch(/cross_site/);
    await expect.poll(() => refused.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    await page.close();
    // Whatever reached the API was refused; nothing was created, pulled or audited.
    expect(refused.every((r) => r.status === 403)).toBe(true);
    expect((await records()).length).toBe(before);
    expect((await h.worker.runtime.listManaged()).length).toBe(before);
  });

  it('cannot run the audit through its GET form from an image tag, nor frame the dashboard', async () => {
    const page = await context.newPage();
    // What the API answered (the browser itself drops a JSON answer to an <img>: the server's count says it).
    const refusedLists = async () =>
      sample(await h.api.metrics.registry.metrics(), 'spin_docker_http_request_duration_seconds_count', { method: 'GET', status: '403' }) || 0;
    const before = await refusedLists();
    const blocked: string[] = [];
    page.on('console', (message) => blocked.push(message.text()));
    evilPage = `<!doctype html><html><body>
      <img src="${api()}/v1/containers?audit=true">
      <iframe id="frame" src="${api()}/"></iframe>
    </body></html>`;
    await page.goto(evilUrl());
    await expect.poll(refusedLists, { timeout: 10_000 }).toBe(before + 1);
    // The dashboard refuses to be framed by another site (frame-ancestors 'none').
    await expect.poll(() => blocked.join('\n'), { timeout: 10_000 }).toMatch(/frame-ancestors|Refused to (display|frame)/);
    await page.close();
  });
});

describe('the dashboard and curl', () => {
  it('the dashboard sends its own changes as before, under a policy that runs only its own scripts, with no violation', async () => {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    const res = await page.goto(`${api()}/`);
    const policy = res?.headers()['content-security-policy'] ?? '';
    expect(policy).toMatch(/default-src 'self'/);
    expect(policy).toMatch(/frame-ancestors 'none'/);
    expect(policy).not.toMatch(/unsafe-inline/);
    await expect.poll(() => page.locator('#live').textContent(), { timeout: 10_000 }).toBe('live');
    await page.click('#create-submit');
    await expect.poll(async () => (await records()).length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('clients that are not browsers send neither header and are served; a same-origin Origin is too', async () => {
    expect((await h.http.post('/v1/containers/audit').auth(...h.auth)).status).toBe(200);
    expect((await h.http.get('/v1/containers?audit=true').auth(...h.auth)).status).toBe(200);
    expect(
      (
        await h.http
          .post('/v1/containers/audit')
          .auth(...h.auth)
          .set('Origin', api())
          .set('Sec-Fetch-Site', 'same-origin')
      ).status,
    ).toBe(200);
    const other = await h.http
      .post('/v1/containers/audit')
      .auth(...h.auth)
      .set('Origin', `http://127.0.0.1:${h.port + 1}`);
    expect(other.status).toBe(403);
    expect(other.body).toMatchObject({ code: 'cross_site', message: expect.stringMatching(/another site/) });
    expect(
      (
        await h.http
          .delete('/v1/images/x')
          .auth(...h.auth)
          .set('Sec-Fetch-Site', 'same-site')
      ).status,
    ).toBe(403);
  });
});
