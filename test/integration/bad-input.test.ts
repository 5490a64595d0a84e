/**
 * Bad input, sent as raw SigV4-signed requests (signed as the SDKs sign) so that no client-side check hides a
 * server-side gap: every constraint of the model gets a 4xx ClientException naming the field, the server stays up,
 * and a refused request leaves nothing behind.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { signedFetch } from '../helpers/signed.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const valid = { jobName: 'ok', jobQueue: 'q', jobDefinition: 'jd' };
const deps = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ jobId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` }));

/** [label, path, body, what the message must name]. */
const CASES: [string, string, unknown, RegExp][] = [
  ['missing jobName', '/v1/submitjob', { jobQueue: 'q', jobDefinition: 'jd' }, /jobName/],
  ['missing jobQueue', '/v1/submitjob', { jobName: 'a', jobDefinition: 'jd' }, /jobQueue/],
  ['jobName wrong type', '/v1/submitjob', { ...valid, jobName: 5 }, /jobName/],
  ['jobName 129 characters', '/v1/submitjob', { ...valid, jobName: 'a'.repeat(129) }, /jobName.*128|128.*jobName/s],
  ['jobName starts with -', '/v1/submitjob', { ...valid, jobName: '-x' }, /jobName/],
  ['jobName with a space', '/v1/submitjob', { ...valid, jobName: 'a b' }, /jobName/],
  ['array size 1', '/v1/submitjob', { ...valid, arrayProperties: { size: 1 } }, /arrayProperties/],
  ['array size 10001', '/v1/submitjob', { ...valid, arrayProperties: { size: 10_001 } }, /arrayProperties/],
  ['21 dependencies', '/v1/submitjob', { ...valid, dependsOn: deps(21) }, /dependsOn.*20|20.*dependsOn/s],
  ['dependsOn type enum', '/v1/submitjob', { ...valid, dependsOn: [{ jobId: 'x', type: 'SOMETIMES' }] }, /type/],
  ['timeout 59 s', '/v1/submitjob', { ...valid, timeout: { attemptDurationSeconds: 59 } }, /attemptDurationSeconds/],
  ['retry attempts 0', '/v1/submitjob', { ...valid, retryStrategy: { attempts: 0 } }, /attempts/],
  ['retry attempts 11', '/v1/submitjob', { ...valid, retryStrategy: { attempts: 11 } }, /attempts/],
  [
    'environment not a list',
    '/v1/submitjob',
    { ...valid, containerOverrides: { environment: { a: 1 } } },
    /environment/,
  ],
  [
    'resource type enum',
    '/v1/submitjob',
    { ...valid, containerOverrides: { resourceRequirements: [{ type: 'DISK', value: '1' }] } },
    /type|resourceRequirements/,
  ],
  ['unknown queue', '/v1/submitjob', { ...valid, jobQueue: 'nope' }, /jobQueue/],
  ['unknown job definition', '/v1/submitjob', { ...valid, jobDefinition: 'nope' }, /jobDefinition/],
  ['SubmitJob over 30 KiB', '/v1/submitjob', { ...valid, parameters: { big: 'x'.repeat(31 * 1024) } }, /30 KiB/],
  ['DescribeJobs 101 ids', '/v1/describejobs', { jobs: Array.from({ length: 101 }, (_, i) => `j${i}`) }, /jobs/],
  ['DescribeJobs jobs missing', '/v1/describejobs', {}, /jobs/],
  ['ListJobs bad status', '/v1/listjobs', { jobQueue: 'q', jobStatus: 'DONE' }, /jobStatus/],
  ['ListJobs bad filter', '/v1/listjobs', { jobQueue: 'q', filters: [{ name: 'COLOR', values: ['x'] }] }, /filter/],
  ['CE type enum', '/v1/createcomputeenvironment', { computeEnvironmentName: 'x', type: 'CLOUD' }, /type/],
  [
    'CE name pattern',
    '/v1/createcomputeenvironment',
    { computeEnvironmentName: 'bad name', type: 'UNMANAGED' },
    /computeEnvironmentName/,
  ],
  [
    'queue priority type',
    '/v1/createjobqueue',
    { jobQueueName: 'x', priority: 'high', computeEnvironmentOrder: [] },
    /priority/,
  ],
  ['job definition type enum', '/v1/registerjobdefinition', { jobDefinitionName: 'x', type: 'lambda' }, /type/],
  [
    'job definition timeout 10',
    '/v1/registerjobdefinition',
    {
      jobDefinitionName: 'x',
      type: 'container',
      containerProperties: { image: 'i' },
      timeout: { attemptDurationSeconds: 10 },
    },
    /attemptDurationSeconds/,
  ],
  [
    'job definition retry 11',
    '/v1/registerjobdefinition',
    { jobDefinitionName: 'x', type: 'container', containerProperties: { image: 'i' }, retryStrategy: { attempts: 11 } },
    /attempts/,
  ],
  [
    'job definition over 24 KiB',
    '/v1/registerjobdefinition',
    {
      jobDefinitionName: 'x',
      type: 'container',
      containerProperties: { image: 'i', command: ['x'.repeat(25 * 1024)] },
    },
    /24 KiB/,
  ],
  [
    'reserved environment',
    '/v1/submitjob',
    { ...valid, containerOverrides: { environment: [{ name: 'AWS_BATCH_X', value: '1' }] } },
    /AWS_BATCH_/,
  ],
  ['malformed JSON', '/v1/submitjob', '{"jobName": "a",', /JSON/],
  ['JSON array body', '/v1/submitjob', '[1,2]', /JSON object/],
];

void describe('bad input', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ args: ['--runtime', 'process', '--vcpus', '2'] });
    const setup: [string, unknown][] = [
      [
        '/v1/createcomputeenvironment',
        {
          computeEnvironmentName: 'ce',
          type: 'MANAGED',
          state: 'DISABLED',
          computeResources: { type: 'EC2', maxvCpus: 2 },
        },
      ],
      [
        '/v1/createjobqueue',
        { jobQueueName: 'q', priority: 1, computeEnvironmentOrder: [{ order: 1, computeEnvironment: 'ce' }] },
      ],
      [
        '/v1/registerjobdefinition',
        {
          jobDefinitionName: 'jd',
          type: 'container',
          containerProperties: { image: 'i', vcpus: 1, memory: 16, command: ['true'] },
        },
      ],
    ];
    for (const [path, body] of setup) assert.equal((await signedFetch(server, path, body as object)).status, 200, path);
  });
  after(async () => {
    await server?.stop();
  });

  for (const [label, path, body, names] of CASES) {
    void it(`${label}: 400 ClientException naming the field`, async () => {
      const r = await signedFetch(server, path, body as object);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.headers.get('x-amzn-errortype'), 'ClientException');
      assert.equal(r.json.__type, 'ClientException');
      assert.match(r.json.message, names);
    });
  }

  void it('a body over the limit is a 413 in AWS shape, and the server stays up', async () => {
    // Several times: the answer must arrive whole every time, not race a reset of the half-read upload.
    for (let i = 0; i < 5; i++) {
      const r = await signedFetch(
        server,
        '/v1/submitjob',
        JSON.stringify({ ...valid, parameters: { big: 'x'.repeat(2 * 1024 * 1024) } }),
      );
      assert.equal(r.status, 413, r.text);
      assert.equal(r.json?.__type, 'RequestEntityTooLargeException');
      assert.equal(r.headers.get('x-amzn-errortype'), 'RequestEntityTooLargeException');
      assert.match(r.json.message, /more than the \d+ bytes/);
    }
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  void it('refused requests left nothing behind: no job, no resource, no revision', async () => {
    const jobs = await signedFetch(server, '/v1/listjobs', {
      jobQueue: 'q',
      filters: [{ name: 'AFTER_CREATED_AT', values: ['0'] }],
    });
    assert.deepEqual(jobs.json.jobSummaryList, []);
    const ces = await signedFetch(server, '/v1/describecomputeenvironments', {});
    assert.deepEqual(
      ces.json.computeEnvironments.map((c: { computeEnvironmentName: string }) => c.computeEnvironmentName),
      ['ce'],
    );
    const jds = await signedFetch(server, '/v1/describejobdefinitions', {});
    assert.deepEqual(
      jds.json.jobDefinitions.map((d: { jobDefinitionName: string }) => d.jobDefinitionName),
      ['jd'],
    );
    // And the server still does its job.
    const ok = await signedFetch(server, '/v1/submitjob', valid);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(server.proc.exitCode, null);
  });
});
