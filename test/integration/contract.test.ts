/**
 * The contract with AWS's clients: every Batch operation openbatch serves is called against a real server, and every
 * answer is checked against the model's output shape (types, required members, enums, no member the model does not
 * know) and against the defaults AWS reports for members the caller left out (src/service/wire-defaults.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkOutput, loadServiceModel, type ServiceModel } from '../../src/api/model-validator.js';
import { BATCH_OPERATIONS } from '../../src/api/batch/operations.js';
import { WIRE_DEFAULTS, serviceLinkedRoleArn, type WireDefaultsOf } from '../../src/service/wire-defaults.js';
import { signedFetch } from '../helpers/signed.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/clients.js';

const MODEL = loadServiceModel('batch');

/**
 * Where AWS itself answers outside the model's `required`: JobDetail.startedAt is absent until the job starts (the
 * API reference: "the Unix timestamp ... when the job was started"; a SUBMITTED job has none).
 */
const REQUIRED_BUT_ABSENT_UNTIL_SET: Record<string, string[]> = { JobDetail: ['startedAt'] };

/** Paths (`jobs[0].container.foo`) of members in `value` that the model's shape does not define. */
function unknownMembers(model: ServiceModel, shapeName: string, value: unknown, path = ''): string[] {
  const shape = model.shapes[shapeName];
  if (!shape || value === null || value === undefined) return [];
  if (shape.type === 'structure' && typeof value === 'object' && !Array.isArray(value)) {
    const out: string[] = [];
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const ref = shape.members?.[k];
      if (!ref) out.push(`${path}.${k}`);
      else out.push(...unknownMembers(model, ref.shape, v, `${path}.${k}`));
    }
    return out;
  }
  if (shape.type === 'list' && Array.isArray(value) && shape.member)
    return value.flatMap((v, i) => unknownMembers(model, shape.member!.shape, v, `${path}[${i}]`));
  if (shape.type === 'map' && typeof value === 'object' && shape.value)
    return Object.entries(value).flatMap(([k, v]) => unknownMembers(model, shape.value!.shape, v, `${path}["${k}"]`));
  return [];
}

/** Fills the members AWS leaves out until they are set, so the rest of JobDetail is checked strictly. */
function withAbsentAllowed(op: string, out: any): any {
  if (op !== 'DescribeJobs') return out;
  return {
    ...out,
    jobs: out.jobs.map((j: any) => {
      const copy = { ...j };
      for (const m of REQUIRED_BUT_ABSENT_UNTIL_SET.JobDetail!) copy[m] ??= 0;
      return copy;
    }),
  };
}

function assertDefaults(kind: WireDefaultsOf, obj: Record<string, unknown>, where: string): void {
  for (const [k, v] of Object.entries(WIRE_DEFAULTS[kind]))
    assert.deepEqual(obj[k], v, `${where}.${k} should default to ${JSON.stringify(v)}`);
}

void describe('contract: every operation answers in the model shape with AWS defaults', () => {
  let server: TestServer;
  const called = new Set<string>();

  /** Calls an operation over HTTP as the SDKs do and checks the answer against the model. */
  async function call(op: string, input: Record<string, any> = {}): Promise<any> {
    const http = MODEL.operations[op]!.http!;
    let path = http.requestUri;
    const body = { ...input };
    if (path.includes('{resourceArn}')) {
      path = path.replace('{resourceArn}', encodeURIComponent(body.resourceArn as string));
      delete body.resourceArn;
    }
    if (body.tagKeys) {
      path += '?' + (body.tagKeys as string[]).map((k) => `tagKeys=${encodeURIComponent(k)}`).join('&');
      delete body.tagKeys;
    }
    const res = await signedFetch(server, path, http.method === 'GET' || http.method === 'DELETE' ? '' : body, {
      method: http.method,
    });
    assert.equal(res.status, 200, `${op} answered ${res.status}: ${res.text}`);
    const out = res.json ?? {};
    const problem = checkOutput(MODEL, op, withAbsentAllowed(op, out));
    assert.equal(problem, undefined, `${op}: ${problem}\n${JSON.stringify(out)}`);
    const outShape = MODEL.operations[op]!.output?.shape;
    if (outShape) assert.deepEqual(unknownMembers(MODEL, outShape, out), [], `${op}: members the model does not know`);
    called.add(op);
    return out;
  }

  before(async () => {
    server = await startTestServer({ args: ['--runtime', 'process', '--vcpus', '4'] });
  });
  after(async () => {
    await server?.stop();
  });

  void it('resources: created with the fewest members, described with AWS defaults', async () => {
    const sp = await call('CreateSchedulingPolicy', { name: 'sp1' });
    const spd = (await call('DescribeSchedulingPolicies', { arns: [sp.arn] })).schedulingPolicies[0];
    assertDefaults('SchedulingPolicyDetail', spd, 'schedulingPolicy');
    assert.equal((await call('ListSchedulingPolicies')).schedulingPolicies.length, 1);
    await call('UpdateSchedulingPolicy', { arn: sp.arn, fairsharePolicy: { shareDecaySeconds: 60 } });

    await call('CreateComputeEnvironment', {
      computeEnvironmentName: 'ce1',
      type: 'MANAGED',
      computeResources: { type: 'EC2', maxvCpus: 4, subnets: ['subnet-1'], instanceRole: 'ecsInstanceRole' },
    });
    await call('CreateComputeEnvironment', { computeEnvironmentName: 'ce-un', type: 'UNMANAGED' });
    await call('CreateComputeEnvironment', {
      computeEnvironmentName: 'ce-named-role',
      type: 'MANAGED',
      serviceRole: 'AWSBatchServiceRole',
      computeResources: { type: 'SPOT', minvCpus: 2, maxvCpus: 8, subnets: [] },
    });
    const ces = (await call('DescribeComputeEnvironments')).computeEnvironments as any[];
    const byName = new Map(ces.map((c) => [c.computeEnvironmentName, c]));
    const account = /:(\d{12}):/.exec(byName.get('ce1').computeEnvironmentArn)![1]!;
    for (const c of ces) assertDefaults('ComputeEnvironmentDetail', c, c.computeEnvironmentName);
    assert.equal(byName.get('ce1').serviceRole, serviceLinkedRoleArn(account));
    assert.equal(byName.get('ce-un').serviceRole, serviceLinkedRoleArn(account));
    assert.equal(byName.get('ce-named-role').serviceRole, `arn:aws:iam::${account}:role/AWSBatchServiceRole`);
    assertDefaults('ComputeResource(EC2|SPOT)', byName.get('ce1').computeResources, 'ce1.computeResources');
    assert.equal(byName.get('ce1').computeResources.desiredvCpus, 0);
    assert.equal(byName.get('ce-named-role').computeResources.desiredvCpus, 2);
    await call('UpdateComputeEnvironment', { computeEnvironment: 'ce-un', unmanagedvCpus: 4 });

    await call('CreateJobQueue', {
      jobQueueName: 'q1',
      priority: 1,
      computeEnvironmentOrder: [{ order: 1, computeEnvironment: 'ce1' }],
    });
    const q = (await call('DescribeJobQueues', { jobQueues: ['q1'] })).jobQueues[0];
    assertDefaults('JobQueueDetail', q, 'q1');
    await call('UpdateJobQueue', { jobQueue: 'q1', priority: 2 });

    await call('RegisterJobDefinition', {
      jobDefinitionName: 'jd1',
      type: 'container',
      containerProperties: {
        image: 'busybox',
        resourceRequirements: [
          { type: 'VCPU', value: '1' },
          { type: 'MEMORY', value: '16' },
        ],
      },
    });
    const jd = (await call('DescribeJobDefinitions', { jobDefinitionName: 'jd1' })).jobDefinitions[0];
    assertDefaults('JobDefinition', jd, 'jd1');
    assertDefaults(
      'ContainerProperties',
      { ...jd.containerProperties, resourceRequirements: [] },
      'jd1.containerProperties',
    );
    assert.equal(jd.containerOrchestrationType, 'ECS');

    await call('RegisterJobDefinition', {
      jobDefinitionName: 'eks1',
      type: 'container',
      eksProperties: {
        podProperties: { containers: [{ image: 'busybox', resources: { limits: { cpu: '1', memory: '16Mi' } } }] },
      },
    });
    const ejd = (await call('DescribeJobDefinitions', { jobDefinitions: ['eks1:1'] })).jobDefinitions[0];
    assertDefaults('JobDefinition', ejd, 'eks1');
    assert.equal(ejd.containerOrchestrationType, 'EKS');
    assert.equal(ejd.containerProperties, undefined);
    assertDefaults('EksPodProperties', ejd.eksProperties.podProperties, 'eks1.podProperties');
    assertDefaults('EksContainer', ejd.eksProperties.podProperties.containers[0], 'eks1.containers[0]');
  });

  void it('jobs: submit, list (any case of jobStatus), describe, cancel, terminate, tags; then tear down', async () => {
    const a = await call('SubmitJob', {
      jobName: 'a',
      jobQueue: 'q1',
      jobDefinition: 'jd1',
      containerOverrides: { command: ['true'] },
    });
    const b = await call('SubmitJob', {
      jobName: 'b',
      jobQueue: 'q1',
      jobDefinition: 'jd1',
      dependsOn: [{ jobId: a.jobId, type: 'SEQUENTIAL' }],
      containerOverrides: { command: ['true'] },
    });
    const e = await call('SubmitJob', {
      jobName: 'e',
      jobQueue: 'q1',
      jobDefinition: 'eks1',
      eksPropertiesOverride: { podProperties: { containers: [{ command: ['sh', '-c'], args: ['exit 3'] }] } },
    });
    const arr = await call('SubmitJob', {
      jobName: 'arr',
      jobQueue: 'q1',
      jobDefinition: 'jd1',
      arrayProperties: { size: 2 },
      containerOverrides: { command: ['true'] },
    });
    const fresh = (await call('DescribeJobs', { jobs: [a.jobId] })).jobs[0];
    assertDefaults('JobDetail', { ...fresh, dependsOn: [], attempts: [] }, 'job a');

    await waitFor(
      'jobs to finish',
      async () => (await call('DescribeJobs', { jobs: [a.jobId, b.jobId, e.jobId, arr.jobId] })).jobs as any[],
      (js) => js.every((j) => j.status === 'SUCCEEDED' || j.status === 'FAILED'),
      60_000,
    );
    const [ja, jb, je] = (await call('DescribeJobs', { jobs: [a.jobId, b.jobId, e.jobId] })).jobs;
    assert.equal(ja.status, 'SUCCEEDED');
    assert.equal(jb.status, 'SUCCEEDED');
    assert.ok(jb.startedAt >= ja.stoppedAt, 'the SEQUENTIAL-with-jobId dependency ordered b after a');
    assertDefaults('JobDetail', { ...ja, attempts: [] }, 'job a');
    assertDefaults('ContainerDetail', { ...ja.container, command: [], resourceRequirements: [] }, 'job a.container');
    assert.equal(je.status, 'FAILED');
    assert.equal(je.container, undefined);
    assert.equal(je.eksAttempts.length, 1);
    assert.equal(je.eksAttempts[0].containers[0].exitCode, 3);
    assert.equal(je.eksProperties.podProperties.containers[0].exitCode, 3);

    for (const status of ['succeeded', 'SUCCEEDED', 'Succeeded']) {
      const l = await call('ListJobs', { jobQueue: 'q1', jobStatus: status });
      assert.equal(l.jobSummaryList.length, 3, `jobStatus ${status}: a, b and the array parent`);
    }
    assert.equal((await call('ListJobs', { arrayJobId: arr.jobId, jobStatus: 'succeeded' })).jobSummaryList.length, 2);

    const c = await call('SubmitJob', {
      jobName: 'c',
      jobQueue: 'q1',
      jobDefinition: 'jd1',
      dependsOn: [{ jobId: e.jobId }],
    });
    await call('CancelJob', { jobId: c.jobId, reason: 'contract' });
    const t = await call('SubmitJob', {
      jobName: 't',
      jobQueue: 'q1',
      jobDefinition: 'jd1',
      containerOverrides: { command: ['sleep', '30'] },
    });
    await call('TerminateJob', { jobId: t.jobId, reason: 'contract' });

    const snap = await call('GetJobQueueSnapshot', { jobQueue: 'q1' });
    assert.ok(Array.isArray(snap.frontOfQueue.jobs));
    await call('TagResource', { resourceArn: ja.jobArn, tags: { k: 'v' } });
    assert.deepEqual((await call('ListTagsForResource', { resourceArn: ja.jobArn })).tags, { k: 'v' });
    await call('UntagResource', { resourceArn: ja.jobArn, tagKeys: ['k'] });
    assert.deepEqual((await call('ListTagsForResource', { resourceArn: ja.jobArn })).tags, {});

    await call('CreateConsumableResource', { consumableResourceName: 'lic', totalQuantity: 2 });
    await call('DescribeConsumableResource', { consumableResource: 'lic' });
    await call('ListConsumableResources', {});
    await call('UpdateConsumableResource', { consumableResource: 'lic', operation: 'ADD', quantity: 1 });
    await call('ListJobsByConsumableResource', { consumableResource: 'lic' });
    await call('DeleteConsumableResource', { consumableResource: 'lic' });

    await call('DeregisterJobDefinition', { jobDefinition: 'jd1:1' });
    await call('UpdateJobQueue', { jobQueue: 'q1', state: 'DISABLED' });
    await call('DeleteJobQueue', { jobQueue: 'q1' });
    await call('UpdateComputeEnvironment', { computeEnvironment: 'ce-un', state: 'DISABLED' });
    await call('DeleteComputeEnvironment', { computeEnvironment: 'ce-un' });
    const sp = (await call('ListSchedulingPolicies')).schedulingPolicies[0];
    await call('DeleteSchedulingPolicy', { arn: sp.arn });
  });

  void it('covered every operation openbatch serves', () => {
    assert.deepEqual(
      Object.keys(BATCH_OPERATIONS).filter((op) => !called.has(op)),
      [],
      'operations the contract test did not call',
    );
  });
});
