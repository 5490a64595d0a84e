import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compilePattern,
  loadServiceModel,
  operationInputShape,
  validateInput,
  type ServiceModel,
} from '../../src/api/model-validator.js';

class TestValidationError extends Error {}
const makeError = (message: string): Error => new TestValidationError(message);

const batch = loadServiceModel('batch');
const logs = loadServiceModel('logs');

/** Runs validateInput and returns the message it threw, or undefined when the input was accepted. */
function problem(model: ServiceModel, operation: string, input: unknown): string | undefined {
  try {
    validateInput(model, operation, input, makeError);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof TestValidationError, `expected the makeError class, got ${String(err)}`);
    return err.message;
  }
}

const validSubmitJob = {
  jobName: 'nightly-etl_1',
  jobQueue: 'default',
  jobDefinition: 'etl:3',
  arrayProperties: { size: 10 },
  dependsOn: [{ jobId: 'a1b2', type: 'N_TO_N' }],
  parameters: { input: 's3://bucket/key', 'with space': 'ok' },
  containerOverrides: {
    command: ['python', 'main.py', 'Ref::input'],
    environment: [{ name: 'STAGE', value: 'prod' }],
    resourceRequirements: [
      { type: 'VCPU', value: '2' },
      { type: 'MEMORY', value: '4096' },
    ],
  },
  retryStrategy: { attempts: 3, evaluateOnExit: [{ onExitCode: '137', action: 'RETRY' }] },
  timeout: { attemptDurationSeconds: 3600 },
  propagateTags: true,
  tags: { team: 'data' },
  someFutureMember: { anything: [1, 2, 3] },
};

void test('loadServiceModel finds both models from the package root and caches them', () => {
  assert.equal(batch.metadata.endpointPrefix, 'batch');
  assert.equal(logs.metadata.targetPrefix, 'Logs_20140328');
  assert.equal(loadServiceModel('batch'), batch);
});

void test('operationInputShape names the input shape, undefined for unknown operations', () => {
  assert.equal(operationInputShape(batch, 'SubmitJob'), 'SubmitJobRequest');
  assert.equal(operationInputShape(logs, 'GetLogEvents'), 'GetLogEventsRequest');
  assert.equal(operationInputShape(batch, 'NoSuchOperation'), undefined);
  assert.equal(operationInputShape(batch, 'toString'), undefined);
});

void test('a valid SubmitJob passes, unknown members included', () => {
  assert.equal(problem(batch, 'SubmitJob', validSubmitJob), undefined);
  assert.equal(problem(batch, 'SubmitJob', { jobName: 'j', jobQueue: 'q', jobDefinition: 'd' }), undefined);
});

void test('optional members sent as null count as absent', () => {
  assert.equal(problem(batch, 'SubmitJob', { ...validSubmitJob, timeout: null, arrayProperties: null }), undefined);
});

void test('a missing required member is named with how to add it', () => {
  const noName: Record<string, unknown> = { ...validSubmitJob };
  delete noName.jobName;
  assert.equal(problem(batch, 'SubmitJob', noName), 'jobName is required: add "jobName" (a string) to the request');
  assert.equal(
    problem(batch, 'SubmitJob', { ...validSubmitJob, jobName: null }),
    'jobName is required: add "jobName" (a string) to the request',
  );
});

void test('a missing nested required member names its path and where to add it', () => {
  const input = {
    ...validSubmitJob,
    retryStrategy: { attempts: 2, evaluateOnExit: [{ action: 'EXIT' }, { onExitCode: '1' }] },
  };
  assert.equal(
    problem(batch, 'SubmitJob', input),
    'retryStrategy.evaluateOnExit[1].action is required: add "action" (a string, one of RETRY, EXIT) ' +
      'to retryStrategy.evaluateOnExit[1]',
  );
});

void test('wrong types are reported with the path, the expected type and what was sent', () => {
  assert.equal(
    problem(batch, 'SubmitJob', { ...validSubmitJob, arrayProperties: { size: 'abc' } }),
    'arrayProperties.size must be an integer, got string "abc"',
  );
  assert.equal(
    problem(batch, 'SubmitJob', { ...validSubmitJob, arrayProperties: { size: 2.5 } }),
    'arrayProperties.size must be an integer, got number 2.5',
  );
  assert.equal(
    problem(batch, 'SubmitJob', { ...validSubmitJob, jobQueue: 7 }),
    'jobQueue must be a string, got number 7',
  );
  assert.equal(
    problem(batch, 'SubmitJob', { ...validSubmitJob, propagateTags: 'true' }),
    'propagateTags must be a boolean (true or false), got string "true"',
  );
  assert.equal(
    problem(batch, 'SubmitJob', { ...validSubmitJob, dependsOn: { jobId: 'x' } }),
    'dependsOn must be a JSON array, got an object',
  );
  assert.equal(
    problem(batch, 'SubmitJob', { ...validSubmitJob, retryStrategy: [] }),
    'retryStrategy must be a JSON object, got an array (0 entries)',
  );
  assert.match(
    problem(batch, 'SubmitJob', { ...validSubmitJob, timeout: { attemptDurationSeconds: 1e12 } }) ?? '',
    /^timeout\.attemptDurationSeconds must be a 32-bit integer .*, got number 1000000000000$/,
  );
});

void test('nested paths go through structures, lists and maps', () => {
  const env = [
    { name: 'A', value: '1' },
    { name: 'B', value: '2' },
    { name: 3, value: '3' },
  ];
  assert.equal(
    problem(batch, 'SubmitJob', { ...validSubmitJob, containerOverrides: { environment: env } }),
    'containerOverrides.environment[2].name must be a string, got number 3',
  );
  assert.equal(
    problem(batch, 'SubmitJob', { ...validSubmitJob, parameters: { good: 'x', 'bad key': 5 } }),
    'parameters["bad key"] must be a string, got number 5',
  );
  assert.equal(
    problem(batch, 'SubmitJob', { ...validSubmitJob, parameters: { input: null } }),
    'parameters.input must be a string, got null',
  );
  assert.equal(
    problem(batch, 'SubmitJob', { ...validSubmitJob, containerOverrides: { command: ['ok', null] } }),
    'containerOverrides.command[1] must be a string, got null',
  );
});

void test('enum values are enforced, listing the allowed ones', () => {
  const input = {
    ...validSubmitJob,
    containerOverrides: { resourceRequirements: [{ type: 'CPU', value: '1' }] },
  };
  assert.equal(
    problem(batch, 'SubmitJob', input),
    'containerOverrides.resourceRequirements[0].type must be one of GPU, VCPU, MEMORY; got "CPU"',
  );
});

void test('list and map entry counts follow the model, and only the model', () => {
  // JobDependencyList has no max in the model (the 20-job limit is documentation only): not enforced.
  const dependsOn = Array.from({ length: 25 }, (_, i) => ({ jobId: `job-${i}` }));
  assert.equal(problem(batch, 'SubmitJob', { ...validSubmitJob, dependsOn }), undefined);

  // TagKeysList: min 1, max 50.
  const tagKeys = Array.from({ length: 51 }, (_, i) => `k${i}`);
  const arn = 'arn:aws:batch:us-east-1:123456789012:job/x';
  assert.equal(problem(batch, 'UntagResource', { resourceArn: arn, tagKeys: tagKeys.slice(0, 50) }), undefined);
  assert.equal(
    problem(batch, 'UntagResource', { resourceArn: arn, tagKeys }),
    'tagKeys has 51 entries; at most 50 are allowed',
  );
  assert.equal(
    problem(batch, 'UntagResource', { resourceArn: arn, tagKeys: [] }),
    'tagKeys has 0 entries; at least 1 is required',
  );

  // TagrisTagsMap: min 1, max 50 entries; TagKey 1..128 characters.
  const tags = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
  assert.equal(
    problem(batch, 'TagResource', { resourceArn: arn, tags }),
    'tags has 51 entries; at most 50 are allowed',
  );
  assert.equal(
    problem(batch, 'TagResource', { resourceArn: arn, tags: {} }),
    'tags has 0 entries; at least 1 is required',
  );
  assert.equal(
    problem(batch, 'TagResource', { resourceArn: arn, tags: { '': 'v' } }),
    'tags key "" must be at least 1 character(s) long',
  );
});

void test('string length bounds', () => {
  assert.equal(
    problem(logs, 'CreateLogGroup', { logGroupName: '' }),
    'logGroupName must be at least 1 character(s) long',
  );
  assert.equal(
    problem(logs, 'CreateLogGroup', { logGroupName: 'a'.repeat(513) }),
    'logGroupName must be at most 512 character(s) long; it has 513',
  );
  assert.equal(problem(logs, 'CreateLogGroup', { logGroupName: 'a'.repeat(512) }), undefined);
  // Lengths count code points: 128 × U+20000 (a CJK letter outside the BMP) is 256 UTF-16 units, 128 characters.
  assert.equal(
    problem(logs, 'CreateLogGroup', { logGroupName: '/g', tags: { ['\u{20000}'.repeat(128)]: 'v' } }),
    undefined,
  );
  const tooLong = problem(logs, 'CreateLogGroup', { logGroupName: '/g', tags: { ['\u{20000}'.repeat(129)]: 'v' } });
  assert.match(tooLong ?? '', /^tags key "\u{20000}+\.\.\." must be at most 128 character\(s\) long; it has 129$/u);
});

void test('patterns are matched against the whole value', () => {
  assert.equal(problem(logs, 'CreateLogGroup', { logGroupName: '/aws/batch/job' }), undefined);
  assert.equal(
    problem(logs, 'CreateLogGroup', { logGroupName: 'bad:name' }),
    'logGroupName must match the regular expression [\\.\\-_/#A-Za-z0-9]+; got "bad:name"',
  );
  // \p{L} needs the u flag: letters of any script are fine in tag keys, a "!" is not.
  assert.equal(problem(logs, 'CreateLogGroup', { logGroupName: 'g', tags: { équipe: 'données' } }), undefined);
  assert.match(
    problem(logs, 'CreateLogGroup', { logGroupName: 'g', tags: { 'team!': 'x' } }) ?? '',
    /^tags key "team!" must match the regular expression /,
  );
});

void test('patterns that are not valid JavaScript are compiled faithfully or skipped', () => {
  // Java accepts [\w-_]; the u flag rejects it; without u it means \w, "-" and "_".
  const re = compilePattern('[\\w-_]*');
  assert.ok(re);
  assert.ok(re.test('AWS-Lambda_x'));
  assert.ok(!re.test('a b'));
  // Java-only constructs are skipped instead of being misread.
  assert.equal(compilePattern('[\\h-_]*'), undefined);
  assert.equal(compilePattern('(?i)abc'), undefined);
  assert.equal(compilePattern('a*+'), undefined);
});

void test('logs GetLogEvents limit follows EventsLimit: 1 to 10000', () => {
  const base = { logGroupName: '/aws/batch/job', logStreamName: 'default/abc' };
  assert.equal(problem(logs, 'GetLogEvents', { ...base, limit: 1 }), undefined);
  assert.equal(problem(logs, 'GetLogEvents', { ...base, limit: 10000, startFromHead: true }), undefined);
  assert.equal(problem(logs, 'GetLogEvents', { ...base, limit: 0 }), 'limit must be at least 1; got 0');
  assert.equal(problem(logs, 'GetLogEvents', { ...base, limit: 10001 }), 'limit must be at most 10000; got 10001');
  assert.equal(problem(logs, 'GetLogEvents', { ...base, limit: '5' }), 'limit must be an integer, got string "5"');
  assert.equal(
    problem(logs, 'GetLogEvents', { logGroupName: 'g' }),
    'logStreamName is required: add "logStreamName" (a string) to the request',
  );
});

void test('logs PutLogEvents validates every event', () => {
  const base = { logGroupName: 'g', logStreamName: 's' };
  assert.equal(problem(logs, 'PutLogEvents', { ...base, logEvents: [{ timestamp: 1, message: 'hi' }] }), undefined);
  assert.equal(
    problem(logs, 'PutLogEvents', {
      ...base,
      logEvents: [
        { timestamp: 1, message: 'hi' },
        { timestamp: -1, message: 'x' },
      ],
    }),
    'logEvents[1].timestamp must be at least 0; got -1',
  );
  assert.equal(
    problem(logs, 'PutLogEvents', { ...base, logEvents: [] }),
    'logEvents has 0 entries; at least 1 is required',
  );
});

void test('union structures need exactly one member', () => {
  const base = { integrationName: 'i', integrationType: 'OPENSEARCH' };
  assert.equal(
    problem(logs, 'PutIntegration', { ...base, resourceConfig: {} }),
    'resourceConfig must set exactly one of openSearchResourceConfig; none is set',
  );
});

void test('the request body must be a JSON object', () => {
  assert.equal(problem(batch, 'SubmitJob', null), 'the request body must be a JSON object, got null');
  assert.equal(problem(batch, 'SubmitJob', []), 'the request body must be a JSON object, got an array (0 entries)');
  assert.equal(
    problem(batch, 'SubmitJob', 'jobName=x'),
    'the request body must be a JSON object, got string "jobName=x"',
  );
  // An absent body is an empty object: the first required member is what is missing.
  assert.equal(problem(batch, 'SubmitJob', undefined), 'jobName is required: add "jobName" (a string) to the request');
});

void test('an unknown operation is reported through makeError', () => {
  assert.match(problem(batch, 'SubmitJobs', {}) ?? '', /SubmitJobs is not an operation/);
});

void test('every operation of both models compiles: a non-object body fails, {} passes or names a required member', () => {
  for (const model of [batch, logs]) {
    for (const op of Object.keys(model.operations)) {
      assert.match(problem(model, op, 42) ?? '', /^the request body must be a JSON object, got number 42$/, op);
      const msg = problem(model, op, {});
      if (msg !== undefined) assert.match(msg, / is required: add "/, op);
    }
  }
});
