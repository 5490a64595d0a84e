/**
 * Array jobs, dependencies, retries, timeouts and cancel/terminate across structures, driven by boto3 and the
 * aws CLI against a real server running jobs as processes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AWS_V1, aws, python, requireBinary, run } from '../helpers/clients.js';
import { BIN, startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let out: string;
/** The job of the timeout test, submitted in before(). */
let slowJob: string;

/** Runs a boto3 script with `batch` (a client for the server) and helpers in scope; returns its JSON output. */
function boto(code: string): any {
  const prelude = `
import boto3, json, time, os
batch = boto3.client('batch', endpoint_url=os.environ['AWS_ENDPOINT_URL'])
def wait(ids, done=('SUCCEEDED','FAILED'), timeout=90):
    end = time.time() + timeout
    while time.time() < end:
        jobs = []
        for k in range(0, len(ids), 100):
            jobs += batch.describe_jobs(jobs=ids[k:k+100])['jobs']
        if len(jobs) == len(ids) and all(j['status'] in done for j in jobs):
            return {j['jobId']: j for j in jobs}
        time.sleep(0.1)
    raise SystemExit('timeout waiting for %s' % ids)
def submit(name, command, **kw):
    return batch.submit_job(jobName=name, jobQueue='q', jobDefinition='sh', containerOverrides={'command': ['sh', '-c', command], 'environment': [{'name': 'OUT', 'value': os.environ['OUT']}]}, **kw)['jobId']
`;
  const r = python(prelude + code, { ...srv.env, OUT: out });
  if (r.status !== 0) throw new Error(`python failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout);
}

describe('array jobs, dependencies, retries, timeouts', () => {
  before(async () => {
    requireBinary(AWS_V1, 'install the aws CLI v1 (pip install awscli)');
    srv = await startTestServer({ args: ['--runtime', 'process', '--vcpus', '5', '--stop-grace-seconds', '2'] });
    out = mkdtempSync(join(tmpdir(), 'openbatch-arrays-'));
    const cli = (args: string[]) => aws(AWS_V1, srv.url, srv.env, args);
    cli([
      'batch',
      'create-compute-environment',
      '--compute-environment-name',
      'ce',
      '--type',
      'MANAGED',
      '--compute-resources',
      'type=EC2,maxvCpus=4,subnets=s',
    ]);
    cli([
      'batch',
      'create-job-queue',
      '--job-queue-name',
      'q',
      '--priority',
      '1',
      '--compute-environment-order',
      'order=1,computeEnvironment=ce',
    ]);
    cli([
      'batch',
      'register-job-definition',
      '--job-definition-name',
      'sh',
      '--type',
      'container',
      '--container-properties',
      '{"image":"busybox","vcpus":1,"memory":64,"command":["true"]}',
    ]);
    // The timeout test's job: AWS allows no attempt timeout under 60 s, so it starts now and runs while the other
    // tests do; the last test checks how it ended. It has a compute environment and a queue of its own, on a fifth
    // host vCPU, so that it takes nothing from 'ce' (4 vCPUs: the cancel test counts what runs at once on it).
    cli([
      'batch',
      'create-compute-environment',
      '--compute-environment-name',
      'ce-slow',
      '--type',
      'MANAGED',
      '--compute-resources',
      'type=EC2,maxvCpus=1,subnets=s',
    ]);
    cli([
      'batch',
      'create-job-queue',
      '--job-queue-name',
      'q-slow',
      '--priority',
      '1',
      '--compute-environment-order',
      'order=1,computeEnvironment=ce-slow',
    ]);
    slowJob = boto(`
print(json.dumps(batch.submit_job(jobName='slow', jobQueue='q-slow', jobDefinition='sh', containerOverrides={'command': ['sh', '-c', 'sleep 600']}, timeout={'attemptDurationSeconds': 60}, retryStrategy={'attempts': 3})['jobId']))
`);
  });
  after(async () => srv?.stop());

  it('runs a 200-child array: each child reads its index, statusSummary and child listing agree', () => {
    const r = boto(`
p = submit('arr200', 'echo "$AWS_BATCH_JOB_ARRAY_INDEX $AWS_BATCH_JOB_ARRAY_SIZE $AWS_BATCH_JOB_ID" > $OUT/idx-$AWS_BATCH_JOB_ARRAY_INDEX', arrayProperties={'size': 200})
first = batch.describe_jobs(jobs=[p])['jobs'][0]
done = wait([p])
children, token = [], None
while True:
    kw = {'arrayJobId': p, 'jobStatus': 'SUCCEEDED', 'maxResults': 50}
    if token: kw['nextToken'] = token
    page = batch.list_jobs(**kw)
    children += page['jobSummaryList']
    token = page.get('nextToken')
    if not token: break
child7 = batch.describe_jobs(jobs=[p + ':7'])['jobs'][0]
print(json.dumps({'p': p, 'firstStatus': first['status'], 'parent': done[p], 'children': [c['jobId'] for c in children], 'indexes': [c['arrayProperties']['index'] for c in children], 'child7': child7}))
`);
    assert.ok(
      ['SUBMITTED', 'PENDING'].includes(r.firstStatus),
      `parent starts SUBMITTED/PENDING, got ${r.firstStatus}`,
    );
    assert.equal(r.parent.status, 'SUCCEEDED');
    assert.equal(r.parent.arrayProperties.size, 200);
    assert.equal(r.parent.arrayProperties.statusSummary.SUCCEEDED, 200);
    assert.equal(r.children.length, 200);
    assert.deepEqual(
      r.indexes,
      Array.from({ length: 200 }, (_, i) => i),
    );
    assert.equal(r.child7.jobId, `${r.p}:7`);
    assert.equal(r.child7.arrayProperties.index, 7);
    assert.equal(r.child7.status, 'SUCCEEDED');
    const files = readdirSync(out).filter((f) => f.startsWith('idx-'));
    assert.equal(files.length, 200);
    assert.equal(readFileSync(join(out, 'idx-123'), 'utf8').trim(), `123 200 ${r.p}:123`);
  });

  it('SEQUENTIAL children never overlap; N_TO_N pairs wait for their partner', () => {
    const r = boto(`
s = submit('seq', 'sleep 0.2', arrayProperties={'size': 5}, dependsOn=[{'type': 'SEQUENTIAL'}])
a = submit('a', 'sleep 0.$((AWS_BATCH_JOB_ARRAY_INDEX * 3))', arrayProperties={'size': 4})
b = submit('b', 'true', arrayProperties={'size': 4}, dependsOn=[{'jobId': a, 'type': 'N_TO_N'}])
wait([s, a, b])
kids = lambda p, n: wait(['%s:%d' % (p, i) for i in range(n)])
print(json.dumps({'seq': [[c['startedAt'], c['stoppedAt']] for c in kids(s, 5).values()], 'a': {k.split(':')[1]: v['stoppedAt'] for k, v in kids(a, 4).items()}, 'b': {k.split(':')[1]: v['startedAt'] for k, v in kids(b, 4).items()}}))
`);
    const seq = (r.seq as [number, number][]).sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < seq.length; i++)
      assert.ok(seq[i]![0] >= seq[i - 1]![1], `child ${i} started before child ${i - 1} stopped`);
    for (const i of ['0', '1', '2', '3']) assert.ok(r.b[i] >= r.a[i], `b:${i} started before a:${i} ended`);
  });

  it('a failed dependency fails its dependents without running them, transitively, naming the failed job', () => {
    const r = boto(`
a = submit('dep-a', 'exit 3')
b = submit('dep-b', 'touch $OUT/b-ran', dependsOn=[{'jobId': a}])
c = submit('dep-c', 'touch $OUT/c-ran', dependsOn=[{'jobId': b}])
arr = submit('dep-arr', 'exit $((AWS_BATCH_JOB_ARRAY_INDEX == 1))', arrayProperties={'size': 3}, dependsOn=[{'type': 'SEQUENTIAL'}])
j = wait([a, b, c, arr])
kids = wait(['%s:%d' % (arr, i) for i in range(3)])
print(json.dumps({'a': j[a], 'b': j[b], 'c': j[c], 'arr': j[arr], 'kids': [kids['%s:%d' % (arr, i)] for i in range(3)]}))
`);
    assert.equal(r.a.status, 'FAILED');
    assert.equal(r.b.status, 'FAILED');
    assert.match(r.b.statusReason, new RegExp(r.a.jobId));
    assert.equal(r.c.status, 'FAILED');
    assert.match(r.c.statusReason, new RegExp(r.b.jobId));
    assert.equal(r.b.attempts.length, 0);
    assert.ok(!readdirSync(out).includes('b-ran') && !readdirSync(out).includes('c-ran'));
    assert.deepEqual(
      r.kids.map((k: any) => k.status),
      ['SUCCEEDED', 'FAILED', 'FAILED'],
    );
    assert.equal(r.kids[2].attempts.length, 0, 'the child after a failed SEQUENTIAL child never runs');
    assert.equal(r.arr.status, 'FAILED');
  });

  it('unknown dependencies and N_TO_N size mismatches are refused at submit', () => {
    const r = boto(`
errs = []
for kw in [dict(dependsOn=[{'jobId': '00000000-0000-0000-0000-000000000000'}]),
           dict(arrayProperties={'size': 3}, dependsOn=[{'jobId': submit('two', 'true', arrayProperties={'size': 2}), 'type': 'N_TO_N'}]),
           dict(dependsOn=[{'type': 'SEQUENTIAL'}])]:
    try:
        submit('bad', 'true', **kw); errs.append(None)
    except batch.exceptions.ClientException as e:
        errs.append(str(e))
print(json.dumps(errs))
`);
    assert.match(r[0], /do not exist/);
    assert.match(r[1], /N_TO_N needs an array job of the same size/);
    assert.match(r[2], /SEQUENTIAL applies to the children of an array job/);
  });

  it('retries: attempts counted, evaluateOnExit decides, a retry can succeed on attempt 2', () => {
    const r = boto(`
flaky = submit('flaky', 'if [ "$AWS_BATCH_JOB_ATTEMPT" = 1 ]; then exit 1; fi; echo ok', retryStrategy={'attempts': 3})
always = submit('always', 'exit 2', retryStrategy={'attempts': 3})
exit_rule = submit('exitrule', 'exit 5', retryStrategy={'attempts': 5, 'evaluateOnExit': [{'onExitCode': '5*', 'action': 'exit'}]})
retry_rule = submit('retryrule', 'exit 7', retryStrategy={'attempts': 2, 'evaluateOnExit': [{'onExitCode': '7', 'action': 'RETRY'}, {'onReason': '*', 'action': 'EXIT'}]})
j = wait([flaky, always, exit_rule, retry_rule])
print(json.dumps(j))
`);
    const byName = Object.fromEntries(Object.values(r).map((j: any) => [j.jobName, j]));
    assert.equal(byName.flaky.status, 'SUCCEEDED');
    assert.equal(byName.flaky.attempts.length, 2);
    assert.equal(byName.flaky.attempts[0].container.exitCode, 1);
    assert.equal(byName.flaky.attempts[1].container.exitCode, 0);
    assert.notEqual(byName.flaky.attempts[0].container.logStreamName, byName.flaky.attempts[1].container.logStreamName);
    assert.equal(byName.always.status, 'FAILED');
    assert.equal(byName.always.attempts.length, 3);
    assert.equal(byName.exitrule.attempts.length, 1, 'EXIT on a matching onExitCode stops retries');
    assert.equal(byName.retryrule.attempts.length, 2);
  });

  it('cancel of an array fails its waiting children; terminate stops running children', () => {
    const r = boto(`
big = submit('to-cancel', 'sleep 30', arrayProperties={'size': 50})
time.sleep(0.5)
batch.cancel_job(jobId=big, reason='no longer needed')
time.sleep(0.5)
running = [c['jobId'] for c in batch.list_jobs(arrayJobId=big, jobStatus='RUNNING')['jobSummaryList']]
batch.terminate_job(jobId=big, reason='stop everything')
j = wait([big])
kids = wait(['%s:%d' % (big, i) for i in range(50)])
print(json.dumps({'parent': j[big], 'running': running, 'kids': list(kids.values())}))
`);
    assert.equal(r.parent.status, 'FAILED');
    assert.equal(r.parent.arrayProperties.statusSummary.FAILED, 50);
    assert.ok(
      r.running.length > 0 && r.running.length <= 4,
      `at most 4 children ran on 4 vCPUs, got ${r.running.length}`,
    );
    const reasons = new Set(r.kids.map((k: any) => k.statusReason));
    assert.ok(reasons.has('no longer needed'));
    for (const k of r.kids.filter((k: any) => r.running.includes(k.jobId)))
      assert.equal(k.statusReason, 'stop everything');
  });

  it('a 10,000-child array is accepted quickly, listed page by page, and terminated', () => {
    const r = boto(`
t0 = time.time()
big = submit('tenk', 'sleep 30', arrayProperties={'size': 10000})
elapsed = time.time() - t0
time.sleep(0.5)
seen, token, pages = 0, None, 0
while True:
    kw = {'arrayJobId': big, 'jobStatus': 'RUNNABLE', 'maxResults': 1000}
    if token: kw['nextToken'] = token
    page = batch.list_jobs(**kw)
    seen += len(page['jobSummaryList']); pages += 1
    token = page.get('nextToken')
    if not token: break
batch.terminate_job(jobId=big, reason='done')
j = wait([big], timeout=60)
print(json.dumps({'elapsed': elapsed, 'seen': seen, 'pages': pages, 'parent': j[big]}))
`);
    assert.ok(r.elapsed < 2, `submit of 10,000 children took ${r.elapsed}s`);
    assert.ok(r.seen >= 9990 && r.seen <= 10000, `listed ${r.seen} RUNNABLE children`);
    assert.ok(r.pages >= 10);
    assert.equal(r.parent.status, 'FAILED');
    assert.equal(r.parent.arrayProperties.statusSummary.FAILED, 10000);
  });

  it('openbatch cancel stops many jobs by name prefix, with a dry run first', () => {
    const ids = boto(`print(json.dumps([submit('bulk-%d' % i, 'sleep 30') for i in range(6)]))`) as string[];
    const env = { ...srv.env };
    const dry = run(process.execPath, [BIN, 'cancel', '--queue', 'q', '--name-prefix', 'bulk-', '--dry-run'], env);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /6 job\(s\) would be stopped/);
    const real = run(
      process.execPath,
      [BIN, 'cancel', '--queue', 'q', '--name-prefix', 'bulk-', '--reason', 'bulk stop'],
      env,
    );
    assert.equal(real.status, 0, real.stderr);
    assert.match(real.stdout, /stopped 6 job\(s\)/);
    const r = boto(`print(json.dumps(wait(${JSON.stringify(ids)})))`);
    for (const id of ids) {
      assert.equal(r[id].status, 'FAILED');
      assert.equal(r[id].statusReason, 'bulk stop');
    }
  });

  // Last: its job was submitted in before() and has been running meanwhile.
  it('a timed-out attempt is stopped, reported, and not retried', { timeout: 150_000 }, () => {
    const r = boto(`print(json.dumps(wait(['${slowJob}'], timeout=120)['${slowJob}']))`);
    assert.equal(r.jobQueue.split('/').pop(), 'q-slow');
    assert.equal(r.status, 'FAILED');
    assert.equal(r.statusReason, 'Job attempt duration exceeded timeout');
    assert.equal(r.attempts.length, 1);
    const took = r.attempts[0].stoppedAt - r.attempts[0].startedAt;
    // Stopped at its timeout, not at some later sweep (the bound leaves room for a loaded machine).
    assert.ok(took >= 60_000 && took < 90_000, `attempt ran ${took} ms`);
  });
});
