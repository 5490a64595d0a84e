/**
 * Replays the research center's walkthrough (shared/seeds) verbatim against a real server: the admin creates the
 * `mixed` and `optimal` environments and queues, `myJobDef:7` exists, the user generates a skeleton with
 * `aws batch submit-job --generate-cli-skeleton > job.json`, edits it as the page says, submits it with
 * `--cli-input-json file://job.json`, runs the page's boto3 `submit_job.py`, and polls `describe-jobs | jq`.
 * Both aws CLI v1 and v2 run it (their skeletons differ).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegisterJobDefinitionCommand } from '@aws-sdk/client-batch';
import { AWS_V1, AWS_V2, aws, requireBinary, run, waitFor } from '../helpers/clients.js';
import { sdkClient } from '../helpers/signed.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** The page's final job.json, verbatim. */
const SEEDS_JOB_JSON = {
  jobName: 'jdoe-test-job',
  jobQueue: 'mixed',
  jobDefinition: 'myJobDef:7',
  containerOverrides: {
    command: ['echo', 'hello world'],
    environment: [
      { name: 'FAVORITE_COLOR', value: 'blue' },
      { name: 'FAVORITE_MONTH', value: 'December' },
    ],
  },
};

/** The page's submit_job.py, verbatim. */
const SUBMIT_JOB_PY = `#!/usr/bin/env python3
"Submit a job to AWS Batch."

import boto3

batch = boto3.client('batch')

response = batch.submit_job(jobName='jdoe-test-job', # use your HutchNet ID instead of 'jdoe'
                            jobQueue='mixed', # sufficient for most jobs
                            jobDefinition='myJobDef:7', # use a real job definition
                            containerOverrides={
                                "command": ['echo', 'hello', 'world'], # optionally override command
                                "environment": [ # optionally set environment variables
                                    {"name": "FAVORITE_COLOR", "value": "blue"},
                                    {"name": "FAVORITE_MONTH", "value": "December"}
                                ]
                            })

print("Job ID is {}.".format(response['jobId']))
`;

/**
 * The user's edit of the skeleton, as the page describes it: fill jobName, jobQueue, jobDefinition, command and
 * environment; delete dependsOn, parameters, vcpus/memory in containerOverrides and retryStrategy; and (the page's
 * final file shows it) drop every other member left empty. Done with jq, as a user at a shell would.
 */
const EDIT_JQ = `
  .jobName = "jdoe-test-job" | .jobQueue = "mixed" | .jobDefinition = "myJobDef:7"
  | .containerOverrides.command = ["echo", "hello world"]
  | .containerOverrides.environment = [{"name":"FAVORITE_COLOR","value":"blue"},{"name":"FAVORITE_MONTH","value":"December"}]
  | del(.dependsOn, .parameters, .containerOverrides.vcpus, .containerOverrides.memory, .retryStrategy)
  | {jobName, jobQueue, jobDefinition, containerOverrides: {command: .containerOverrides.command, environment: .containerOverrides.environment}}
`;

void describe('the seeds walkthrough, verbatim', () => {
  let server: TestServer;
  let work: string;

  before(async () => {
    requireBinary(AWS_V1, 'install aws CLI v1: pip install awscli');
    requireBinary(AWS_V2, 'install aws CLI v2: apt-get install awscli');
    requireBinary('jq', 'install jq: apt-get install jq');
    server = await startTestServer({ args: ['--runtime', 'process', '--vcpus', '4'] });
    work = mkdtempSync(join(tmpdir(), 'openbatch-seeds-'));
    // The admin's part: environments and queues named as on the page.
    for (const name of ['mixed', 'optimal']) {
      aws(AWS_V1, server.url, server.env, [
        'batch',
        'create-compute-environment',
        '--compute-environment-name',
        name,
        '--type',
        'MANAGED',
        '--compute-resources',
        `type=EC2,minvCpus=0,maxvCpus=4,instanceTypes=${name === 'mixed' ? 'c5.large,m5.large' : 'optimal'},subnets=subnet-1,securityGroupIds=sg-1,instanceRole=ecsInstanceRole`,
      ]);
      aws(AWS_V1, server.url, server.env, [
        'batch',
        'create-job-queue',
        '--job-queue-name',
        name,
        '--priority',
        '1',
        '--compute-environment-order',
        `order=1,computeEnvironment=${name}`,
      ]);
    }
    // myJobDef gets revisions 1..7 (the page names myJobDef:7).
    const sdk = sdkClient(server);
    for (let i = 1; i <= 6; i++)
      await sdk.send(
        new RegisterJobDefinitionCommand({
          jobDefinitionName: 'myJobDef',
          type: 'container',
          containerProperties: { image: 'busybox', vcpus: 1, memory: 64, command: ['false'] },
        }),
      );
    const seventh = aws(AWS_V1, server.url, server.env, [
      'batch',
      'register-job-definition',
      '--job-definition-name',
      'myJobDef',
      '--type',
      'container',
      '--container-properties',
      JSON.stringify({ image: 'busybox', vcpus: 1, memory: 128, command: ['echo', 'default'] }),
    ]);
    assert.equal(seventh.revision, 7);
    assert.equal(seventh.jobDefinitionName, 'myJobDef');
  });

  after(async () => {
    await server?.stop();
  });

  /** `aws batch describe-jobs --jobs <id> | jq -r '.jobs[0].<path>'`, through a shell pipe as on the page. */
  const jqField = (bin: string, id: string, path: string): string => {
    const r = run(
      'sh',
      ['-c', `"$AWS" batch describe-jobs --jobs "$JOB" --endpoint-url "$URL" | jq -r '.jobs[0].${path}'`],
      { ...server.env, AWS: bin, JOB: id, URL: server.url },
    );
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };

  const statusUntil = async (bin: string, id: string): Promise<void> => {
    const seen = new Set<string>();
    await waitFor(
      `job ${id} SUCCEEDED`,
      () => {
        const s = jqField(bin, id, 'status');
        seen.add(s);
        return s;
      },
      (s) => s === 'SUCCEEDED' || s === 'FAILED',
      60_000,
    );
    assert.equal(jqField(bin, id, 'status'), 'SUCCEEDED', `statuses seen: ${[...seen].join(', ')}`);
  };

  for (const [label, bin] of [
    ['aws CLI v1', AWS_V1],
    ['aws CLI v2', AWS_V2],
  ] as const) {
    void it(`${label}: skeleton -> edit -> submit-job --cli-input-json file://job.json -> describe-jobs | jq`, async () => {
      const dir = mkdtempSync(join(work, 'cli-'));
      const jobJson = join(dir, 'job.json');
      const r0 = run('sh', ['-c', `cd "$DIR" && "$AWS" batch submit-job --generate-cli-skeleton > job.json`], {
        ...server.env,
        AWS: bin,
        DIR: dir,
      });
      assert.equal(r0.status, 0, r0.stderr);
      const skeleton = JSON.parse(readFileSync(jobJson, 'utf8'));
      assert.ok('dependsOn' in skeleton && 'retryStrategy' in skeleton && 'vcpus' in skeleton.containerOverrides);
      const edited = run('jq', [EDIT_JQ, jobJson], server.env);
      assert.equal(edited.status, 0, edited.stderr);
      writeFileSync(jobJson, edited.stdout);
      assert.deepEqual(JSON.parse(readFileSync(jobJson, 'utf8')), SEEDS_JOB_JSON);

      const sub = run(
        'sh',
        ['-c', `cd "$DIR" && "$AWS" batch submit-job --cli-input-json file://job.json --endpoint-url "$URL"`],
        { ...server.env, AWS: bin, DIR: dir, URL: server.url },
      );
      assert.equal(sub.status, 0, sub.stderr);
      const out = JSON.parse(sub.stdout);
      assert.equal(out.jobName, 'jdoe-test-job');
      assert.match(out.jobId, /^[0-9a-f-]{36}$/);
      assert.match(out.jobArn, new RegExp(`:job/${out.jobId}$`));
      await statusUntil(bin, out.jobId);
      assert.match(jqField(bin, out.jobId, 'container.logStreamName'), /^myJobDef\/default\/[0-9a-f]+$/);
      // The job ran the override with the page's environment, on myJobDef:7's resources.
      const d = aws(bin, server.url, server.env, ['batch', 'describe-jobs', '--jobs', out.jobId]).jobs[0];
      assert.deepEqual(d.container.command, ['echo', 'hello world']);
      assert.match(d.jobDefinition, /:job-definition\/myJobDef:7$/);
      assert.equal(d.container.memory ?? 128, 128);
      assert.deepEqual(
        d.container.environment.filter((e: { name: string }) => e.name.startsWith('FAVORITE')),
        SEEDS_JOB_JSON.containerOverrides.environment,
      );
      assert.equal(d.container.exitCode, 0);
    });
  }

  void it('boto3: python3 submit_job.py, then describe-jobs | jq', async () => {
    const dir = mkdtempSync(join(work, 'py-'));
    writeFileSync(join(dir, 'submit_job.py'), SUBMIT_JOB_PY);
    // boto3 reads the endpoint from AWS_ENDPOINT_URL like the credentials from the environment.
    const r = run('sh', ['-c', 'cd "$DIR" && python3 submit_job.py'], { ...server.env, DIR: dir });
    assert.equal(r.status, 0, r.stderr);
    const m = /^Job ID is ([0-9a-f-]{36})\.$/m.exec(r.stdout);
    assert.ok(m, `unexpected output: ${r.stdout}`);
    await statusUntil(AWS_V1, m[1]!);
    assert.match(jqField(AWS_V1, m[1]!, 'container.logStreamName'), /^myJobDef\/default\//);
    const d = aws(AWS_V1, server.url, server.env, ['batch', 'describe-jobs', '--jobs', m[1]!]).jobs[0];
    assert.deepEqual(d.container.command, ['echo', 'hello', 'world']);
  });

  void it('describe-job-definitions lists every revision of myJobDef, as the page suggests', () => {
    const defs = aws(AWS_V2, server.url, server.env, [
      'batch',
      'describe-job-definitions',
      '--job-definitions',
      'myJobDef',
    ]).jobDefinitions as { revision: number }[];
    assert.deepEqual(
      defs.map((d) => d.revision).sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7],
    );
  });
});
