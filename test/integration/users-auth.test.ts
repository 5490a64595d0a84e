/**
 * Signature and start-up rules with users: tampered bodies, headers and paths, replays beyond 15 minutes, rate limiting
 * of failed authentications per key and per address, and the process-runtime opt-in.
 */
import assert from 'node:assert/strict';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { after, before, describe, it } from 'node:test';
import { aws, AWS_V1, requireBinary, run } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { admin, userEnv, type Creds } from '../helpers/users.js';

interface Signed {
  url: string;
  init: { method: string; headers: Record<string, string>; body: string };
}

/** A request signed as the AWS SDK signs it, so the tests can alter it after signing. */
async function sign(
  base: string,
  c: { accessKeyId: string; secretAccessKey: string },
  path: string,
  body: string,
  signingDate?: Date,
): Promise<Signed> {
  const u = new URL(base);
  const signer = new SignatureV4({
    service: 'batch',
    region: 'us-east-1',
    credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey },
    sha256: Hash.bind(null, 'sha256'),
  });
  const req = new HttpRequest({
    protocol: 'http:',
    hostname: u.hostname,
    port: Number(u.port),
    method: 'POST',
    path,
    headers: { host: u.host, 'content-type': 'application/json', 'x-amz-meta-note': 'a' },
    body,
  });
  const s = await signer.sign(req, signingDate ? { signingDate } : {});
  return { url: `${base}${path}`, init: { method: 'POST', headers: s.headers, body } };
}

async function send(s: Signed): Promise<{ status: number; body: any }> {
  const r = await fetch(s.url, s.init);
  return { status: r.status, body: JSON.parse((await r.text()) || '{}') };
}

void describe('signatures, rate limiting and the process runtime opt-in', () => {
  let srv: TestServer;
  let alice: Creds;

  before(async () => {
    requireBinary(AWS_V1, 'pip install awscli');
    srv = await startTestServer({ env: { OPENBATCH_AUTH_FAILURE_LIMIT: '8', OPENBATCH_AUTH_BLOCK_SECONDS: '60' } });
    alice = JSON.parse(admin(srv.env, ['onboard', 'alice', 'lab-a', '--json'])) as Creds;
  });
  after(async () => {
    await srv?.stop();
  });

  void it('refuses tampered bodies, headers and paths, replays beyond 15 minutes and unknown keys', async () => {
    const body = JSON.stringify({ jobQueues: [] });
    const ok = await sign(srv.url, alice, '/v1/describejobqueues', body);
    assert.equal((await send(ok)).status, 200);

    const tamperedBody = await sign(srv.url, alice, '/v1/describejobqueues', body);
    tamperedBody.init.body = JSON.stringify({ jobQueues: ['x'] });
    const r1 = await send(tamperedBody);
    assert.equal(r1.status, 403);

    const tamperedHeader = await sign(srv.url, alice, '/v1/describejobqueues', body);
    tamperedHeader.init.headers['x-amz-meta-note'] = 'b';
    const r2 = await send(tamperedHeader);
    assert.equal(r2.status, 403);
    assert.match(r2.body.__type, /Signature/);

    const tamperedPath = await sign(srv.url, alice, '/v1/describejobqueues', body);
    tamperedPath.url = `${srv.url}/v1/describecomputeenvironments`;
    assert.equal((await send(tamperedPath)).status, 403);

    const replay = await sign(srv.url, alice, '/v1/describejobqueues', body, new Date(Date.now() - 16 * 60_000));
    const r3 = await send(replay);
    assert.equal(r3.status, 403);
    assert.match(r3.body.message, /time|skew|expired|15/i);

    const unknown = await sign(
      srv.url,
      { accessKeyId: 'OBUKNOSUCHKEY0000000', secretAccessKey: 'x' },
      '/v1/describejobqueues',
      body,
    );
    assert.equal((await send(unknown)).body.__type, 'UnrecognizedClientException');
  });

  void it('non-admin SubmitJob is refused on the process runtime without the opt-in; the server warns at start-up', async () => {
    aws(AWS_V1, srv.url, srv.env, [
      'batch',
      'create-compute-environment',
      '--compute-environment-name',
      'ce1',
      '--type',
      'MANAGED',
      '--compute-resources',
      'type=EC2,maxvCpus=4,subnets=s1',
    ]);
    aws(AWS_V1, srv.url, srv.env, [
      'batch',
      'create-job-queue',
      '--job-queue-name',
      'q1',
      '--priority',
      '1',
      '--compute-environment-order',
      'order=1,computeEnvironment=ce1',
    ]);
    aws(AWS_V1, srv.url, srv.env, [
      'batch',
      'register-job-definition',
      '--job-definition-name',
      'd',
      '--type',
      'container',
      '--container-properties',
      '{"image":"busybox","command":["true"],"resourceRequirements":[{"type":"VCPU","value":"1"},{"type":"MEMORY","value":"16"}]}',
    ]);
    const r = run(
      AWS_V1,
      [
        'batch',
        'submit-job',
        '--job-name',
        'j',
        '--job-queue',
        'q1',
        '--job-definition',
        'd',
        '--endpoint-url',
        srv.url,
      ],
      userEnv(srv, alice),
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /AccessDeniedException.*no isolation between labs.*--allow-process-runtime-for-users/s);
    // Root may still submit.
    aws(AWS_V1, srv.url, srv.env, [
      'batch',
      'submit-job',
      '--job-name',
      'j',
      '--job-queue',
      'q1',
      '--job-definition',
      'd',
    ]);
    // Restarted with users present: the start-up warning.
    await srv.stop({ keepData: true });
    srv = await startTestServer({
      dataDir: srv.dataDir,
      env: { OPENBATCH_AUTH_FAILURE_LIMIT: '8', OPENBATCH_AUTH_BLOCK_SECONDS: '60' },
    });
    await new Promise((res) => setTimeout(res, 200));
    assert.match(
      srv.output(),
      /warning: users other than root exist.*process runtime.*--allow-process-runtime-for-users/,
    );
  });

  void it('limits only failed authentications: valid signatures are always served, failures audited', async () => {
    const body = '{}';
    const since = new Date().toISOString();
    const wrong = { accessKeyId: alice.accessKeyId, secretAccessKey: 'not-the-secret' };
    const statuses: number[] = [];
    // Far past the limit (8): a misconfigured script on a shared login node.
    for (let i = 0; i < 40; i++)
      statuses.push((await send(await sign(srv.url, wrong, '/v1/describejobqueues', body))).status);
    assert.deepEqual(statuses.slice(0, 7), Array(7).fill(403), String(statuses));
    assert.ok(
      statuses.slice(8).every((s) => s === 429),
      `failures past the limit are throttled: ${String(statuses)}`,
    );
    const throttled = await send(await sign(srv.url, wrong, '/v1/describejobqueues', body));
    assert.equal(throttled.status, 429);
    assert.equal(throttled.body.__type, 'ThrottlingException');
    assert.match(throttled.body.message, /too many failed authentications.*correctly signed requests are still served/);
    // The same key correctly signed, and root, from the same address: served every time.
    for (let i = 0; i < 10; i++) {
      const right = await send(await sign(srv.url, alice, '/v1/describejobqueues', body));
      assert.equal(right.status, 200, JSON.stringify(right.body));
      const root = await send(
        await sign(
          srv.url,
          { accessKeyId: srv.accessKeyId, secretAccessKey: srv.secretAccessKey },
          '/v1/describejobqueues',
          body,
        ),
      );
      assert.equal(root.status, 200, JSON.stringify(root.body));
    }
    // The real aws CLI with the right key works too.
    aws(AWS_V1, srv.url, userEnv(srv, alice), ['batch', 'describe-job-queues']);
    // Failures are audited with address, key id and reason, up to the limit (a flood cannot fill the audit log),
    // and no secret is written.
    const records = (JSON.parse(admin(srv.env, ['audit', '--json', '--limit', '1000'])).records as any[]).filter(
      (r) => r.operation === 'Authenticate',
    );
    const mine = records.filter((r) => r.target === `accessKeyId:${alice.accessKeyId}` && r.time >= since);
    assert.ok(mine.length >= 8 && mine.length <= 9, `audited ${mine.length} of 41 failures`);
    for (const r of mine) {
      assert.equal(r.userName, 'alice');
      assert.match(r.source, /127\.0\.0\.1/);
      assert.match(r.outcome, /^InvalidSignatureException: The request signature we calculated does not match/);
    }
    const text = JSON.stringify(records);
    assert.ok(!text.includes(alice.secretAccessKey) && !text.includes('not-the-secret'), 'no secret in the audit log');
  });
});
