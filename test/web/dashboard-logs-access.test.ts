/**
 * The dashboard with a log store wired in (an in-process server built by startServer with an in-memory log part):
 * log paging and live following, markup in log output, array children, PI isolation (a non-admin identity through
 * the routes), and first paint with 100,000 jobs in the store.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { buildHttpServer } from '../../src/api/http.js';
import { dashboardPlugin } from '../../src/api/web/dashboard.js';
import { resolveConfig } from '../../src/config.js';
import type { Job } from '../../src/core/types.js';
import { startServer, type RunningServer } from '../../src/server.js';
import type { Caller } from '../../src/core/caller.js';
import { launchBrowser, signIn } from './browser.js';
import { MemoryLogs } from './memory-logs.js';
import { batchClient, createQueue, submit, waitStatus } from './setup.js';

const AKID = 'AKIATESTROOT00000002';
const SECRET = 'test-root-secret-key-1111111111111111111';

function storedJob(id: string, name: string, queueArn: string, pi: string, extra: Partial<Job> = {}): Job {
  const t = Date.now() - 3600_000;
  return {
    jobId: id,
    jobArn: `arn:aws:batch:us-east-1:123456789012:job/${id}`,
    jobName: name,
    jobQueueArn: queueArn,
    jobDefinitionArn: 'arn:aws:batch:us-east-1:123456789012:job-definition/science-def:1',
    status: 'SUCCEEDED',
    statusReason: 'Essential container in task exited',
    createdAt: t,
    startedAt: t + 1000,
    stoppedAt: t + 1000 + 1800_000,
    statusChangedAt: t,
    attempts: [{ container: { exitCode: 0 }, startedAt: t + 1000, stoppedAt: t + 1000 + 1800_000 }],
    container: { exitCode: 0 },
    dependsOn: [],
    parameters: {},
    containerProperties: { image: 'busybox', command: ['true'] },
    resources: { vcpus: 2, memoryMiB: 64, gpus: 0 },
    owner: { user: `${pi}-user`, pi },
    ...extra,
  };
}

void describe('web dashboard with logs, arrays, PI isolation and 100,000 jobs', () => {
  let dataDir: string;
  let srv: RunningServer;
  let browser: Browser;
  let page: Page;
  let batch: ReturnType<typeof batchClient>;
  let queueArn: string;
  const logs = new MemoryLogs();

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'openbatch-web-'));
    process.env.OPENBATCH_ROOT_ACCESS_KEY_ID = AKID;
    process.env.OPENBATCH_ROOT_SECRET_ACCESS_KEY = SECRET;
    const cfg = resolveConfig({ dataDir, port: 0, runtime: 'process', vcpus: 4, logLevel: 'quiet' });
    srv = await startServer(cfg, { logs: () => ({ sink: logs, reader: logs }) });
    batch = batchClient(srv.url, srv.root.accessKeyId, srv.root.secretAccessKey);
    await createQueue(batch, 'science');
    queueArn = srv.registry.queueByNameOrArn('science')!.jobQueueArn;
    browser = await launchBrowser();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await signIn(page, srv.url, srv.root.accessKeyId, srv.root.secretAccessKey);
  });

  after(async () => {
    await browser?.close();
    await srv?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  void it('pages through a large log and shows markup printed by a job as text', async () => {
    const id = await submit(batch, 'science', 'chatty', [
      'sh',
      '-c',
      'echo "<script>window.__pwned=1</script><img src=x onerror=window.__pwned=1>"; i=1; while [ $i -le 1500 ]; do echo "line $i"; i=$((i+1)); done',
    ]);
    await waitStatus(batch, id, 'SUCCEEDED');
    await page.goto(`${srv.url}/#/jobs/${id}`);
    await page.locator('#job-name', { hasText: 'chatty' }).waitFor();
    await page.locator('#log-status', { hasText: '500 lines loaded; more below.' }).waitFor({ timeout: 15_000 });
    assert.match((await page.locator('#log-lines').textContent()) ?? '', /line 499\n$/);
    assert.equal(await page.getByRole('button', { name: 'Load more' }).isVisible(), true);
    // Infinite scroll: bringing the end of the log into view loads the next pages.
    await page.locator('#logs .sentinel').scrollIntoViewIfNeeded();
    await page.locator('#log-status', { hasText: 'end of log' }).waitFor({ timeout: 15_000 });
    const text = (await page.locator('#log-lines').textContent()) ?? '';
    assert.ok(text.startsWith('<script>window.__pwned=1</script><img src=x onerror=window.__pwned=1>\n'));
    assert.match(text, /line 1500\n$/);
    assert.equal(text.split('\n').length - 1, 1501, 'every line once, in order, over several pages');
    assert.match((await page.locator('#log-status').textContent()) ?? '', /^1501 lines/);
    assert.equal(await page.locator('#logs img, #logs script').count(), 0);
    assert.equal(await page.evaluate(() => (globalThis as any).__pwned), undefined);
  });

  void it('follows the log of a running job live', async () => {
    const id = await submit(batch, 'science', 'slow-talker', ['sh', '-c', 'echo first; sleep 2; echo second']);
    await page.goto(`${srv.url}/#/jobs/${id}`);
    await page.locator('#log-lines', { hasText: 'first' }).waitFor({ timeout: 10_000 });
    assert.doesNotMatch((await page.locator('#log-lines').textContent()) ?? '', /second/);
    await page.locator('#log-lines', { hasText: 'second' }).waitFor({ timeout: 10_000 });
    await page.locator('#job-status', { hasText: 'SUCCEEDED' }).waitFor({ timeout: 10_000 });
  });

  void it('shows an array parent with its children by index', async () => {
    const parent = storedJob('a0000000-0000-4000-8000-000000000001', 'sweep', queueArn, '', {
      arrayProperties: { size: 3, statusSummary: { SUCCEEDED: 2, FAILED: 1 } },
    });
    const kids = [0, 1, 2].map((i) =>
      storedJob(`${parent.jobId}:${i}`, 'sweep', queueArn, '', {
        arrayProperties: { index: i },
        ...(i === 1 ? { status: 'FAILED' as const, container: { exitCode: 1 } } : {}),
      }),
    );
    await srv.store.writeJobs([parent, ...kids]);
    await page.goto(`${srv.url}/#/jobs/${parent.jobId}`);
    await page.getByRole('heading', { name: 'Array job: 3 children' }).waitFor();
    assert.equal(await page.locator('#array-summary').textContent(), 'SUCCEEDED: 2, FAILED: 1');
    const rows = await page
      .locator('table.children tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.children].slice(0, 4).map((c) => c.textContent)));
    assert.deepEqual(rows, [
      ['0', `${parent.jobId}:0`, 'SUCCEEDED', '0'],
      ['1', `${parent.jobId}:1`, 'FAILED', '1'],
      ['2', `${parent.jobId}:2`, 'SUCCEEDED', '0'],
    ]);
    await page.getByRole('link', { name: `${parent.jobId}:1` }).click();
    await page.getByRole('link', { name: parent.jobId, exact: true }).waitFor();
  });

  void it("keeps a non-admin to their own PI group's jobs in every route", async () => {
    await srv.store.writeJobs([
      storedJob('b0000000-0000-4000-8000-00000000000a', 'mine-1', queueArn, 'lab-a'),
      storedJob('b0000000-0000-4000-8000-00000000000b', 'theirs-1', queueArn, 'lab-b'),
    ]);
    const callers: Record<string, { secret: string; caller: Caller }> = {
      AKIAALICE: { secret: 'alice-secret', caller: { user: 'alice', pi: 'lab-a', admin: false } },
    };
    const app = buildHttpServer({
      services: { registry: srv.registry, jobs: srv.jobs },
      identities: { lookup: (k) => callers[k] },
      health: () => ({}),
      plugins: [
        dashboardPlugin({
          registry: srv.registry,
          jobs: srv.jobs,
          store: srv.store,
          identities: { lookup: (k) => callers[k] },
          sessionKey: randomBytes(32),
          logs,
        }),
      ],
    });
    try {
      const login = await app.inject({
        method: 'POST',
        url: '/ui/session',
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'accessKeyId=AKIAALICE&secretAccessKey=alice-secret',
      });
      assert.equal(login.statusCode, 200);
      const cookie = String(login.headers['set-cookie']).split(';')[0]!;
      assert.match(String(login.headers['set-cookie']), /HttpOnly; SameSite=Strict; Path=\/; Max-Age=28800/);
      const get = async (url: string) => {
        const r = await app.inject({ method: 'GET', url, headers: { cookie } });
        return { status: r.statusCode, body: r.json() };
      };
      const list = await get('/ui/api/jobs');
      assert.deepEqual(
        list.body.jobs.map((j: { jobName: string }) => j.jobName),
        ['mine-1'],
      );
      const asked = await get('/ui/api/jobs?pi=lab-b');
      assert.deepEqual(
        asked.body.jobs.map((j: { jobName: string }) => j.jobName),
        ['mine-1'],
      );
      assert.equal((await get('/ui/api/jobs?q=theirs')).body.jobs.length, 0);
      assert.equal((await get('/ui/api/jobs/b0000000-0000-4000-8000-00000000000b')).status, 404);
      assert.equal((await get('/ui/api/jobs/b0000000-0000-4000-8000-00000000000b/logs')).status, 404);
      assert.equal((await get('/ui/api/jobs/b0000000-0000-4000-8000-00000000000a')).status, 200);
      const overview = await get('/ui/api/overview');
      assert.deepEqual(overview.body.queues.find((q: { name: string }) => q.name === 'science').counts, {
        SUCCEEDED: 1,
      });
      const usage = await get(`/ui/api/usage?from=0&to=${Date.now() + 1}`);
      assert.deepEqual(usage.body.byUser, [{ pi: 'lab-a', user: 'lab-a-user', jobs: 1, vcpuHours: 1 }]);
      const wrong = await app.inject({
        method: 'POST',
        url: '/ui/session',
        headers: { accept: 'application/json' },
        payload: 'accessKeyId=AKIAALICE&secretAccessKey=alice-secreT',
      });
      assert.equal(wrong.statusCode, 401);
      assert.equal(wrong.headers['set-cookie'], undefined);
    } finally {
      await app.close();
    }
  });

  void it('paints the overview and the jobs page with 100,000 jobs, and finds one by id', async () => {
    const N = 100_000;
    const base = Date.now() - 10 * 24 * 3600_000;
    let batchJobs: Job[] = [];
    let needle = '';
    for (let i = 0; i < N; i++) {
      const id = `${((i * 2654435761) % 0xffffffff).toString(16).padStart(8, '0')}-0000-4000-8000-${String(i).padStart(12, '0')}`;
      if (i === 12_345) needle = id;
      batchJobs.push(
        storedJob(id, `bulk-${i}`, queueArn, i % 2 ? 'lab-a' : 'lab-b', {
          createdAt: base + i * 1000,
          stoppedAt: base + i * 1000 + 60_000,
          ...(i % 10 === 0 ? { status: 'FAILED' as const } : {}),
        }),
      );
      if (batchJobs.length === 10_000) {
        await srv.store.writeJobs(batchJobs);
        batchJobs = [];
      }
    }
    const timed = async (hash: string, ready: string) => {
      const fresh = await (await browser.newContext()).newPage();
      await signIn(fresh, srv.url, srv.root.accessKeyId, srv.root.secretAccessKey);
      await fresh.goto('about:blank');
      const t0 = Date.now();
      await fresh.goto(`${srv.url}/#${hash}`);
      await fresh.locator(ready).first().waitFor();
      const ms = Date.now() - t0;
      await fresh.context().close();
      return ms;
    };
    const overviewMs = await timed('/', 'table.queues tbody tr');
    const jobsMs = await timed('/jobs', 'table.jobs tbody tr');
    const searchMs = await timed(`/jobs?q=${needle.slice(0, 13)}`, `table.jobs tbody tr[data-job-id="${needle}"]`);
    // Timing belongs to the benchmarks (npm run bench); this only reports it.
    console.log(`first paint with ${N} jobs: overview ${overviewMs} ms, jobs ${jobsMs} ms, id search ${searchMs} ms`);
  });
});
