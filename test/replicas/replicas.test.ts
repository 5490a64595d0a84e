/**
 * Three replicas (separate `openbatch server` processes, each its own port and data directory) on one PostgreSQL
 * database, with a 2 s leader lease. Every replica serves the whole API from the store; exactly one leads and runs
 * the jobs. Then the faults: kill -9 of the leader with many jobs in flight, and a leader paused (SIGSTOP) past its
 * lease that comes back (SIGCONT) and must change nothing.
 *
 * Jobs are host processes that append `<jobId> <attempt> <working directory>` to a marks file when they start: the
 * working directory is under the data directory of the replica that ran them, so a test can tell who started what.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { openStores } from '../../src/store/open-stores.js';
import { waitFor } from '../helpers/clients.js';
import { health, leaderOf, startReplicas, type Replicas } from '../helpers/replicas.js';
import { signedFetch } from '../helpers/signed.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { admin, type Creds } from '../helpers/users.js';

const LEASE_MS = 2000;

void describe('replicas on one PostgreSQL database', () => {
  let reps: Replicas;
  let passed = true;
  const marksDir = mkdtempSync(join(tmpdir(), 'openbatch-replicas-'));
  const marks = join(marksDir, 'marks');

  /** Marks lines: who started which attempt of which job. */
  const readMarks = () =>
    existsSync(marks)
      ? readFileSync(marks, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => {
            const [jobId, attempt, cwd] = l.split(' ');
            return { jobId: jobId!, attempt: Number(attempt), cwd: cwd! };
          })
      : [];

  const call = async (srv: TestServer, path: string, body: object) => {
    const r = await signedFetch(srv, path, body);
    assert.equal(r.status, 200, `${path} on ${srv.url}: ${r.text}`);
    return r.json;
  };
  const describeAll = async (srv: TestServer, ids: string[]) => {
    const out: any[] = [];
    for (let i = 0; i < ids.length; i += 100)
      out.push(...(await call(srv, '/v1/describejobs', { jobs: ids.slice(i, i + 100) })).jobs);
    return out;
  };
  const submit = async (srv: TestServer, queue: string, def: string, extra: object = {}) =>
    (await call(srv, '/v1/submitjob', { jobName: 'j', jobQueue: queue, jobDefinition: def, ...extra })).jobId as string;
  const statusOn = async (srv: TestServer, id: string) => (await describeAll(srv, [id]))[0]?.status as string;
  const live = () => reps.servers.filter((s) => s.proc.exitCode === null && s.proc.signalCode === null);

  /** A compute environment, a queue and a job definition whose command marks its start, made on `srv`. */
  const makeQueue = async (srv: TestServer, name: string, maxvCpus: number, then: string, retries = 1) => {
    await call(srv, '/v1/createcomputeenvironment', {
      computeEnvironmentName: name,
      type: 'MANAGED',
      computeResources: { type: 'EC2', maxvCpus },
    });
    await call(srv, '/v1/createjobqueue', {
      jobQueueName: name,
      priority: 1,
      computeEnvironmentOrder: [{ order: 1, computeEnvironment: name }],
    });
    await call(srv, '/v1/registerjobdefinition', {
      jobDefinitionName: name,
      type: 'container',
      retryStrategy: { attempts: retries },
      containerProperties: {
        image: 'busybox',
        vcpus: 1,
        memory: 16,
        command: ['sh', '-c', `echo "$AWS_BATCH_JOB_ID $AWS_BATCH_JOB_ATTEMPT $PWD" >> ${marks}; ${then}`],
      },
    });
  };

  before(async () => {
    reps = await startReplicas(3, { args: ['--vcpus', '64', '--memory-mib', '65536'], leaseMs: LEASE_MS });
  });
  after(async () => {
    await reps?.stop({ keepData: !passed });
    if (passed) rmSync(marksDir, { recursive: true, force: true });
  });
  const test = (name: string, fn: () => Promise<void>) =>
    it(name, async () => {
      try {
        await fn();
      } catch (err) {
        passed = false;
        throw err;
      }
    });

  void test('/healthz: exactly one leader, and every replica names it; admin replicas lists them', async () => {
    const hs = await waitFor(
      'one leader',
      () => Promise.all(reps.servers.map(health)),
      (v) => v.filter((h) => h.role === 'leader').length === 1 && v.every((h) => h.leader && 'epoch' in h.leader),
    );
    const leader = hs.find((h) => h.role === 'leader')!;
    assert.ok(leader.epoch! >= 1);
    assert.equal(new Set(hs.map((h) => h.replicaId)).size, 3, 'every replica has its own id');
    for (const h of hs) {
      assert.equal(h.store, 'postgres');
      assert.deepEqual(h.leader, { replicaId: leader.replicaId, epoch: leader.epoch });
      if (h.role === 'follower') assert.equal(h.epoch, undefined);
    }
    // Any replica lists all three, the leader with its epoch.
    const listed = JSON.parse(admin(reps.servers[2]!.env, ['replicas', '--json'])).replicas as any[];
    assert.deepEqual(listed.map((r) => r.id).sort(), hs.map((h) => h.replicaId).sort());
    assert.ok(listed.every((r) => r.alive === true));
    const leaders = listed.filter((r) => r.role === 'leader');
    assert.equal(leaders.length, 1);
    assert.equal(leaders[0].id, leader.replicaId);
    assert.equal(leaders[0].epoch, leader.epoch);
    assert.deepEqual(listed.map((r) => r.url).sort(), reps.servers.map((s) => s.url).sort());
    const text = admin(reps.servers[0]!.env, ['replicas']);
    assert.match(text, new RegExp(`^leader +${leader.replicaId} .* epoch ${leader.epoch} alive$`, 'm'));
  });

  void test('the dashboard: signed in on one replica, the session works on every other, and live updates arrive for a job run through another', async () => {
    const [a, b, c] = reps.servers as [TestServer, TestServer, TestServer];
    const signin = await fetch(`${a.url}/ui/session`, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey }).toString(),
    });
    assert.equal(signin.status, 200);
    const cookie = signin.headers.get('set-cookie')!.split(';')[0]!;
    for (const srv of [b, c]) {
      const me = await fetch(`${srv.url}/ui/api/me`, { headers: { cookie } });
      assert.equal(me.status, 200, `session from A refused by ${srv.url}`);
      assert.equal(((await me.json()) as { user: string }).user, 'root');
    }
    const forged = cookie.replace(/.$/, (ch) => (ch === 'A' ? 'B' : 'A'));
    assert.equal((await fetch(`${b.url}/ui/api/me`, { headers: { cookie: forged } })).status, 401);
    // Live updates on B (server-sent events) for a job submitted through C and run by whoever leads.
    await makeQueue(c, 'dash', 2, 'true');
    const events = new AbortController();
    const stream = await fetch(`${b.url}/ui/events`, { headers: { cookie }, signal: events.signal });
    assert.equal(stream.status, 200);
    const reader = stream.body!.getReader();
    const jobId = await submit(c, 'dash', 'dash');
    let seen = '';
    // A read blocks until the stream says something: the abort bounds the wait.
    const bound = setTimeout(() => events.abort(), 60_000);
    try {
      await waitFor(
        'a live update of the job on B',
        async () => {
          const { value } = await reader.read();
          seen += Buffer.from(value ?? new Uint8Array()).toString();
          return seen;
        },
        (text) => text.includes(`{"jobId":"${jobId}","status":"SUCCEEDED"}`),
        60_000,
      );
    } finally {
      clearTimeout(bound);
      events.abort();
    }
  });

  void test('a queue created on one replica is usable on the others at once; submit on A, read on B', async () => {
    const { leader } = await leaderOf(reps.servers);
    const [a, b] = reps.servers.filter((s) => s !== leader) as [TestServer, TestServer];
    await makeQueue(a, 'made-on-a', 4, 'true');
    // No wait: the very next request, on another replica, uses the queue and the definition.
    const id = await submit(b, 'made-on-a', 'made-on-a');
    // ... and the job answered 200 on B is visible on A and on the leader at once.
    for (const srv of reps.servers) {
      const [j] = await describeAll(srv, [id]);
      assert.equal(j?.jobId, id, `job submitted on B not visible on ${srv.url}`);
      const listed = await call(srv, '/v1/listjobs', {
        jobQueue: 'made-on-a',
        filters: [{ name: 'JOB_NAME', values: ['j'] }],
      });
      assert.ok(
        (listed.jobSummaryList as any[]).some((s) => s.jobId === id),
        `ListJobs on ${srv.url} misses the job`,
      );
    }
    const queues = await call(leader, '/v1/describejobqueues', { jobQueues: ['made-on-a'] });
    assert.equal(queues.jobQueues[0].state, 'ENABLED');
    await waitFor(
      'the job submitted on a follower ran',
      () => statusOn(a, id),
      (s) => s === 'SUCCEEDED',
    );
    // The leader ran it: its working directory is under the leader's data directory.
    const m = readMarks().filter((x) => x.jobId === id);
    assert.equal(m.length, 1);
    assert.ok(m[0]!.cwd.startsWith(leader.dataDir), `${m[0]!.cwd} is not under the leader's ${leader.dataDir}`);
  });

  void test('a follower commits a job without dependencies RUNNABLE; the leader files it without a second write, and finds one whose signal was lost', async () => {
    const { leader } = await leaderOf(reps.servers);
    const follower = reps.servers.find((s) => s !== leader)!;
    // One vCPU, held by a first job for a while: the second waits RUNNABLE (for capacity, not for a misconfiguration).
    await makeQueue(follower, 'direct', 1, 'sleep 2');
    const blocker = await submit(follower, 'direct', 'direct');
    await waitFor(
      'the first job runs',
      () => statusOn(follower, blocker),
      (s) => s === 'RUNNING',
    );
    const id = await submit(follower, 'direct', 'direct');
    // Durable RUNNABLE at the 200, on every replica; SUBMITTED -> RUNNABLE at the moment of submission.
    for (const srv of reps.servers) {
      const [j] = await describeAll(srv, [id]);
      assert.equal(j.status, 'RUNNABLE', `on ${srv.url}`);
    }
    const stores = await openStores({ dataDir: marksDir, databaseUrl: reps.db.url });
    try {
      await sleep(500); // time for the leader to take it up (and rewrite it, which it must not)
      const [row] = await stores.store.getJobs([id]);
      assert.equal(row!.status, 'RUNNABLE');
      assert.equal(row!.statusReason, undefined);
      assert.equal(row!.statusChangedAt, row!.createdAt, 'the leader rewrote the job it was handed RUNNABLE');
      // A RUNNABLE job whose signal never came (as while the leader's listener reconnects): written without one.
      const lost = structuredClone(row!);
      lost.jobId = `${id.slice(0, -4)}0000`;
      lost.jobArn = row!.jobArn.replace(id, lost.jobId);
      await stores.store.writeJobs([lost]);
      for (const jobId of [id, lost.jobId])
        await waitFor(
          `${jobId} ran`,
          () => statusOn(follower, jobId),
          (s) => s === 'SUCCEEDED',
        );
    } finally {
      await stores.close();
    }
    assert.equal(readMarks().filter((m) => m.jobId === id).length, 1);
  });

  void test("a follower commits a job that can never fit RUNNABLE with the leader's reason; the leader does not write it again", async () => {
    const { leader } = await leaderOf(reps.servers);
    const follower = reps.servers.find((s) => s !== leader)!;
    await makeQueue(follower, 'never', 0, 'true');
    // Once the follower has read a published state that knows the environment, it gives the leader's reason itself.
    const first = await submit(follower, 'never', 'never');
    await waitFor(
      'the follower explains the wait from the published state',
      async () => (await describeAll(follower, [first]))[0].statusReason as string,
      (r) => /maxvCpus 0/.test(r ?? ''),
    );
    await sleep(200);
    const db = new pg.Client({ connectionString: reps.db.url });
    await db.connect();
    const row = async (id: string) =>
      (
        await db.query<{ doc: string; status: string; xmin: string }>(
          'SELECT doc, status, xmin::text FROM jobs WHERE id = $1',
          [id],
        )
      ).rows[0]!;
    try {
      // With the leader paused, what is stored is the follower's insert alone.
      leader.proc.kill('SIGSTOP');
      let id: string;
      let inserted: { doc: string; status: string; xmin: string };
      try {
        id = await submit(follower, 'never', 'never');
        inserted = await row(id);
      } finally {
        leader.proc.kill('SIGCONT');
      }
      const doc = JSON.parse(inserted.doc);
      assert.equal(inserted.status, 'RUNNABLE');
      assert.match(doc.statusReason, /^MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - .*never \(maxvCpus 0\)/);
      // The leader takes it up (it is in its queue's published front) without writing it again.
      await waitFor(
        'the leader files the job',
        async () => (await call(follower, '/v1/describejobs', { jobs: [id] })).jobs[0].statusReason as string,
        (r) => /maxvCpus 0/.test(r ?? ''),
      );
      await sleep(1500);
      assert.equal((await row(id)).xmin, inserted.xmin, 'the leader wrote the job again');
      assert.equal((await health(leader)).role, 'leader');
    } finally {
      await db.end();
    }
  });

  void test('cancel and terminate sent to a follower take effect on jobs held by the leader', async () => {
    const { leader } = await leaderOf(reps.servers);
    const follower = reps.servers.find((s) => s !== leader)!;
    await makeQueue(follower, 'narrow', 1, 'sleep 60');
    const running = await submit(follower, 'narrow', 'narrow');
    await waitFor(
      'a job running under the leader',
      () => statusOn(follower, running),
      (s) => s === 'RUNNING',
    );
    const waiting = await submit(follower, 'narrow', 'narrow');
    await waitFor(
      'the second job waits for capacity',
      () => statusOn(follower, waiting),
      (s) => s === 'RUNNABLE',
    );
    // CancelJob of a RUNNING job leaves it running (as AWS); of a RUNNABLE one fails it.
    await call(follower, '/v1/canceljob', { jobId: running, reason: 'cancel-running' });
    await call(follower, '/v1/canceljob', { jobId: waiting, reason: 'cancel-waiting' });
    const cancelled = await waitFor(
      'the cancel applied',
      async () => (await describeAll(leader, [waiting]))[0],
      (j) => j.status === 'FAILED',
      10_000,
    );
    assert.equal(cancelled.statusReason, 'cancel-waiting');
    assert.equal((await describeAll(leader, [running]))[0].status, 'RUNNING');
    await call(follower, '/v1/terminatejob', { jobId: running, reason: 'terminate-from-follower' });
    const terminated = await waitFor(
      'the terminate applied',
      async () => (await describeAll(follower, [running]))[0],
      (j) => j.status === 'FAILED',
      10_000,
    );
    assert.equal(terminated.statusReason, 'terminate-from-follower');
    assert.equal(terminated.attempts.length, 1, 'a terminated attempt is not retried');
  });

  void test('a key disabled on one replica is refused on the others', async () => {
    const [a, b, c] = reps.servers as [TestServer, TestServer, TestServer];
    const user = JSON.parse(admin(a.env, ['onboard', 'rita', 'lab-r', '--json'])) as Creds;
    const as = (srv: TestServer) => signedFetch(srv, '/v1/describejobqueues', {}, { creds: user });
    // A key made on A is accepted on B and C at once.
    for (const srv of [b, c]) assert.equal((await as(srv)).status, 200, `new key refused on ${srv.url}`);
    admin(a.env, ['users', 'disable', 'rita']);
    const started = Date.now();
    for (const srv of [b, c]) {
      const r = await waitFor(
        'the disabled key refused',
        () => as(srv),
        (x) => x.status !== 200,
        10_000,
      );
      assert.equal(r.status, 403, r.text);
      assert.match(r.text, /UnrecognizedClient/);
    }
    console.log(`# disabled key refused on the other replicas after ${Date.now() - started} ms`);
    admin(a.env, ['users', 'enable', 'rita']);
    await waitFor(
      'the enabled key accepted',
      () => as(c),
      (x) => x.status === 200,
      10_000,
    );
    // A replica whose data directory lacks the shared server-key cannot verify the stored keys: it says so at start.
    const stray = mkdtempSync(join(tmpdir(), 'openbatch-stray-'));
    try {
      await assert.rejects(
        startTestServer({ dataDir: stray, args: ['--database-url', reps.db.url] }),
        /access key \S+ in the store cannot be decrypted with \S+server-key .*every replica needs the same server-key/,
      );
    } finally {
      rmSync(stray, { recursive: true, force: true });
    }
  });

  void test('array children, statusSummary and why-waits read the same on every replica', async () => {
    const { leader } = await leaderOf(reps.servers);
    const follower = reps.servers.find((s) => s !== leader)!;
    await makeQueue(follower, 'arrays', 2, 'true');
    const arr = await submit(follower, 'arrays', 'arrays', { arrayProperties: { size: 7 } });
    await waitFor(
      'the array done',
      () => statusOn(follower, arr),
      (s) => s === 'SUCCEEDED',
    );
    const children = Array.from({ length: 7 }, (_, i) => `${arr}:${i}`);
    const views = await Promise.all(
      reps.servers.map(async (srv) => ({
        parent: (await describeAll(srv, [arr]))[0],
        children: (await describeAll(srv, children)).map((j) => [j.jobId, j.status, j.arrayProperties?.index]),
        listed: (await call(srv, '/v1/listjobs', { arrayJobId: arr, jobStatus: 'SUCCEEDED' })).jobSummaryList.map(
          (j: any) => j.jobId,
        ),
      })),
    );
    assert.equal(views[0]!.parent.arrayProperties.statusSummary.SUCCEEDED, 7);
    assert.equal(views[0]!.children.length, 7);
    for (const v of views.slice(1)) {
      assert.deepEqual(v.parent.arrayProperties.statusSummary, views[0]!.parent.arrayProperties.statusSummary);
      assert.deepEqual(v.children, views[0]!.children);
      assert.deepEqual(v.listed.sort(), views[0]!.listed.sort());
    }

    // A RUNNABLE job's reason to wait: the same words on every replica.
    await makeQueue(follower, 'full', 1, 'sleep 30');
    const blocker = await submit(follower, 'full', 'full');
    await waitFor(
      'the blocker running',
      () => statusOn(follower, blocker),
      (s) => s === 'RUNNING',
    );
    const waiting = await submit(reps.servers[0]!, 'full', 'full');
    const reasons = await waitFor(
      'why-waits on every replica',
      () => Promise.all(reps.servers.map(async (srv) => (await describeAll(srv, [waiting]))[0].statusReason)),
      (r) => r.every((x) => /^CAPACITY:/.test(x ?? '')),
      10_000,
    );
    assert.match(reasons[0], /^CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - 1 of 1 vCPUs of full in use by 1 job/);
    assert.deepEqual(new Set(reasons).size, 1, `replicas disagree: ${JSON.stringify(reasons)}`);
    await call(follower, '/v1/terminatejob', { jobId: blocker, reason: 'done' });
    await call(follower, '/v1/terminatejob', { jobId: waiting, reason: 'done' });
  });

  void test('kill -9 of the leader with many jobs in flight: another takes over, nothing lost, stuck or rerun', async () => {
    const TOTAL = Number(process.env.OPENBATCH_TEST_FAILOVER_JOBS ?? 1000);
    const { leader: old, epoch: oldEpoch } = await leaderOf(reps.servers);
    const others = reps.servers.filter((s) => s !== old && live().includes(s));
    // Capped at 8 vCPUs until the take-over, so most jobs are still in flight when the leader dies.
    await makeQueue(others[0]!, 'flood', 8, 'sleep 0.5', 3);
    const acked: string[] = [];
    let killedAt = 0;
    let next = 0;
    // Submitters spread over all replicas; a request that finds its replica gone goes to another one.
    const submitter = async (n: number) => {
      while (next < TOTAL) {
        const i = next++;
        for (let tries = 0; ; tries++) {
          const targets = live();
          const srv = targets[(i + n + tries) % targets.length]!;
          try {
            const r = await signedFetch(srv, '/v1/submitjob', {
              jobName: `f${i}`,
              jobQueue: 'flood',
              jobDefinition: 'flood',
            });
            if (r.status === 200) {
              acked.push(r.json.jobId as string);
              break;
            }
            if (r.status < 500) assert.fail(`submit refused: ${r.text}`);
          } catch (err) {
            if ((err as Error).name === 'AssertionError') throw err;
          }
          await sleep(50);
        }
      }
    };
    const submitting = Promise.all(Array.from({ length: 16 }, (_, n) => submitter(n)));
    // Kill when a good share is acknowledged and the leader has jobs running.
    await waitFor(
      'jobs running under the leader',
      async () => ({
        acked: acked.length,
        running: (await call(others[0]!, '/v1/listjobs', { jobQueue: 'flood', jobStatus: 'RUNNING' })).jobSummaryList
          .length,
      }),
      (v) => v.acked >= (2 * TOTAL) / 3 && v.running >= 5,
      120_000,
    );
    const atKill = await describeAll(others[0]!, acked.slice());
    const inFlight = atKill.filter((j) => j.status !== 'SUCCEEDED' && j.status !== 'FAILED').length;
    old.proc.kill('SIGKILL');
    killedAt = Date.now();
    await new Promise((r) =>
      old.proc.exitCode === null && old.proc.signalCode === null ? old.proc.once('exit', r) : r(0),
    );
    const { leader: next1, epoch } = await waitFor(
      'another replica leads',
      async () => leaderOf(others).catch(() => undefined),
      (v) => v !== undefined,
      30_000,
    ).then((v) => v!);
    const takeover = Date.now() - killedAt;
    assert.ok(epoch > oldEpoch, 'the new leader has a higher epoch');
    assert.ok(others.includes(next1));
    // Capacity raised on a follower reaches the new leader.
    await call(
      others.find((s) => s !== next1)!,
      '/v1/updatecomputeenvironment',
      {
        computeEnvironment: 'flood',
        computeResources: { maxvCpus: 64 },
      },
    );
    await submitting;
    assert.equal(acked.length, TOTAL);
    const all = await waitFor(
      'every acknowledged job finished',
      () => describeAll(next1, acked),
      (js) => js.length === TOTAL && js.every((j) => j.status === 'SUCCEEDED' || j.status === 'FAILED'),
      240_000,
    );
    const lost = acked.filter((id) => !all.some((j) => j.jobId === id));
    assert.deepEqual(lost, [], 'acknowledged jobs lost');
    const failed = all.filter((j) => j.status === 'FAILED');
    assert.deepEqual(
      failed.map((j) => [j.jobId, j.statusReason]),
      [],
      'jobs interrupted by the lost leader are retried (3 attempts) and succeed',
    );
    const settledAsLost = all.filter((j) =>
      (j.attempts as any[]).some((a) => /^Host EC2 \(instance .+\) terminated\.$/.test(a.statusReason)),
    );
    // Nothing runs again after SUCCEEDED: no attempt started beyond those on record, and none after the end.
    await sleep(2 * LEASE_MS);
    const byJob = new Map<string, number[]>();
    for (const m of readMarks()) byJob.set(m.jobId, [...(byJob.get(m.jobId) ?? []), m.attempt]);
    const again = await describeAll(next1, acked);
    for (const j of again) {
      const started = byJob.get(j.jobId) ?? [];
      assert.ok(started.length >= 1, `${j.jobId} SUCCEEDED without running`);
      assert.ok(
        Math.max(...started) <= j.attempts.length,
        `${j.jobId} started attempt ${Math.max(...started)} but has ${j.attempts.length} on record`,
      );
      assert.equal(j.status, 'SUCCEEDED');
    }
    const firstNewRun = Math.min(
      ...all.flatMap((j) => (j.attempts as any[]).map((a) => a.startedAt as number)).filter((t) => t > killedAt),
    );
    console.log(
      `# kill -9 of the leader: ${TOTAL} jobs, ${acked.length} acknowledged, ${inFlight} in flight at the kill; ` +
        `new leader after ${takeover} ms (epoch ${oldEpoch} -> ${epoch}); first attempt started after the kill at ` +
        `+${firstNewRun - killedAt} ms; ${settledAsLost.length} attempts settled as a lost host and retried`,
    );
  });

  void test('a leader paused past its lease changes nothing when it resumes, and steps down', async () => {
    const { leader: paused, epoch: pausedEpoch } = await leaderOf(live());
    const other = live().find((s) => s !== paused)!;
    await makeQueue(other, 'fenced', 2, 'sleep 2', 3);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await submit(other, 'fenced', 'fenced'));
    // Two run under the paused leader, four wait in its memory.
    await waitFor(
      'two running, four waiting',
      () => describeAll(other, ids),
      (js) =>
        js.filter((j) => j.status === 'RUNNING').length === 2 && js.filter((j) => j.status === 'RUNNABLE').length === 4,
    );
    paused.proc.kill('SIGSTOP');
    let frozen: any[];
    let marksBefore: number;
    try {
      const { epoch } = await waitFor(
        'the other replica leads',
        async () => {
          const h = await health(other);
          return h.role === 'leader' ? { epoch: h.epoch! } : undefined;
        },
        (v) => v !== undefined,
        30_000,
      ).then((v) => v!);
      assert.ok(epoch > pausedEpoch);
      // The new leader runs everything: the attempts the paused one started are settled as lost and retried.
      const extra = await submit(other, 'fenced', 'fenced');
      ids.push(extra);
      await waitFor(
        'all jobs finished under the new leader',
        () => describeAll(other, ids),
        (js) => js.every((j) => j.status === 'SUCCEEDED' || j.status === 'FAILED'),
        60_000,
      );
    } finally {
      frozen = await describeAll(other, ids);
      marksBefore = readMarks().length;
      paused.proc.kill('SIGCONT');
    }
    const h = await waitFor(
      'the old leader steps down',
      () => health(paused),
      (x) => x.role === 'follower',
      15_000,
    );
    assert.equal(h.epoch, undefined);
    // Give it every chance to act on what it held: its exit reports, its RUNNABLE jobs, its timers.
    await sleep(2 * LEASE_MS);
    const after = await describeAll(other, ids);
    assert.deepEqual(after, frozen, 'the resumed leader changed jobs');
    const newMarks = readMarks().slice(marksBefore);
    assert.deepEqual(newMarks, [], 'the resumed leader started attempts');
    const { leader } = await leaderOf(live());
    assert.notEqual(leader, paused);
    for (const j of after) {
      assert.equal(j.status, 'SUCCEEDED', JSON.stringify(j));
      // attempts are recorded once each: no settlement by the old leader on top of the new leader's
      assert.equal(new Set((j.attempts as any[]).map((a) => a.startedAt)).size, j.attempts.length);
    }
    const byOld = readMarks().filter((m) => ids.includes(m.jobId) && m.cwd.startsWith(paused.dataDir));
    assert.equal(byOld.length, 2, 'the paused leader started exactly the two attempts it ran before the pause');
  });
});
