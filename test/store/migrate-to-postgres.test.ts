/**
 * `openbatch admin migrate --from DIR --to postgres://...` end to end: a real SQLite server's jobs, logs, users,
 * audit and per-PI secret store, plus bulk job history; the copy is killed part-way and resumed, run once more (nothing new, no duplicates),
 * and a server on PostgreSQL started on the same data directory serves the jobs, the logs and the users' keys.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { join } from 'node:path';
import * as B from '@aws-sdk/client-batch';
import { aws, AWS_V1, run, waitFor } from '../helpers/clients.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { BIN, startTestServer, type TestServer } from '../helpers/server.js';
import { createQueue } from '../helpers/setup.js';
import { sdkClient, sdkLogMessages } from '../helpers/signed.js';
import { admin, userEnv, type Creds } from '../helpers/users.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { job } from './fixtures.js';

const BULK = 5_000;
const TABLES: [file: string, table: string][] = [
  ['openbatch.db', 'jobs'],
  ['openbatch.db', 'job_queues'],
  ['openbatch.db', 'compute_environments'],
  ['openbatch.db', 'job_definitions'],
  ['logs.db', 'log_streams'],
  ['logs.db', 'log_chunks'],
  ['identity.db', 'users'],
  ['identity.db', 'pi_groups'],
  ['identity.db', 'access_keys'],
  ['identity.db', 'audit'],
  ['identity.db', 'pi_secret_values'],
];

void describe('admin migrate: SQLite data directory into PostgreSQL', () => {
  let srv: TestServer | undefined;
  let db: TestDatabase | undefined;
  let passed = false;
  after(async () => {
    await srv?.stop({ keepData: !passed });
    if (passed) await db?.drop();
    else if (db) console.error(`kept database ${db.name}`);
  });

  void it('copies everything, resumes after a kill, adds nothing on a second run; a PostgreSQL server serves it', async () => {
    // 1. A real server on SQLite: resources, a user, jobs with output, audit records.
    srv = await startTestServer({ store: 'sqlite', args: ['--vcpus', '2'] });
    const sdk = sdkClient(srv);
    await createQueue(sdk, {
      queue: 'mq',
      maxvCpus: 2,
      definition: { name: 'mdef', command: ['sh', '-c', 'echo migrated-output-$AWS_BATCH_JOB_ATTEMPT'] },
    });
    const mia = JSON.parse(admin(srv.env, ['onboard', 'mia', 'lab-m', '--json'])) as Creds;
    const putSecret = ['ssm', 'put-parameter', '--name', '/lab-m/pw', '--type', 'SecureString', '--value', 'pw-m-1'];
    aws(AWS_V1, srv.url, userEnv(srv, mia), putSecret);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(
        (await sdk.send(new B.SubmitJobCommand({ jobName: `m${i}`, jobQueue: 'mq', jobDefinition: 'mdef' }))).jobId!,
      );
    const jobs = await waitFor(
      'the jobs to succeed',
      async () => (await sdk.send(new B.DescribeJobsCommand({ jobs: ids }))).jobs!,
      (js) => js.length === 3 && js.every((j) => j.status === 'SUCCEEDED'),
      60_000,
    );
    const dataDir = srv.dataDir;
    await srv.stop({ keepData: true });
    srv = undefined;
    // 2. Bulk history, so the copy takes long enough to be interrupted.
    const bulk = new SqliteStore({ file: join(dataDir, 'openbatch.db'), writerThread: false });
    await bulk.writeJobs(
      Array.from({ length: BULK }, (_, i) => job(i, { status: 'SUCCEEDED', stoppedAt: 2_000 }, 'bbbbbbbb')),
    );
    await bulk.close();
    const sqliteCounts = countSqlite(dataDir);
    assert.equal(sqliteCounts.jobs, BULK + 3);

    // 3. Copy, killed part-way.
    db = await createTestDatabase();
    const killed = await migrateUntil(dataDir, db.url, 0.3);
    assert.equal(killed, 'SIGKILL', 'the first run was interrupted before it finished');
    const partial = await countPostgres(db.url);
    assert.ok(partial.jobs! < BULK + 3, `the interrupted run copied ${partial.jobs} jobs`);

    // 4. Resumed to the end: every row once.
    const second = run(process.execPath, [BIN, 'admin', 'migrate', '--from', dataDir, '--to', db.url], process.env);
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stdout, /done\. Copy .*server-key/);
    assert.deepEqual(await countPostgres(db.url), sqliteCounts);

    // 5. Once more: nothing new, no duplicates.
    const third = run(process.execPath, [BIN, 'admin', 'migrate', '--from', dataDir, '--to', db.url], process.env);
    assert.equal(third.status, 0, third.stderr);
    assert.match(third.stdout, new RegExp(`jobs: ${BULK + 3} rows, 0 new`));
    assert.doesNotMatch(third.stdout, /, [1-9]\d* new/);
    assert.deepEqual(await countPostgres(db.url), sqliteCounts);

    // 6. A server on PostgreSQL, same data directory (root credentials, server key): jobs, logs, users, audit.
    srv = await startTestServer({ dataDir, args: ['--database-url', db.url] });
    const pgSdk = sdkClient(srv);
    const described = (await pgSdk.send(new B.DescribeJobsCommand({ jobs: ids }))).jobs!;
    assert.deepEqual(
      described.map((j) => [j.jobId, j.status]),
      jobs.map((j) => [j.jobId, 'SUCCEEDED']),
    );
    const listed = await pgSdk.send(new B.ListJobsCommand({ jobQueue: 'mq', jobStatus: 'SUCCEEDED' }));
    assert.equal(listed.jobSummaryList!.length, 3);
    assert.deepEqual(await sdkLogMessages(srv, described[0]!.container!.logStreamName!), ['migrated-output-1']);
    const asMia = sdkClient(srv, { accessKeyId: mia.accessKeyId, secretAccessKey: mia.secretAccessKey });
    const mine = await asMia.send(new B.ListJobsCommand({ jobQueue: 'mq' }));
    assert.deepEqual(mine.jobSummaryList, [], "mia's key works on PostgreSQL and she sees no one else's jobs");
    const getSecret = ['ssm', 'get-parameter', '--name', '/lab-m/pw', '--with-decryption'];
    assert.equal(aws(AWS_V1, srv.url, userEnv(srv, mia), getSecret).Parameter.Value, 'pw-m-1', 'her secret store');
    const audit = admin(srv.env, ['audit', '--json']);
    assert.match(audit, /admin:onboard/);
    passed = true;
  });
});

function countSqlite(dataDir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [file, table] of TABLES) {
    const d = new Database(join(dataDir, file), { readonly: true });
    out[table] = (d.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    d.close();
  }
  return out;
}

async function countPostgres(url: string): Promise<Record<string, number>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const out: Record<string, number> = {};
  for (const [, table] of TABLES)
    out[table] = Number((await c.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${table}`)).rows[0]!.n);
  await c.end();
  return out;
}

/** Runs the migration and SIGKILLs it once it reports `fraction` of the rows copied; resolves with how it ended. */
function migrateUntil(dataDir: string, url: string, fraction: number): Promise<string | number | null> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, 'admin', 'migrate', '--from', dataDir, '--to', url], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buf = '';
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const m of buf.matchAll(/progress (\d+)\/(\d+) jobs/g))
        if (Number(m[1]) >= fraction * Number(m[2])) p.kill('SIGKILL');
      buf = buf.slice(buf.lastIndexOf('\n') + 1);
    });
    p.on('exit', (code, signal) => resolve(signal ?? code));
  });
}
