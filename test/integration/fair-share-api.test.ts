/**
 * Fair-share API rules and consumable resources through the real clients: boto3 for every operation and error, the
 * aws CLI v1 (whose botocore knows the consumable-resource operations) and v2 (Debian's 2.9, which predates them)
 * for the rules it knows. Jobs run as host processes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AWS_V1, AWS_V2, python, requireBinary, run } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;

/** Runs boto3 code with `batch`, `err(fn)` (the ClientException message or None) and `wait(...)` in scope. */
function boto(code: string): any {
  const prelude = `
import boto3, json, time, os
batch = boto3.client('batch', endpoint_url=os.environ['AWS_ENDPOINT_URL'])
def err(fn):
    try:
        fn()
    except batch.exceptions.ClientException as e:
        return e.response['Error']['Message']
    return None
def wait(job_id, ok, timeout=90):
    end = time.time() + timeout
    while time.time() < end:
        j = batch.describe_jobs(jobs=[job_id])['jobs'][0]
        if ok(j):
            return j
        time.sleep(0.1)
    raise SystemExit('timeout waiting for %s: %s' % (job_id, j))
`;
  const r = python(prelude + code, srv.env);
  if (r.status !== 0) throw new Error(`python failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout);
}

/** Runs the aws CLI; returns { status, out, err }. */
function cli(bin: string, args: string[]) {
  const r = run(bin, [...args, '--endpoint-url', srv.url, '--output', 'json'], srv.env);
  return { status: r.status, out: r.stdout.trim() ? JSON.parse(r.stdout) : {}, err: r.stderr };
}

void describe('fair-share rules and consumable resources (boto3, aws CLI v1 and v2)', () => {
  before(async () => {
    requireBinary(AWS_V1, 'install the aws CLI v1 (pip install awscli)');
    requireBinary(AWS_V2, 'install the aws CLI v2 (apt-get install awscli)');
    srv = await startTestServer({ args: ['--runtime', 'process', '--vcpus', '4'] });
    boto(`
for name in ('fs', 'fs2'):
    batch.create_scheduling_policy(name=name, fairsharePolicy={'shareDecaySeconds': 60, 'computeReservation': 0, 'shareDistribution': [{'shareIdentifier': 'labA', 'weightFactor': 0.5}]})
batch.create_compute_environment(computeEnvironmentName='ce', type='MANAGED', computeResources={'type': 'EC2', 'maxvCpus': 4, 'subnets': ['s']})
batch.create_job_queue(jobQueueName='fifo', priority=1, computeEnvironmentOrder=[{'order': 1, 'computeEnvironment': 'ce'}])
pol = batch.list_scheduling_policies()['schedulingPolicies']
arn = [p['arn'] for p in pol if p['arn'].endswith('/fs')][0]
batch.create_job_queue(jobQueueName='fair', priority=2, schedulingPolicyArn=arn, computeEnvironmentOrder=[{'order': 1, 'computeEnvironment': 'ce'}])
batch.register_job_definition(jobDefinitionName='sh', type='container', containerProperties={'image': 'busybox', 'vcpus': 1, 'memory': 16, 'command': ['sh', '-c', 'sleep 1']})
print(json.dumps({}))
`);
  });
  after(async () => srv?.stop());

  void it('SubmitJob: a fair-share queue requires shareIdentifier, a FIFO queue refuses it (boto3 and CLI v2)', () => {
    const r = boto(`
out = {}
out['missing'] = err(lambda: batch.submit_job(jobName='j', jobQueue='fair', jobDefinition='sh'))
out['refused'] = err(lambda: batch.submit_job(jobName='j', jobQueue='fifo', jobDefinition='sh', shareIdentifier='labA'))
out['bad'] = err(lambda: batch.submit_job(jobName='j', jobQueue='fair', jobDefinition='sh', shareIdentifier='lab-A'))
a = batch.submit_job(jobName='a', jobQueue='fair', jobDefinition='sh', shareIdentifier='labA', schedulingPriorityOverride=7)['jobId']
b = batch.submit_job(jobName='b', jobQueue='fair', jobDefinition='sh', shareIdentifier='labB')['jobId']
out['a'] = wait(a, lambda j: j['status'] == 'SUCCEEDED')
wait(b, lambda j: j['status'] == 'SUCCEEDED')
out['listA'] = batch.list_jobs(jobQueue='fair', filters=[{'name': 'SHARE_IDENTIFIER', 'values': ['labA']}])['jobSummaryList']
out['listA_running'] = batch.list_jobs(jobQueue='fair', jobStatus='RUNNING', filters=[{'name': 'SHARE_IDENTIFIER', 'values': ['labA']}])['jobSummaryList']
print(json.dumps(out))
`);
    assert.match(
      r.missing,
      /if the job queue has a fair-share scheduling policy, then this parameter must be specified/,
    );
    assert.match(
      r.refused,
      /don't specify this parameter if the job queue doesn't have a fair-share scheduling policy/,
    );
    assert.match(r.bad, /limited to 255 alphanumeric characters/);
    assert.equal(r.a.shareIdentifier, 'labA');
    assert.equal(r.a.schedulingPriority, 7);
    assert.deepEqual(
      r.listA.map((j: any) => j.jobName),
      ['a'],
      'SHARE_IDENTIFIER lists only labA, of any status',
    );
    const s = r.listA[0];
    assert.equal(s.shareIdentifier, 'labA');
    assert.deepEqual(s.capacityUsage, [{ capacityUnit: 'VCPU', quantity: 1 }]);
    assert.ok(s.scheduledAt >= s.createdAt && s.scheduledAt <= s.startedAt, JSON.stringify(s));
    assert.deepEqual(r.listA_running, [], 'SHARE_IDENTIFIER and jobStatus are used together');

    const v2 = cli(AWS_V2, ['batch', 'submit-job', '--job-name', 'j', '--job-queue', 'fair', '--job-definition', 'sh']);
    assert.notEqual(v2.status, 0);
    assert.match(v2.err, /ClientException.*shareIdentifier is required/s);
  });

  void it('UpdateJobQueue: a policy can be replaced, not removed, and not added to a FIFO queue; policies cannot overlap', () => {
    const r = boto(`
pol = {p['arn'].rsplit('/', 1)[1]: p['arn'] for p in batch.list_scheduling_policies()['schedulingPolicies']}
out = {}
out['add'] = err(lambda: batch.update_job_queue(jobQueue='fifo', schedulingPolicyArn=pol['fs']))
out['remove'] = err(lambda: batch.update_job_queue(jobQueue='fair', schedulingPolicyArn=''))
batch.update_job_queue(jobQueue='fair', schedulingPolicyArn=pol['fs2'])
out['now'] = batch.describe_job_queues(jobQueues=['fair'])['jobQueues'][0]['schedulingPolicyArn']
out['fs2'] = pol['fs2']
out['overlap'] = err(lambda: batch.create_scheduling_policy(name='bad', fairsharePolicy={'shareDistribution': [{'shareIdentifier': 'UserA*'}, {'shareIdentifier': 'UserA1'}]}))
print(json.dumps(out))
`);
    assert.match(r.add, /can't have a fair-share scheduling policy added/);
    assert.match(r.remove, /can be replaced but not removed/);
    assert.equal(r.now, r.fs2);
    assert.match(r.overlap, /"UserA\*" and "UserA1" overlap/);
    const v2 = cli(AWS_V2, ['batch', 'update-job-queue', '--job-queue', 'fifo', '--scheduling-policy-arn', r.fs2]);
    assert.notEqual(v2.status, 0);
    assert.match(v2.err, /can't have a fair-share scheduling policy added/);
  });

  void it('consumable resources: create, describe, list, update, delete, and jobs wait for them (boto3, CLI v1)', () => {
    const v1 = cli(AWS_V1, [
      'batch',
      'create-consumable-resource',
      '--consumable-resource-name',
      'lic',
      '--total-quantity',
      '1',
    ]);
    assert.equal(v1.status, 0, v1.err);
    assert.match(v1.out.consumableResourceArn, /:consumable-resource\/lic$/);
    const r = boto(`
out = {}
out['dup'] = err(lambda: batch.create_consumable_resource(consumableResourceName='lic', totalQuantity=1))
out['badtype'] = err(lambda: batch.create_consumable_resource(consumableResourceName='x', resourceType='SOMETIMES'))
batch.create_consumable_resource(consumableResourceName='tokens', totalQuantity=1, resourceType='NON_REPLENISHABLE', tags={'k': 'v'})
out['list'] = batch.list_consumable_resources(filters=[{'name': 'CONSUMABLE_RESOURCE_NAME', 'values': ['LI*']}])['consumableResources']
out['add'] = batch.update_consumable_resource(consumableResource='lic', operation='ADD', quantity=2)['totalQuantity']
out['remove'] = err(lambda: batch.update_consumable_resource(consumableResource='lic', operation='REMOVE', quantity=9))
out['set'] = batch.update_consumable_resource(consumableResource='lic', operation='SET', quantity=1, clientToken='t1')['totalQuantity']
out['again'] = batch.update_consumable_resource(consumableResource='lic', operation='SET', quantity=1, clientToken='t1')['totalQuantity']
out['unknown'] = err(lambda: batch.describe_consumable_resource(consumableResource='nope'))
batch.register_job_definition(jobDefinitionName='licjob', type='container', containerProperties={'image': 'busybox', 'vcpus': 1, 'memory': 16, 'command': ['sh', '-c', 'sleep 3']}, consumableResourceProperties={'consumableResourceList': [{'consumableResource': 'lic', 'quantity': 1}]})
out['baddef'] = err(lambda: batch.register_job_definition(jobDefinitionName='bad', type='container', containerProperties={'image': 'busybox', 'vcpus': 1, 'memory': 16}, consumableResourceProperties={'consumableResourceList': [{'consumableResource': 'ghost', 'quantity': 1}]}))
j1 = batch.submit_job(jobName='lic1', jobQueue='fifo', jobDefinition='licjob')['jobId']
j2 = batch.submit_job(jobName='lic2', jobQueue='fifo', jobDefinition='licjob')['jobId']
wait(j1, lambda j: j['status'] == 'RUNNING')
out['waiting'] = wait(j2, lambda j: j['status'] == 'RUNNABLE')
out['busy'] = batch.describe_consumable_resource(consumableResource='lic')
out['byres'] = batch.list_jobs_by_consumable_resource(consumableResource='lic')['jobs']
out['byres_runnable'] = batch.list_jobs_by_consumable_resource(consumableResource='lic', filters=[{'name': 'JOB_STATUS', 'values': ['RUNNABLE']}])['jobs']
out['delete_busy'] = err(lambda: batch.delete_consumable_resource(consumableResource='lic'))
out['j1'] = wait(j1, lambda j: j['status'] == 'SUCCEEDED')
wait(j2, lambda j: j['status'] == 'SUCCEEDED')
out['idle'] = batch.describe_consumable_resource(consumableResource='lic')
t1 = batch.submit_job(jobName='tok1', jobQueue='fifo', jobDefinition='sh', consumableResourcePropertiesOverride={'consumableResourceList': [{'consumableResource': 'tokens', 'quantity': 1}]})['jobId']
wait(t1, lambda j: j['status'] == 'SUCCEEDED')
t2 = batch.submit_job(jobName='tok2', jobQueue='fifo', jobDefinition='sh', consumableResourcePropertiesOverride={'consumableResourceList': [{'consumableResource': 'tokens', 'quantity': 1}]})['jobId']
time.sleep(1)
out['tok2'] = batch.describe_jobs(jobs=[t2])['jobs'][0]
out['tokens'] = batch.describe_consumable_resource(consumableResource='tokens')
out['ghostjob'] = err(lambda: batch.submit_job(jobName='g', jobQueue='fifo', jobDefinition='sh', consumableResourcePropertiesOverride={'consumableResourceList': [{'consumableResource': 'ghost', 'quantity': 1}]}))
batch.terminate_job(jobId=t2, reason='test done')
wait(t2, lambda j: j['status'] == 'FAILED')
batch.delete_consumable_resource(consumableResource='lic')
out['deleted'] = err(lambda: batch.describe_consumable_resource(consumableResource='lic'))
print(json.dumps(out))
`);
    assert.match(r.dup, /already exists/);
    assert.match(r.badtype, /REPLENISHABLE .*NON_REPLENISHABLE/);
    assert.deepEqual(
      r.list.map((x: any) => [x.consumableResourceName, x.totalQuantity, x.resourceType]),
      [['lic', 1, 'REPLENISHABLE']],
    );
    assert.equal(r.add, 3);
    assert.match(r.remove, /would leave -6/);
    assert.equal(r.set, 1);
    assert.equal(r.again, 1);
    assert.match(r.unknown, /consumable resource "nope" does not exist/);
    assert.match(r.baddef, /consumable resource "ghost" does not exist/);
    assert.equal(r.waiting.status, 'RUNNABLE');
    assert.match(r.waiting.statusReason, /needs 1 of consumable resource lic; 0 of 1 available, 1 in use/);
    assert.deepEqual(r.waiting.consumableResourceProperties.consumableResourceList[0].quantity, 1);
    assert.equal(r.busy.inUseQuantity, 1);
    assert.equal(r.busy.availableQuantity, 0);
    assert.deepEqual(r.byres.map((j: any) => j.jobName).sort(), ['lic1', 'lic2']);
    assert.deepEqual(
      r.byres_runnable.map((j: any) => [j.jobName, j.quantity]),
      [['lic2', 1]],
    );
    assert.match(r.delete_busy, /needed by 2 jobs/);
    assert.equal(r.idle.inUseQuantity, 0);
    assert.equal(r.idle.availableQuantity, 1);
    assert.equal(r.tok2.status, 'RUNNABLE');
    assert.match(r.tok2.statusReason, /consumable resource tokens; 0 of 0 available.*NON_REPLENISHABLE/);
    assert.equal(r.tokens.totalQuantity, 0, 'a NON_REPLENISHABLE resource loses what a job took');
    assert.deepEqual(r.tokens.tags, { k: 'v' });
    assert.match(r.ghostjob, /consumableResourcePropertiesOverride.consumableResourceList\[0\].consumableResource/);
    assert.match(r.deleted, /does not exist/);

    const listed = cli(AWS_V1, ['batch', 'list-jobs-by-consumable-resource', '--consumable-resource', 'tokens']);
    assert.equal(listed.status, 0, listed.err);
    assert.deepEqual(listed.out.jobs.map((j: any) => j.jobName).sort(), ['tok1', 'tok2']);
  });
});
