/**
 * Dashboard gaps closed, in Chromium against a real server: a job submitted while the jobs table is open appears in
 * it (when it matches the filters); an array's page shows its children by state as a bar; the overview's one-hour
 * chart keeps its past across a server restart.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as B from '@aws-sdk/client-batch';
import type { Browser, Page } from 'playwright-core';
import { waitFor } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { launchBrowser, signIn } from './browser.js';
import { batchClient, createQueue, submit, waitStatus } from './setup.js';

let srv: TestServer;
let browser: Browser;
let batch: B.BatchClient;
let ok = false;

async function openPage(): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await signIn(page, srv.url, srv.accessKeyId, srv.secretAccessKey);
  return page;
}

before(async () => {
  srv = await startTestServer({ args: ['--vcpus', '4'] });
  batch = batchClient(srv.url, srv.accessKeyId, srv.secretAccessKey);
  await createQueue(batch, 'live');
  await createQueue(batch, 'other');
  // A queue whose jobs wait RUNNABLE: its compute environment is disabled.
  await batch.send(
    new B.CreateComputeEnvironmentCommand({
      computeEnvironmentName: 'held-ce',
      type: 'MANAGED',
      state: 'DISABLED',
      computeResources: { type: 'EC2', maxvCpus: 4 },
    }),
  );
  await batch.send(
    new B.CreateJobQueueCommand({
      jobQueueName: 'held',
      priority: 1,
      computeEnvironmentOrder: [{ order: 1, computeEnvironment: 'held-ce' }],
    }),
  );
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  batch?.destroy();
  await srv?.stop({ keepData: !ok });
});

describe('dashboard: live jobs table, array progress, chart across restarts', () => {
  it('adds a newly submitted job to the open jobs table when it matches the filters', async () => {
    const page = await openPage();
    const first = await submit(batch, 'live', 'first', ['true']);
    await page.goto(srv.url + '/#/jobs?queue=live');
    await page.locator(`tr[data-job-id="${first}"]`).waitFor();
    const fresh = await submit(batch, 'live', 'fresh-one', ['sleep', '1']);
    const elsewhere = await submit(batch, 'other', 'not-this-queue', ['true']);
    // No reload, no search: the row arrives by itself, on top.
    const row = page.locator(`tr[data-job-id="${fresh}"]`);
    await row.waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('table.jobs tbody tr').first().getAttribute('data-job-id'), fresh);
    assert.match((await row.textContent()) ?? '', /fresh-one/);
    await waitStatus(batch, fresh, 'SUCCEEDED');
    await page.locator(`tr[data-job-id="${fresh}"] .status-succeeded`).waitFor({ timeout: 30_000 });
    assert.equal(await page.locator(`tr[data-job-id="${elsewhere}"]`).count(), 0, 'filtered out');
    assert.equal(await page.locator(`tr[data-job-id="${fresh}"]`).count(), 1, 'added once');
    await page.context().close();
  });

  it("shows an array's children by state as a bar", async () => {
    const out = await batch.send(
      new B.SubmitJobCommand({
        jobName: 'arr',
        jobQueue: 'live',
        jobDefinition: 'live-def',
        arrayProperties: { size: 5 },
        containerOverrides: { command: ['sh', '-c', 'test "$AWS_BATCH_JOB_ARRAY_INDEX" != 3'] },
      }),
    );
    const id = out.jobId!;
    await waitStatus(batch, id, 'FAILED', 60_000);
    const page = await openPage();
    await page.goto(srv.url + '/#/jobs/' + id);
    const bar = page.locator('#array-progress svg.array-bar');
    await bar.waitFor();
    assert.equal(await bar.locator('rect[data-state="SUCCEEDED"]').getAttribute('data-count'), '4');
    assert.equal(await bar.locator('rect[data-state="FAILED"]').getAttribute('data-count'), '1');
    assert.equal(await bar.getAttribute('aria-label'), '5 of 5 children finished: SUCCEEDED 4, FAILED 1');
    const widths = await bar.locator('rect.seg').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('width'))));
    assert.deepEqual(widths, [480, 120], 'segments sized by their share of 600');
    assert.match((await page.locator('#array-progress figcaption').textContent()) ?? '', /5 \/ 5 finished \(100 %\)/);
    // While children wait, the bar says so too.
    const waiting = await batch.send(
      new B.SubmitJobCommand({
        jobName: 'waits',
        jobQueue: 'held',
        jobDefinition: 'live-def',
        arrayProperties: { size: 3 },
      }),
    );
    await page.goto(srv.url + '/#/jobs/' + waiting.jobId);
    await page.locator('#array-progress rect[data-state="RUNNABLE"][data-count="3"]').waitFor({ timeout: 30_000 });
    assert.match((await page.locator('#array-progress figcaption').textContent()) ?? '', /0 \/ 3 finished/);
    await page.context().close();
  });

  it("keeps the overview chart's last hour across a restart", async () => {
    for (const jobName of ['queued-a', 'queued-b'])
      await batch.send(new B.SubmitJobCommand({ jobName, jobQueue: 'held', jobDefinition: 'live-def' }));
    const sdkQueued = async () =>
      (await batch.send(new B.ListJobsCommand({ jobQueue: 'held', jobStatus: 'RUNNABLE' }))).jobSummaryList!.length;
    await waitFor('held jobs to wait RUNNABLE', sdkQueued, (n) => n === 2, 30_000);
    // What the server itself counts as queued now (array children included), as the chart's present shows it.
    const first = await openPage();
    const now = (await (await first.request.get(srv.url + '/ui/api/overview')).json()) as {
      history: { t: number; queuedJobs: number }[];
    };
    const queuedBefore = now.history.at(-1)!.queuedJobs;
    assert.ok(queuedBefore >= 2, `queued before the stop: ${queuedBefore}`);
    await first.context().close();
    const stoppedAt = Date.now();
    await srv.stop({ keepData: true });
    batch.destroy();
    srv = await startTestServer({ dataDir: srv.dataDir });
    batch = batchClient(srv.url, srv.accessKeyId, srv.secretAccessKey);
    const page = await openPage();
    await page.goto(srv.url + '/#/');
    await page.locator('svg.chart polyline.series-queued').waitFor({ state: 'attached' });
    const history = (await (await page.request.get(srv.url + '/ui/api/overview')).json()) as {
      history: { t: number; queuedJobs: number }[];
    };
    const before = history.history.filter((s) => s.t <= stoppedAt + 1000);
    assert.ok(before.length >= 2, `samples from before the restart: ${JSON.stringify(history.history)}`);
    assert.equal(before.at(-1)!.queuedJobs, queuedBefore, 'the sample taken as the server stopped');
    const points = ((await page.locator('svg.chart polyline.series-queued').getAttribute('points')) ?? '').split(' ');
    assert.ok(points.length >= 4, `the drawn line has the old samples too: ${points.join(' ')}`);
    await page.context().close();
    ok = true;
  });
});
