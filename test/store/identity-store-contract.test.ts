/**
 * The IdentityStore contract on SQLite and PostgreSQL, and the IdentityDirectory over it: groups, users, keys,
 * transactions that commit together or not at all, the version that replicas poll, audit paging; on PostgreSQL, a
 * key disabled through one replica's directory is refused by another's within a second.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AuditLog } from '../../src/service/users/audit-log.js';
import { IdentityDirectory } from '../../src/service/users/identity-directory.js';
import { SecretBox } from '../../src/service/users/secret-box.js';
import { forEachBackend } from './backends.js';

forEachBackend('IdentityStore', (ctx) => {
  ctx.it('groups, users and keys; every change raises the version', async () => {
    const s = ctx.stores.identityStore;
    const v0 = await s.version();
    await s.insertPiGroup('lab-z', 1);
    await s.insertPiGroup('lab-a', 2);
    await s.insertUser('zed', 'lab-z', 3);
    await s.insertKey('K1', 'zed', 'sealed', 4);
    const v1 = await s.version();
    assert.ok(v1 > v0);
    assert.deepEqual(
      (await s.piGroups()).map((g) => g.name),
      ['lab-a', 'lab-z'],
    );
    assert.deepEqual(await s.user('zed'), { name: 'zed', pi: 'lab-z', admin: 0, disabled: 0, created_at: 3 });
    assert.deepEqual(await s.keysOf('zed'), [{ id: 'K1', user_name: 'zed', secret_enc: 'sealed', created_at: 4 }]);
    await s.setUserFlag('zed', 'disabled', true);
    assert.equal((await s.user('zed'))!.disabled, 1);
    assert.ok((await s.version()) > v1);
    await s.setRole('lab-z', 'AK', 'sealed-role', 'https://s3', null, '{"sts":{}}');
    const g = await s.piGroup('lab-z');
    assert.deepEqual(
      [g!.role_access_key_id, g!.role_secret_enc, g!.role_endpoint_url, g!.role_region, g!.role_source],
      ['AK', 'sealed-role', 'https://s3', null, '{"sts":{}}'],
    );
    await s.deleteKeysOf('zed');
    assert.deepEqual(await s.accessKeys(), []);
    assert.equal(await s.user('nobody'), undefined);
  });

  ctx.it('a transaction commits all of its writes or none', async () => {
    const s = ctx.stores.identityStore;
    await assert.rejects(
      s.transaction(async (tx) => {
        await tx.insertPiGroup('lab-t', 1);
        await tx.insertUser('tess', 'lab-t', 1);
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(await s.piGroup('lab-t'), undefined);
    assert.equal(await s.user('tess'), undefined);
    await s.transaction(async (tx) => {
      await tx.insertPiGroup('lab-t', 1);
      await tx.insertUser('tess', 'lab-t', 1);
    });
    assert.equal((await s.user('tess'))!.pi, 'lab-t');
    // a user of a group that does not exist is refused (foreign key)
    await assert.rejects(s.insertUser('ghost', 'no-such-lab', 1));
  });

  ctx.it('secret values: insert once, replace only at the expected version, keyset pages by name per PI', async () => {
    const v = ctx.stores.identityStore.secretValues;
    const row = (name: string, pi: string) => ({
      kind: 'parameter' as const,
      name,
      pi,
      arn: `arn:aws:ssm:us-east-1:1:parameter${name}`,
      type: 'SecureString',
      description: null,
      value_enc: 'sealed',
      version: 1,
      version_id: null,
      previous_enc: null,
      previous_type: null,
      previous_version_id: null,
      created_at: 1,
      updated_at: 1,
      updated_by: 'u',
      deletion_date: null,
    });
    for (const [name, pi] of [
      ['/b/x', 'lab-b'],
      ['/a/2', 'lab-a'],
      ['/a/1', 'lab-a'],
      ['/a/1/deep', 'lab-a'],
    ] as const)
      assert.equal(await v.insert(row(name, pi)), true);
    assert.equal(await v.insert(row('/a/1', 'lab-b')), false, 'a name is taken once');
    assert.deepEqual(await v.get('parameter', '/a/1'), row('/a/1', 'lab-a'));
    assert.equal(await v.get('secret', '/a/1'), undefined, 'kinds are separate namespaces');
    assert.deepEqual((await v.byArn('arn:aws:ssm:us-east-1:1:parameter/b/x'))?.name, '/b/x');
    const names = async (q: Parameters<typeof v.list>[0]) => (await v.list(q)).map((r) => r.name);
    assert.deepEqual(await names({ kind: 'parameter', pi: 'lab-a', limit: 10 }), ['/a/1', '/a/1/deep', '/a/2']);
    assert.deepEqual(await names({ kind: 'parameter', pi: 'lab-a', after: '/a/1', limit: 1 }), ['/a/1/deep']);
    assert.deepEqual(await names({ kind: 'parameter', prefix: '/a/1/', limit: 10 }), ['/a/1/deep']);
    assert.deepEqual(await names({ kind: 'parameter', limit: 10 }), ['/a/1', '/a/1/deep', '/a/2', '/b/x']);
    assert.equal(await v.replace({ ...row('/a/1', 'lab-a'), version: 2, value_enc: 'new' }, 1), true);
    assert.equal(await v.replace({ ...row('/a/1', 'lab-a'), version: 3 }, 1), false, 'a stale version is refused');
    assert.equal((await v.get('parameter', '/a/1'))?.value_enc, 'new');
    assert.equal(await v.delete('parameter', '/a/1'), true);
    assert.equal(await v.delete('parameter', '/a/1'), false);
  });

  ctx.it('audit: appended in batches, listed newest first, paged and filtered by user', async () => {
    const log = new AuditLog(ctx.stores.identityStore);
    for (let i = 0; i < 5; i++)
      log.record({ user: i % 2 ? 'ann' : 'bob', pi: 'lab', operation: `SubmitJob`, target: `j${i}`, outcome: 'OK' });
    const page1 = await log.list({ limit: 3 });
    assert.deepEqual(
      page1.map((r) => r.target),
      ['j4', 'j3', 'j2'],
    );
    const page2 = await log.list({ limit: 3, beforeSeq: page1[2]!.seq! });
    assert.deepEqual(
      page2.map((r) => r.target),
      ['j1', 'j0'],
    );
    assert.deepEqual(
      (await log.list({ user: 'ann' })).map((r) => r.target),
      ['j3', 'j1'],
    );
    assert.equal(page1[0]!.source, null);
  });
});

forEachBackend('IdentityDirectory over the store', (ctx) => {
  ctx.it('the directory onboards, rotates and disables; another replica follows within a second', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'openbatch-box-'));
    const box = SecretBox.open(dataDir);
    const a = await IdentityDirectory.open(ctx.stores.identityStore, box, '123456789012', ctx.stores.store);
    const otherStores = ctx.backend === 'postgres' ? await ctx.openAnother() : ctx.stores;
    const b = await IdentityDirectory.open(otherStores.identityStore, box, '123456789012', otherStores.store);
    try {
      const made = await a.onboard('rita', 'lab-r');
      assert.deepEqual(made.created, { piGroup: true, user: true, accessKey: true });
      assert.equal(a.lookup(made.accessKeyId!)?.secret, made.secretAccessKey);
      const again = await a.onboard('rita', 'lab-r');
      assert.deepEqual(again.created, { piGroup: false, user: false, accessKey: false });
      await until(() => b.lookup(made.accessKeyId!)?.caller.user === 'rita');
      const rotated = await a.rotateKey('rita');
      assert.equal(a.lookup(made.accessKeyId!), undefined);
      await until(() => b.lookup(made.accessKeyId!) === undefined && b.lookup(rotated.accessKeyId) !== undefined);
      const t0 = Date.now();
      await a.setDisabled('rita', true);
      assert.equal(a.lookup(rotated.accessKeyId), undefined);
      await until(() => b.lookup(rotated.accessKeyId) === undefined);
      // The promise is a second on a quiet machine; the bound leaves room for a loaded test machine.
      assert.ok(Date.now() - t0 < 5_000, `the other replica refused the key after ${Date.now() - t0} ms`);
      assert.deepEqual(
        (await b.listUsers()).map((u) => [u.userName, u.disabled]),
        [['rita', true]],
      );
    } finally {
      a.close();
      b.close();
    }
  });
});

async function until(cond: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}
