/**
 * HTTPS with --tls-cert/--tls-key: a self-signed certificate made here with openssl, trusted by the real aws CLI
 * (v1 and v2, --ca-bundle) and boto3 (verify=); refused by clients that do not trust it; variables work like the flags.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveConfig } from '../../src/config.js';
import { aws, AWS_V1, AWS_V2, python, requireBinary, run } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

void describe('TLS', () => {
  let dir: string;
  let srv: TestServer;
  let cert: string;
  before(async () => {
    requireBinary('openssl', 'install Debian package openssl (apt-get install -y openssl)');
    requireBinary(AWS_V2, 'install Debian package awscli (apt-get install -y awscli)');
    dir = mkdtempSync(join(tmpdir(), 'openbatch-tls-'));
    cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    const r = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    srv = await startTestServer({ args: ['--tls-cert', cert, '--tls-key', key] });
  });
  after(async () => {
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  void it('serves HTTPS to the aws CLI v1 and v2 with --ca-bundle', () => {
    assert.match(srv.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    for (const bin of [AWS_V1, AWS_V2]) {
      const out = aws(bin, srv.url, srv.env, ['batch', 'describe-job-queues', '--ca-bundle', cert]);
      assert.deepEqual(out.jobQueues, [], bin);
      const logs = aws(bin, srv.url, srv.env, ['logs', 'describe-log-groups', '--ca-bundle', cert]);
      assert.ok(Array.isArray(logs.logGroups), bin);
    }
  });

  void it('serves HTTPS to boto3 with verify=', () => {
    const r = python(
      `
import boto3
b = boto3.client('batch', endpoint_url='${srv.url}', verify='${cert}')
print(len(b.describe_compute_environments()['computeEnvironments']), b.meta.endpoint_url)`,
      srv.env,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^0 https:/);
  });

  void it('is refused by a client that does not trust the certificate, and plain HTTP gets no API', async () => {
    const r = run(AWS_V2, ['batch', 'describe-job-queues', '--endpoint-url', srv.url], srv.env);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /SSL|certificate/i);
    const plain = await fetch(srv.url.replace('https:', 'http:') + '/healthz').then(
      (res) => res.status,
      () => 'refused',
    );
    assert.notEqual(plain, 200);
  });

  void it('reads OPENBATCH_TLS_CERT/KEY, and refuses one without the other', () => {
    const saved = { ...process.env };
    try {
      process.env.OPENBATCH_TLS_CERT = cert;
      process.env.OPENBATCH_TLS_KEY = join(dir, 'key.pem');
      const cfg = resolveConfig({});
      assert.equal(cfg.tlsCert, cert);
      assert.equal(cfg.tlsKey, join(dir, 'key.pem'));
      delete process.env.OPENBATCH_TLS_KEY;
      assert.throws(() => resolveConfig({}), /--tls-cert and --tls-key .* go together/);
    } finally {
      process.env = saved;
    }
    const missing = run(
      process.execPath,
      [
        join(import.meta.dirname, '../../../bin/openbatch'),
        'server',
        '--data',
        dir,
        '--port',
        '0',
        '--tls-cert',
        join(dir, 'nope.pem'),
        '--tls-key',
        join(dir, 'nope.pem'),
      ],
      process.env,
    );
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /--tls-cert .*nope\.pem.*readable PEM file/);
  });
});
