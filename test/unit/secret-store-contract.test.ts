/**
 * The per-PI secret store's answers against the AWS models: every SSM Parameter Store and Secrets Manager operation
 * it serves, called on a real SQLite identity store, must answer in the model's output shape (types, required
 * members, no member the model does not know), so the SDKs can read every answer.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkOutput, loadServiceModel, type ServiceModel } from '../../src/api/model-validator.js';
import type { Caller } from '../../src/core/caller.js';
import { parameterStoreOperations } from '../../src/service/secrets/parameter-store.js';
import { PiSecrets } from '../../src/service/secrets/pi-secrets.js';
import { secretsManagerOperations } from '../../src/service/secrets/secrets-manager.js';
import { SecretBox } from '../../src/service/users/secret-box.js';
import { SqliteIdentityStore } from '../../src/store/sqlite/identity-store.js';

/** Paths of members in `value` that the model's shape does not define. */
function unknownMembers(model: ServiceModel, shapeName: string, value: unknown, path = ''): string[] {
  const shape = model.shapes[shapeName];
  if (!shape || value === null || value === undefined) return [];
  if (shape.type === 'structure' && typeof value === 'object' && !Array.isArray(value))
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
      const ref = shape.members?.[k];
      return ref ? unknownMembers(model, ref.shape, v, `${path}.${k}`) : [`${path}.${k}`];
    });
  if (shape.type === 'list' && Array.isArray(value) && shape.member)
    return value.flatMap((v, i) => unknownMembers(model, shape.member!.shape, v, `${path}[${i}]`));
  if (shape.type === 'map' && typeof value === 'object' && shape.value)
    return Object.entries(value).flatMap(([k, v]) => unknownMembers(model, shape.value!.shape, v, `${path}["${k}"]`));
  return [];
}

const alice: Caller = { user: 'alice', pi: 'lab-a', admin: false };

void describe('secret store answers match the AWS models', () => {
  const store = new SqliteIdentityStore(':memory:');
  const secrets = new PiSecrets({
    store: store.secretValues,
    box: SecretBox.open(mkdtempSync(join(tmpdir(), 'ob-box-'))),
    region: 'us-east-1',
    accountId: '123456789012',
  });

  const call = async (model: ServiceModel, ops: Record<string, any>, op: string, input: Record<string, unknown>) => {
    const out = await ops[op](alice, input);
    assert.equal(checkOutput(model, op, out), undefined, `${op}: ${checkOutput(model, op, out)}`);
    const shape = model.operations[op]!.output!.shape;
    assert.deepEqual(unknownMembers(model, shape, out), [], `${op} answers members the model does not know`);
    return out;
  };

  void it('SSM Parameter Store', async () => {
    const model = loadServiceModel('ssm');
    const ops = parameterStoreOperations(secrets);
    await call(model, ops, 'PutParameter', { Name: '/lab-a/p', Type: 'SecureString', Value: 'v', Description: 'd' });
    await call(model, ops, 'PutParameter', { Name: '/lab-a/p', Value: 'w', Overwrite: true });
    await call(model, ops, 'PutParameter', { Name: '/lab-a/q', Type: 'String', Value: 'q' });
    await call(model, ops, 'GetParameter', { Name: '/lab-a/p:2', WithDecryption: true });
    await call(model, ops, 'GetParameter', { Name: '/lab-a/p' });
    await call(model, ops, 'GetParameters', { Names: ['/lab-a/p', '/lab-a/none'] });
    const page = await call(model, ops, 'GetParametersByPath', { Path: '/lab-a', MaxResults: 1 });
    await call(model, ops, 'GetParametersByPath', { Path: '/lab-a', NextToken: page.NextToken });
    await call(model, ops, 'DescribeParameters', {
      ParameterFilters: [{ Key: 'Path', Option: 'Recursive', Values: ['/lab-a'] }],
    });
    await call(model, ops, 'DeleteParameters', { Names: ['/lab-a/q', '/lab-a/none'] });
    await call(model, ops, 'DeleteParameter', { Name: '/lab-a/p' });
  });

  void it('Secrets Manager', async () => {
    const model = loadServiceModel('secretsmanager');
    const ops = secretsManagerOperations(secrets);
    const made = await call(model, ops, 'CreateSecret', { Name: 'lab-a/s', SecretString: '{"a":1}', Description: 'd' });
    await call(model, ops, 'CreateSecret', { Name: 'lab-a/empty' });
    await call(model, ops, 'CreateSecret', { Name: 'lab-a/bin', SecretBinary: Buffer.from('b').toString('base64') });
    await call(model, ops, 'PutSecretValue', { SecretId: made.ARN, SecretString: '{"a":2}' });
    await call(model, ops, 'GetSecretValue', { SecretId: 'lab-a/s' });
    await call(model, ops, 'GetSecretValue', { SecretId: 'lab-a/s', VersionStage: 'AWSPREVIOUS' });
    await call(model, ops, 'GetSecretValue', { SecretId: 'lab-a/bin' });
    await call(model, ops, 'DescribeSecret', { SecretId: 'lab-a/s' });
    await call(model, ops, 'DeleteSecret', { SecretId: 'lab-a/empty', RecoveryWindowInDays: 7 });
    await call(model, ops, 'ListSecrets', {
      IncludePlannedDeletion: true,
      Filters: [{ Key: 'name', Values: ['lab-a'] }],
    });
    await call(model, ops, 'RestoreSecret', { SecretId: 'lab-a/empty' });
    await call(model, ops, 'DeleteSecret', { SecretId: 'lab-a/s', ForceDeleteWithoutRecovery: true });
  });
});
