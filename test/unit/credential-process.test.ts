/**
 * The credential_process path of job-role credentials (docs/decisions/0011), without a cluster: what extras() gives
 * an attempt on a Slurm pool and on this host, the endpoint's `?format=process` answer, and credentials.sh fetching it
 * with curl and, on a node without curl, with python3.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCredentialsEndpoint, type CredentialsEndpoint } from '../../src/api/credentials/credentials-endpoint.js';
import type { Job } from '../../src/core/types.js';
import { requireBinary } from '../helpers/clients.js';
import { writeCredentialFiles } from '../../src/runtime/slurm/credential-files.js';
import { AttemptCredentials } from '../../src/service/credentials/attempt-credentials.js';
import { SecretBox } from '../../src/service/users/secret-box.js';

const ROLE = 'arn:aws:iam::123456789012:role/lab-a-batchtask';
const job = (jobRoleArn?: string) =>
  ({ jobId: 'j-1', containerProperties: { ...(jobRoleArn ? { jobRoleArn } : {}) } }) as unknown as Job;

void describe('job-role credentials through credential_process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openbatch-credproc-'));
  const creds = new AttemptCredentials({
    box: SecretBox.open(dir),
    roleSource: (r) => (r === ROLE ? { accessKeyId: 'AKIAUNIT', secretAccessKey: 'unit-secret' } : undefined),
    liveAttempt: (id, attempt) => (id === 'j-1' && attempt === 1 ? job(ROLE) : undefined),
    region: 'us-east-1',
  });
  let endpoint: CredentialsEndpoint;
  before(async () => {
    endpoint = await startCredentialsEndpoint(creds, '127.0.0.1', 0, 'http://127.0.0.2:0');
  });
  after(() => endpoint.close());

  it('gives a Slurm attempt a credential_process and no endpoint variables; this host keeps FULL_URI', () => {
    const slurm = creds.extras(job(ROLE), 1, 'slurm:batch')!;
    assert.deepEqual(Object.keys(slurm.environment).sort(), ['AWS_DEFAULT_REGION', 'AWS_REGION']);
    assert.match(slurm.credentialProcess!.url, /^http:\/\/127\.0\.0\.2:\d+\/v1\/credentials\?format=process$/);
    assert.ok(slurm.credentialProcess!.token.length > 20);
    assert.ok(!JSON.stringify(slurm.environment).includes(slurm.credentialProcess!.token));
    const local = creds.extras(job(ROLE), 1)!;
    assert.equal(local.environment.AWS_CONTAINER_CREDENTIALS_FULL_URI, endpoint.url);
    assert.equal(local.credentialProcess, undefined);
    assert.equal(creds.extras(job(), 1, 'slurm:batch'), undefined);
  });

  it('answers ?format=process in the credential_process shape, and refuses other formats', async () => {
    const url = creds.extras(job(ROLE), 1, 'slurm:batch')!.credentialProcess!.url;
    const r = await fetch(url, { headers: { authorization: creds.token('j-1', 1) } });
    const body = (await r.json()) as Record<string, unknown>;
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(body).sort(), ['AccessKeyId', 'Expiration', 'SecretAccessKey', 'Version']);
    assert.equal(body.Version, 1);
    assert.equal(body.AccessKeyId, 'AKIAUNIT');
    const bad = await fetch(url.replace('process', 'xml'), { headers: { authorization: creds.token('j-1', 1) } });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { message: string }).message, /format must be "process"/);
  });

  // Asynchronously: the endpoint answers from this process.
  const sh = (file: string, args: string[], env: NodeJS.ProcessEnv) => promisify(execFile)(file, args, { env });

  it('credentials.sh prints them with curl, and with python3 where the node has no curl', async () => {
    const cp = creds.extras(job(ROLE), 1, 'slurm:batch')!.credentialProcess!;
    const task = join(dir, 'task');
    mkdirSync(task);
    const files = writeCredentialFiles(task, cp);
    assert.equal(files.environment.AWS_CONFIG_FILE, join(task, 'aws', 'config'));
    assert.equal(statSync(join(task, 'aws', 'token')).mode & 0o777, 0o600);
    assert.match(readFileSync(files.environment.AWS_CONFIG_FILE, 'utf8'), /^credential_process = .*credentials\.sh$/m);
    const script = join(task, 'aws', 'credentials.sh');
    const withCurl = await sh(script, [], { PATH: '/usr/bin:/bin' });
    assert.equal(JSON.parse(withCurl.stdout).AccessKeyId, 'AKIAUNIT');
    // A PATH with python3 and the shell's tools but no curl.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    for (const t of ['python3', 'cat', 'sh']) symlinkSync(`/usr/bin/${t}`, join(bin, t));
    const withPython = await sh('/bin/sh', [script], { PATH: bin });
    assert.equal(JSON.parse(withPython.stdout).AccessKeyId, 'AKIAUNIT');
  });

  it("credentials.sh prints them with busybox's sh, cat and wget alone (a busybox image)", async () => {
    requireBinary('/bin/busybox', 'install Debian package busybox-static (apt-get install -y busybox-static)');
    const cp = creds.extras(job(ROLE), 1, 'slurm:batch')!.credentialProcess!;
    const task = join(dir, 'task-busybox');
    mkdirSync(task);
    writeCredentialFiles(task, cp);
    const bin = join(dir, 'busybox-bin');
    mkdirSync(bin);
    for (const t of ['sh', 'cat', 'wget']) symlinkSync('/bin/busybox', join(bin, t));
    const out = await sh(join(bin, 'sh'), [join(task, 'aws', 'credentials.sh')], { PATH: bin });
    assert.equal(JSON.parse(out.stdout).AccessKeyId, 'AKIAUNIT');
  });
});
