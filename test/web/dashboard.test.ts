/**
 * The dashboard end to end: a real server process, jobs created through the real Batch API (AWS SDK), and Debian's
 * Chromium driving the pages. Screenshots of the main pages go to docs/screenshots/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page, BrowserContext } from 'playwright-core';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { launchBrowser, screenshot, signIn } from './browser.js';
import { batchClient, createQueue, submit, waitStatus } from './setup.js';

void describe('web dashboard (real server, real browser)', () => {
  let srv: TestServer;
  let browser: Browser;
  let batch: ReturnType<typeof batchClient>;
  const ids: Record<string, string> = {};

  before(async () => {
    srv = await startTestServer({ args: ['--runtime', 'process', '--vcpus', '4'] });
    batch = batchClient(srv.url, srv.accessKeyId, srv.secretAccessKey);
    await createQueue(batch, 'science');
    ids.alpha1 = await submit(batch, 'science', 'alpha-one', ['echo', 'one']);
    ids.alpha2 = await submit(batch, 'science', 'alpha-two', ['echo', 'two']);
    ids.beta = await submit(batch, 'science', 'beta-fail', ['sh', '-c', 'echo bad; exit 3']);
    ids.evil = await submit(batch, 'science', 'evil-job', ['sh', '-c', 'echo "<script>window.__pwned=1</script>"'], {
      containerOverrides: {
        environment: [
          { name: 'GREETING', value: '<img src=x onerror="window.__pwned=1">' },
          { name: 'API_TOKEN', value: 'hunter2-do-not-show' },
        ],
      },
      parameters: { p: '<script>window.__pwned=1</script>' },
    });
    for (const k of ['alpha1', 'alpha2', 'evil']) await waitStatus(batch, ids[k]!, 'SUCCEEDED');
    await waitStatus(batch, ids.beta, 'FAILED');
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await srv?.stop();
  });

  const contexts: BrowserContext[] = [];
  const newPage = async (): Promise<Page> => {
    // One page at a time: earlier pages keep live-update connections open otherwise.
    for (const c of contexts.splice(0)) await c.close();
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(ctx);
    return ctx.newPage();
  };

  void it('shows nothing about jobs before sign-in and refuses a wrong secret', async () => {
    const page = await newPage();
    const res = await page.goto(srv.url + '/');
    const csp = res!.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res!.headers()['x-content-type-options'], 'nosniff');
    await page.getByLabel('Access key ID').waitFor();
    assert.equal(await page.getByRole('navigation', { name: 'Main' }).isVisible(), false);
    assert.equal((await page.locator('#page').textContent())?.trim(), '');
    const api = await page.request.get(srv.url + '/ui/api/jobs');
    assert.equal(api.status(), 401);
    assert.doesNotMatch(await api.text(), /alpha/);
    assert.equal((await page.request.get(srv.url + '/ui/api/overview')).status(), 401);

    await page.getByLabel('Access key ID').fill(srv.accessKeyId);
    await page.getByLabel('Secret access key').fill('not-the-secret');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('wrong access key ID or secret access key').waitFor();
    assert.equal(await page.getByRole('navigation', { name: 'Main' }).isVisible(), false);
    assert.equal((await page.context().cookies()).length, 0);

    await page.getByLabel('Secret access key').fill(srv.secretAccessKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    const [cookie] = await page.context().cookies();
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');
    assert.ok(cookie.expires > Date.now() / 1000 + 3600, 'the session cookie expires (Max-Age)');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Access key ID').waitFor();
    assert.equal((await page.request.get(srv.url + '/ui/api/jobs')).status(), 401);
  });

  void it('overview counts jobs per state for each queue and shows the compute environment', async () => {
    const page = await newPage();
    await signIn(page, srv.url, srv.accessKeyId, srv.secretAccessKey);
    const row = page.locator('table.queues tbody tr', { hasText: 'science' });
    await row.waitFor();
    const cells = await row.locator('th, td').allTextContents();
    // Queue, Priority, State, SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING, SUCCEEDED, FAILED
    assert.deepEqual(cells, ['science', '10', 'ENABLED', '0', '0', '0', '0', '0', '3', '1']);
    const ce = await page.locator('table.ces tbody tr', { hasText: 'science-ce' }).locator('th, td').allTextContents();
    assert.deepEqual(ce.slice(0, 5), ['science-ce', 'MANAGED', 'ENABLED', 'VALID', '0 / 4']);
    assert.equal(await page.locator('svg.chart polyline').count(), 2);
    await screenshot(page, 'overview.png');
  });

  void it('searches jobs by name prefix and by id prefix, and opens a job with its attempts', async () => {
    const page = await newPage();
    await signIn(page, srv.url, srv.accessKeyId, srv.secretAccessKey);
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.locator('table.jobs tbody tr').first().waitFor();
    assert.equal(await page.locator('table.jobs tbody tr').count(), 4);
    await page.getByLabel('Search by job ID or name').fill('ALPHA');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('table.jobs tbody tr').length === 2);
    const names = await page.locator('table.jobs tbody tr td:nth-child(2)').allTextContents();
    assert.deepEqual(names.sort(), ['alpha-one', 'alpha-two']);
    await screenshot(page, 'jobs.png');

    await page.getByLabel('Search by job ID or name').fill(ids.beta!.slice(0, 8));
    await page.keyboard.press('Enter');
    await page.waitForFunction((id) => {
      const rows = (globalThis as any).document.querySelectorAll('table.jobs tbody tr');
      return rows.length === 1 && rows[0].getAttribute('data-job-id') === id;
    }, ids.beta!);
    await page.getByRole('link', { name: ids.beta! }).click();
    await page.locator('#job-name', { hasText: 'beta-fail' }).waitFor();
    assert.equal(await page.locator('#job-status').textContent(), 'FAILED');
    const attempt = await page.locator('table.attempts tbody tr').first().locator('th, td').allTextContents();
    assert.equal(attempt[0], '1');
    assert.equal(attempt[1], '3', 'exit code of the attempt');
    assert.equal(attempt[3], 'Essential container in task exited');
    assert.match(attempt[6]!, /\d+ s/);
    await page.getByRole('button', { name: 'View logs' }).click();
    // Without a log store the viewer says so; with one it shows the output.
    await page.waitForFunction(() => {
      const s = (globalThis as any).document.getElementById('log-status')?.textContent ?? '';
      return /logs unavailable|end of log/.test(s);
    });
    const logText = (await page.locator('#log-status').textContent()) ?? '';
    if (/end of log/.test(logText)) assert.match((await page.locator('#log-lines').textContent()) ?? '', /bad/);
    await page.getByRole('link', { name: 'science-def:1' }).click();
    await page.getByRole('heading', { name: 'science-def' }).waitFor();
    assert.match((await page.locator('pre.json').first().textContent()) ?? '', /"image": "busybox"/);
  });

  void it('follows a running job live: RUNNING then SUCCEEDED without a reload', async () => {
    const page = await newPage();
    await signIn(page, srv.url, srv.accessKeyId, srv.secretAccessKey);
    const id = await submit(batch, 'science', 'sleepy', ['sleep', '3']);
    await page.goto(`${srv.url}/#/jobs/${id}`);
    await page.locator('#job-name', { hasText: 'sleepy' }).waitFor();
    await page.evaluate(() => ((globalThis as any).__sameDocument = true));
    await page.locator('#job-status', { hasText: 'RUNNING' }).waitFor({ timeout: 10_000 });
    await page.locator('#job-status', { hasText: 'SUCCEEDED' }).waitFor({ timeout: 15_000 });
    assert.equal(await page.evaluate(() => (globalThis as any).__sameDocument), true, 'the page was not reloaded');
    const attempt = await page.locator('table.attempts tbody tr').first().locator('td').allTextContents();
    assert.equal(attempt[0], '0');
    await screenshot(page, 'job-detail.png');
  });

  void it('renders markup from job fields as text and runs none of it; secret-looking values are masked', async () => {
    const page = await newPage();
    await signIn(page, srv.url, srv.accessKeyId, srv.secretAccessKey);
    await page.goto(`${srv.url}/#/jobs/${ids.evil}`);
    await page
      .locator('#job-name', { hasText: 'evil-job' })
      .waitFor()
      .catch(async (err: unknown) => {
        // Say what the page showed instead (an error message, another job, nothing).
        const shown = await page
          .locator('#page')
          .textContent()
          .catch(() => '(unreadable)');
        throw new Error(`${(err as Error).message}\nthe page showed: ${shown?.slice(0, 2000)}`);
      });
    assert.match((await page.locator('#job-command').textContent()) ?? '', /<script>window.__pwned=1<\/script>/);
    const env = await page.locator('table.env').textContent();
    assert.match(env ?? '', /<img src=x onerror="window.__pwned=1">/);
    assert.doesNotMatch(env ?? '', /hunter2/);
    assert.match(env ?? '', /API_TOKEN••••••••/);
    assert.equal(await page.locator('#page img, #page script').count(), 0);
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate(() => (globalThis as any).__pwned), undefined);
    const raw = await (await page.request.get(`${srv.url}/ui/api/jobs/${ids.evil}`)).text();
    assert.doesNotMatch(raw, /hunter2/, 'masked values never reach the browser');
  });

  void it('has only GET routes behind the session besides sign-in and sign-out', async () => {
    const res = await fetch(srv.url + '/ui/api/jobs', { method: 'POST' });
    assert.equal(res.status >= 400 && res.status < 500, true);
    const health = await fetch(srv.url + '/healthz');
    assert.equal(health.status, 200);
  });
});
