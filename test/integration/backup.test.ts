/**
 * `openbatch admin backup` while the server serves and jobs are being submitted: the copy is a data directory a new
 * server starts on, with the jobs, their logs and the users' keys of the moment of the backup.
 */
import { execFile } from 'node:child_process';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as B from '@aws-sdk/client-batch';
import { run, waitFor } from '../helpers/clients.js';
import { BIN, startTestServer, type TestServer } from '../helpers/server.js';
import { createQueue } from '../helpers/setup.js';
import { sdkLogMessages } from '../helpers/signed.js';

let srv: TestServer;
let restored: TestServer | undefined;
const dir = mkdtempSync(join(tmpdir(), 'openbatch-backup-'));
let ok = false;

const client = (s: TestServer, creds?: { accessKeyId: string; secretAccessKey: string }) =>
  new B.BatchClient({
    endpoint: s.url,
    region: 'us-east-1',
    credentials: creds ?? { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
  });
const openbatch = (args: string[], env = srv.env) => run(process.execPath, [BIN, ...args], env);

before(async () => {
  srv = await startTestServer({ args: ['--vcpus', '4'], store: 'sqlite' }); // backs up SQLite files
});
after(async () => {
  await restored?.stop({ keepData: !ok });
  await srv?.stop({ keepData: !ok });
  if (ok) rmSync(dir, { recursive: true, force: true });
});

describe('openbatch admin backup', () => {
  it('copies a serving data directory into one a new server starts on, with jobs, logs and keys', async () => {
    const sdk = client(srv);
    await createQueue(sdk, { queue: 'kept', maxvCpus: 4, definition: { name: 'k', command: ['echo', 'kept output'] } });
    const alice = JSON.parse(openbatch(['admin', 'onboard', 'alice', 'lab-a', '--json']).stdout) as {
      accessKeyId: string;
      secretAccessKey: string;
    };
    const ids: string[] = [];
    for (let i = 0; i < 10; i++)
      ids.push(
        (await sdk.send(new B.SubmitJobCommand({ jobName: `k${i}`, jobQueue: 'kept', jobDefinition: 'k' }))).jobId!,
      );
    await waitFor(
      'the jobs to succeed',
      async () => (await sdk.send(new B.DescribeJobsCommand({ jobs: ids }))).jobs!.map((j) => j.status),
      (s) => s.every((x) => x === 'SUCCEEDED'),
      60_000,
    );

    // Keep the server busy while it is backed up: submissions in a loop until the backup is done.
    let busy = true;
    let submittedDuring = 0;
    const load = (async () => {
      while (busy) {
        await sdk.send(new B.SubmitJobCommand({ jobName: 'during', jobQueue: 'kept', jobDefinition: 'k' }));
        submittedDuring++;
      }
    })();
    await waitFor(
      'the load to start',
      () => submittedDuring,
      (n) => n >= 5,
      30_000,
    );
    const dest = join(dir, 'backup');
    // Asynchronously, so that the submissions go on while it copies.
    const before = submittedDuring;
    const r = await new Promise<{ status: number; stdout: string; stderr: string }>((res) =>
      execFile(
        process.execPath,
        [BIN, 'admin', 'backup', dest, '--data', srv.dataDir],
        { env: srv.env },
        (err, stdout, stderr) => res({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      ),
    );
    const submittedWhileCopying = submittedDuring - before;
    busy = false;
    await load;
    assert.equal(r.status, 0, r.stderr);
    assert.ok(submittedWhileCopying > 0, 'the server took submissions while it was backed up');
    assert.match(r.stdout, /^openbatch\.db\t/m);
    assert.match(r.stdout, /^logs\.db\t/m);
    assert.match(r.stdout, /^identity\.db\t/m);
    assert.equal(statSync(dest).mode & 0o777, 0o700);
    assert.ok(!readdirSync(dest).some((f) => f.endsWith('-wal') || f.endsWith('-shm')), readdirSync(dest).join(' '));

    const again = openbatch(['admin', 'backup', dest, '--data', srv.dataDir]);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /is not empty: back up into a new or empty directory/);

    // Restore: a copy of the backup as a new data directory.
    const restoredDir = join(dir, 'restored');
    cpSync(dest, restoredDir, { recursive: true });
    restored = await startTestServer({ dataDir: restoredDir, store: 'sqlite' });
    const copy = client(restored);
    const seen = (await copy.send(new B.DescribeJobsCommand({ jobs: ids }))).jobs!;
    assert.deepEqual(
      seen.map((j) => [j.jobId, j.status]),
      ids.map((id) => [id, 'SUCCEEDED']),
    );
    const listed = await copy.send(
      new B.ListJobsCommand({ jobQueue: 'kept', filters: [{ name: 'JOB_NAME', values: ['during'] }] }),
    );
    assert.ok((listed.jobSummaryList?.length ?? 0) <= submittedDuring, 'nothing the original did not have');
    assert.deepEqual(await sdkLogMessages(restored, seen[0]!.container!.logStreamName!), ['kept output']);
    // alice's key, made before the backup, works on the restored server.
    const asAlice = client(restored, alice);
    const queues = await asAlice.send(new B.DescribeJobQueuesCommand({}));
    assert.ok(queues.jobQueues?.some((q) => q.jobQueueName === 'kept'));
    for (const c of [sdk, copy, asAlice]) c.destroy();
    ok = true;
  });

  it('says which directory to give when it holds no data', () => {
    const r = openbatch(['admin', 'backup', join(dir, 'x'), '--data', join(dir, 'nothing')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /holds no openbatch\.db: give the server's SQLite data directory with --data/);
  });
});
