import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { Hash } from '@smithy/hash-node';
import { HttpRequest, type IHttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  BatchClient,
  ListTagsForResourceCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-batch';
import { CloudWatchLogsClient, DescribeLogGroupsCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { AuthError } from '../../src/core/errors.js';
import {
  verifySigV4,
  type IncomingSignedRequest,
  type SecretLookup,
  type VerifyOptions,
} from '../../src/api/auth/sigv4.js';

const AKID = 'AKIDOPENBATCHTEST';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const credentials = { accessKeyId: AKID, secretAccessKey: SECRET };
const lookup: SecretLookup = (id) => (id === AKID ? SECRET : undefined);

const T0 = Date.UTC(2024, 0, 1, 0, 0, 0); // 20240101T000000Z
const opts: VerifyOptions = { services: ['batch', 'logs'], now: () => T0 };
const QUEUE_ARN = 'arn:aws:batch:us-east-1:123456789012:job-queue/q1';
const ENCODED_QUEUE_ARN = encodeURIComponent(QUEUE_ARN); // arn%3Aaws%3Abatch%3A...%3Ajob-queue%2Fq1

const sha256 = Hash.bind(null, 'sha256');
const hex = (body: Buffer | string): string => createHash('sha256').update(body).digest('hex');

interface SignSpec {
  method?: string;
  /** raw path as sent on the wire (percent-encoded) */
  path?: string;
  query?: Record<string, string | string[]>;
  headers?: Record<string, string>;
  body?: string;
  service?: string;
  region?: string;
  secret?: string;
  accessKeyId?: string;
  date?: number;
  signableHeaders?: Set<string>;
  /** false: no x-amz-content-sha256 header (the server hashes the body itself) */
  applyChecksum?: boolean;
}

/** Signs like the SDK v3 does (smithy SignatureV4 over an HttpRequest) and returns what the server receives. */
async function sdkSign(spec: SignSpec = {}): Promise<IncomingSignedRequest> {
  const body = spec.body ?? '{"jobName":"j1","jobQueue":"q1","jobDefinition":"d1"}';
  const request = new HttpRequest({
    method: spec.method ?? 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 8000,
    path: spec.path ?? '/v1/submitjob',
    query: spec.query ?? {},
    headers: {
      host: '127.0.0.1:8000',
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      ...spec.headers,
    },
    body,
  });
  const signer = new SignatureV4({
    service: spec.service ?? 'batch',
    region: spec.region ?? 'us-east-1',
    credentials: { accessKeyId: spec.accessKeyId ?? AKID, secretAccessKey: spec.secret ?? SECRET },
    sha256,
    applyChecksum: spec.applyChecksum ?? true,
  });
  const signed = await signer.sign(request, {
    signingDate: new Date(spec.date ?? T0),
    ...(spec.signableHeaders ? { signableHeaders: spec.signableHeaders } : {}),
  });
  return toIncoming(signed, body);
}

/** RFC 3986 encoding, as the SDKs write query strings. */
const escape = (text: string): string =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The server's view of a smithy HttpRequest: lower-case headers, raw target with the query encoded. */
function toIncoming(signed: IHttpRequest, body: string): IncomingSignedRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) headers[name.toLowerCase()] = value;
  const pairs: string[] = [];
  for (const [key, value] of Object.entries(signed.query ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) if (v !== null) pairs.push(`${escape(key)}=${escape(v)}`);
  }
  const qs = pairs.join('&');
  return { method: signed.method, url: signed.path + (qs ? `?${qs}` : ''), headers, body: Buffer.from(body) };
}

/** The headers without `name`. */
function without(headers: IncomingSignedRequest['headers'], name: string): IncomingSignedRequest['headers'] {
  const copy = { ...headers };
  delete copy[name];
  return copy;
}

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof AuthError, `expected AuthError, got ${String(err)}`);
    assert.equal(err.code, code, `code (message: ${err.message})`);
    assert.equal(err.statusCode, 403);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** Captures requests exactly as node receives them; answers 200 `{}`. */
class CaptureServer {
  readonly requests: IncomingSignedRequest[] = [];
  private server: Server | undefined;
  endpoint = '';

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.requests.push({
          method: req.method ?? 'GET',
          url: req.url ?? '/',
          headers: { ...req.headers },
          body: Buffer.concat(chunks),
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  take(): IncomingSignedRequest[] {
    return this.requests.splice(0);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

const PYTHON_BOTOCORE = `
import json, sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpsession import URLLib3Session
spec = json.load(sys.stdin)
session = URLLib3Session()
statuses = []
for r in spec['requests']:
    req = AWSRequest(method=r['method'], url=spec['endpoint'] + r['path'], data=r.get('body', ''),
                     headers=r.get('headers', {}), params=r.get('params', {}))
    SigV4Auth(Credentials(spec['akid'], spec['secret']), r['service'], r['region']).add_auth(req)
    statuses.append(session.send(req.prepare()).status_code)
print(json.dumps(statuses))
`;

function runPython(input: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', PYTHON_BOTOCORE], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`python3 exited ${code}: ${err}`))));
    child.stdin.end(JSON.stringify(input));
  });
}

async function hasAwsCli(): Promise<boolean> {
  try {
    await promisify(execFile)('aws', ['--version'], { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

void describe('verifySigV4: requests signed by smithy SignatureV4 (the SDK v3 signer)', () => {
  void it('verifies a POST /v1/submitjob with a JSON body', async () => {
    const req = await sdkSign();
    assert.ok(typeof req.headers.authorization === 'string');
    const identity = await verifySigV4(req, lookup, opts);
    assert.deepEqual(identity, { accessKeyId: AKID, region: 'us-east-1', service: 'batch' });
  });

  void it('accepts any region and an async lookup', async () => {
    const req = await sdkSign({ region: 'eu-central-1' });
    const identity = await verifySigV4(req, async (id) => Promise.resolve(lookup(id)), opts);
    assert.equal(identity.region, 'eu-central-1');
  });

  void it('verifies an encoded path with repeated query keys (DELETE /v1/tags/{arn}?tagKeys=...)', async () => {
    const req = await sdkSign({
      method: 'DELETE',
      path: `/v1/tags/${ENCODED_QUEUE_ARN}`,
      query: { tagKeys: ['b k', 'a', 'c~d/e'] },
      body: '',
    });
    assert.match(req.url, /^\/v1\/tags\/arn%3Aaws%3Abatch%3A.*%2Fq1\?tagKeys=b%20k&tagKeys=a&tagKeys=c~d%2Fe$/);
    await verifySigV4(req, lookup, opts);
  });

  void it('verifies the logs json-1.1 shape (POST / with X-Amz-Target)', async () => {
    const req = await sdkSign({
      service: 'logs',
      path: '/',
      body: '{"logGroupName":"/aws/batch/job"}',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'Logs_20140328.CreateLogGroup',
      },
    });
    assert.equal((await verifySigV4(req, lookup, opts)).service, 'logs');
  });

  void it('verifies when the client signed headers smithy never signs by default (user-agent)', async () => {
    const req = await sdkSign({ headers: { 'user-agent': 'custom/1.0' }, signableHeaders: new Set(['user-agent']) });
    assert.match(String(req.headers.authorization), /SignedHeaders=[^,]*user-agent/);
    await verifySigV4(req, lookup, opts);
    await rejectsWith(
      verifySigV4({ ...req, headers: { ...req.headers, 'user-agent': 'other/2.0' } }, lookup, opts),
      'InvalidSignatureException',
    );
  });

  void it('ignores changes to headers that were not signed', async () => {
    const req = await sdkSign();
    assert.doesNotMatch(String(req.headers.authorization), /user-agent/);
    await verifySigV4(
      { ...req, headers: { ...req.headers, 'user-agent': 'x', 'x-forwarded-for': '10.0.0.1' } },
      lookup,
      opts,
    );
  });

  void it('handles x-amz-content-sha256: verified against the body, UNSIGNED-PAYLOAD accepted', async () => {
    const body = '{"a":1}';
    const withHash = await sdkSign({ body, headers: { 'x-amz-content-sha256': hex(body) } });
    await verifySigV4(withHash, lookup, opts);
    await rejectsWith(
      verifySigV4({ ...withHash, body: Buffer.from('{"a":2}') }, lookup, opts),
      'InvalidSignatureException',
      /x-amz-content-sha256/,
    );

    const unsigned = await sdkSign({ body, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    await verifySigV4({ ...unsigned, body: Buffer.from('anything') }, lookup, opts);

    const streaming = await sdkSign({
      body,
      headers: { 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' },
    });
    await rejectsWith(verifySigV4(streaming, lookup, opts), 'InvalidSignatureException', /not supported/);
  });

  void it('verifies presigned requests (X-Amz-Algorithm query) and checks their expiry', async () => {
    const signer = new SignatureV4({ service: 'batch', region: 'us-west-2', credentials, sha256 });
    const request = new HttpRequest({
      method: 'GET',
      hostname: '127.0.0.1',
      port: 8000,
      path: `/v1/tags/${ENCODED_QUEUE_ARN}`,
      query: { extra: 'x y' },
      headers: { host: '127.0.0.1:8000' },
    });
    const presigned = await signer.presign(request, { signingDate: new Date(T0), expiresIn: 300 });
    const req = toIncoming(presigned, '');
    assert.equal(req.headers.authorization, undefined);
    assert.match(req.url, /X-Amz-Algorithm=AWS4-HMAC-SHA256/);
    assert.deepEqual(await verifySigV4(req, lookup, opts), {
      accessKeyId: AKID,
      region: 'us-west-2',
      service: 'batch',
    });
    await verifySigV4(req, lookup, { ...opts, now: () => T0 + 299_000 });
    await rejectsWith(
      verifySigV4(req, lookup, { ...opts, now: () => T0 + 301_000 }),
      'InvalidSignatureException',
      /^Signature expired: 20240101T000000Z is now earlier than 20240101T000001Z \(20240101T000501Z - 300 sec\.\)$/,
    );
    await rejectsWith(
      verifySigV4({ ...req, url: req.url.replace('extra=x%20y', 'extra=x%20z') }, lookup, opts),
      'InvalidSignatureException',
      /does not match/,
    );
    await rejectsWith(
      verifySigV4({ ...req, url: req.url.replace(/&?X-Amz-Signature=[0-9a-f]+/, '') }, lookup, opts),
      'IncompleteSignature',
      /'X-Amz-Signature'/,
    );
  });
});

void describe('verifySigV4: errors', () => {
  void it('MissingAuthenticationToken without an Authorization header or presign query', async () => {
    const headers = without((await sdkSign()).headers, 'authorization');
    await rejectsWith(
      verifySigV4({ method: 'POST', url: '/v1/submitjob', headers, body: Buffer.from('{}') }, lookup, opts),
      'MissingAuthenticationToken',
      /^Missing Authentication Token$/,
    );
  });

  void it('IncompleteSignature for a malformed Authorization header or a missing date', async () => {
    const req = await sdkSign();
    const auth = String(req.headers.authorization);
    await rejectsWith(
      verifySigV4(
        { ...req, headers: { ...req.headers, authorization: auth.replace(/, Signature=[0-9a-f]+/, '') } },
        lookup,
        opts,
      ),
      'IncompleteSignature',
      /requires 'Signature' parameter/,
    );
    await rejectsWith(
      verifySigV4({ ...req, headers: { ...req.headers, authorization: 'AWS4-HMAC-SHA256 garbage' } }, lookup, opts),
      'IncompleteSignature',
      /requires 'Credential' parameter.*requires 'Signature' parameter.*requires 'SignedHeaders' parameter/,
    );
    await rejectsWith(
      verifySigV4({ ...req, headers: { ...req.headers, authorization: 'Bearer abc' } }, lookup, opts),
      'IncompleteSignature',
      /Unsupported authorization type 'Bearer'/,
    );
    await rejectsWith(
      verifySigV4(
        { ...req, headers: { ...req.headers, authorization: auth.replace('/batch/aws4_request', '/batch') } },
        lookup,
        opts,
      ),
      'IncompleteSignature',
      /exactly 5 slash-delimited elements/,
    );
    const noDate = without(req.headers, 'x-amz-date');
    await rejectsWith(
      verifySigV4({ ...req, headers: noDate }, lookup, opts),
      'IncompleteSignature',
      /'X-Amz-Date' or a 'Date' header/,
    );
    await rejectsWith(
      verifySigV4({ ...req, headers: { ...req.headers, 'x-amz-date': '2024-01-01T00:00:00Z' } }, lookup, opts),
      'IncompleteSignature',
      /ISO-8601 'basic format'/,
    );
  });

  void it('InvalidSignatureException when the service is not accepted, naming the accepted ones', async () => {
    const req = await sdkSign({ service: 's3' });
    await rejectsWith(
      verifySigV4(req, lookup, opts),
      'InvalidSignatureException',
      /correct service: one of 'batch', 'logs', not 's3'/,
    );
    await rejectsWith(
      verifySigV4(await sdkSign({ service: 'logs' }), lookup, { ...opts, services: ['batch'] }),
      'InvalidSignatureException',
      /correct service: 'batch', not 'logs'/,
    );
  });

  void it('UnrecognizedClientException for an unknown access key', async () => {
    await rejectsWith(
      verifySigV4(await sdkSign({ accessKeyId: 'AKIDUNKNOWN' }), lookup, opts),
      'UnrecognizedClientException',
      /^The security token included in the request is invalid\.$/,
    );
  });

  void it('InvalidSignatureException (AWS message) for a wrong secret', async () => {
    await rejectsWith(
      verifySigV4(await sdkSign({ secret: 'not-the-secret' }), lookup, opts),
      'InvalidSignatureException',
      /^The request signature we calculated does not match the signature you provided\. Check your AWS Secret Access Key and signing method\.$/,
    );
  });

  void it('InvalidSignatureException for a tampered body, path, query, method or signed header', async () => {
    const req = await sdkSign();
    const tamperedBody = Buffer.from('{"jobName":"j2","jobQueue":"q1","jobDefinition":"d1"}');
    // With x-amz-content-sha256 (smithy's default) the header no longer matches the body ...
    assert.ok(req.headers['x-amz-content-sha256']);
    await rejectsWith(
      verifySigV4({ ...req, body: tamperedBody }, lookup, opts),
      'InvalidSignatureException',
      /x-amz-content-sha256' header does not match/,
    );
    // ... without it, the server-side body hash changes the signature.
    const noHashHeader = await sdkSign({ applyChecksum: false });
    assert.equal(noHashHeader.headers['x-amz-content-sha256'], undefined);
    await verifySigV4(noHashHeader, lookup, opts);
    await rejectsWith(
      verifySigV4({ ...noHashHeader, body: tamperedBody }, lookup, opts),
      'InvalidSignatureException',
      /does not match the signature you provided/,
    );
    await rejectsWith(verifySigV4({ ...req, url: '/v1/createjobqueue' }, lookup, opts), 'InvalidSignatureException');
    await rejectsWith(verifySigV4({ ...req, url: '/v1/submitjob?x=1' }, lookup, opts), 'InvalidSignatureException');
    await rejectsWith(verifySigV4({ ...req, method: 'PUT' }, lookup, opts), 'InvalidSignatureException');
    await rejectsWith(
      verifySigV4({ ...req, headers: { ...req.headers, 'content-type': 'text/plain' } }, lookup, opts),
      'InvalidSignatureException',
    );
    await rejectsWith(
      verifySigV4({ ...req, headers: { ...req.headers, host: 'evil.example:8000' } }, lookup, opts),
      'InvalidSignatureException',
    );
    const missingSigned = without(req.headers, 'content-type');
    await rejectsWith(
      verifySigV4({ ...req, headers: missingSigned }, lookup, opts),
      'InvalidSignatureException',
      /'content-type' is listed in SignedHeaders but is not present/,
    );

    const encoded = await sdkSign({ method: 'DELETE', path: `/v1/tags/${ENCODED_QUEUE_ARN}`, body: '' });
    await verifySigV4(encoded, lookup, opts);
    await rejectsWith(
      verifySigV4({ ...encoded, url: encoded.url.replace('q1', 'q2') }, lookup, opts),
      'InvalidSignatureException',
    );
    // The decoded form of the same path is a different canonical URI.
    await rejectsWith(
      verifySigV4({ ...encoded, url: `/v1/tags/${QUEUE_ARN}` }, lookup, opts),
      'InvalidSignatureException',
    );
  });

  void it('InvalidSignatureException when host is not signed', async () => {
    const req = await sdkSign();
    const auth = String(req.headers.authorization).replace(';host;', ';');
    await rejectsWith(
      verifySigV4({ ...req, headers: { ...req.headers, authorization: auth } }, lookup, opts),
      'InvalidSignatureException',
      /'Host' or ':authority' must be a 'SignedHeader'/,
    );
  });

  void it('Signature expired / not yet current outside the 15 minute window (AWS wording)', async () => {
    const old = await sdkSign({ date: T0 - 20 * 60_000 });
    await rejectsWith(
      verifySigV4(old, lookup, opts),
      'InvalidSignatureException',
      /^Signature expired: 20231231T234000Z is now earlier than 20231231T234500Z \(20240101T000000Z - 15 min\.\)$/,
    );
    const future = await sdkSign({ date: T0 + 20 * 60_000 });
    await rejectsWith(
      verifySigV4(future, lookup, opts),
      'InvalidSignatureException',
      /^Signature not yet current: 20240101T002000Z is still later than 20240101T001500Z \(20240101T000000Z \+ 15 min\.\)$/,
    );
    await verifySigV4(await sdkSign({ date: T0 - 14 * 60_000 }), lookup, opts);
    await verifySigV4(await sdkSign({ date: T0 + 14 * 60_000 }), lookup, opts);
    await rejectsWith(
      verifySigV4(await sdkSign({ date: T0 - 2 * 60_000 }), lookup, { ...opts, maxSkewMs: 60_000 }),
      'InvalidSignatureException',
      /- 1 min\.\)$/,
    );
  });

  void it('InvalidSignatureException when the credential scope date is not the request date', async () => {
    const req = await sdkSign();
    const auth = String(req.headers.authorization).replace('/20240101/', '/20240102/');
    await rejectsWith(
      verifySigV4({ ...req, headers: { ...req.headers, authorization: auth } }, lookup, opts),
      'InvalidSignatureException',
      /Date in Credential scope does not match/,
    );
  });
});

void describe('verifySigV4: real clients over HTTP', () => {
  const server = new CaptureServer();
  const live: VerifyOptions = { services: ['batch', 'logs'] };
  before(() => server.start());
  after(() => server.stop());

  void it('AWS SDK v3 BatchClient and CloudWatchLogsClient', async () => {
    const batch = new BatchClient({ endpoint: server.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
    const logs = new CloudWatchLogsClient({
      endpoint: server.endpoint,
      region: 'eu-west-1',
      credentials,
      maxAttempts: 1,
    });
    await batch.send(new TagResourceCommand({ resourceArn: QUEUE_ARN, tags: { team: 'a b', 'k:1': 'v/2' } }));
    await batch.send(new UntagResourceCommand({ resourceArn: QUEUE_ARN, tagKeys: ['team', 'k:1', 'x y+z'] }));
    await batch.send(new ListTagsForResourceCommand({ resourceArn: QUEUE_ARN }));
    await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/aws/batch' }));
    await logs.send(
      new PutLogEventsCommand({
        logGroupName: '/aws/batch/job',
        logStreamName: 'j/default/1',
        logEvents: [{ timestamp: 1, message: 'héllo ✓' }],
      }),
    );
    batch.destroy();
    logs.destroy();

    const captured = server.take();
    assert.equal(captured.length, 5);
    assert.match(captured[1]!.url, /^\/v1\/tags\/arn%3Aaws%3Abatch%3A[^?]*%2Fq1\?tagKeys=/);
    assert.equal(captured[3]!.headers['x-amz-target'], 'Logs_20140328.DescribeLogGroups');
    const services = [];
    for (const req of captured) services.push((await verifySigV4(req, lookup, live)).service);
    assert.deepEqual(services, ['batch', 'batch', 'batch', 'logs', 'logs']);
    await rejectsWith(
      verifySigV4({ ...captured[0]!, body: Buffer.from('{"tags":{"team":"evil"}}') }, lookup, live),
      'InvalidSignatureException',
    );
  });

  void it('python botocore SigV4Auth', async () => {
    const requests = [
      {
        service: 'batch',
        region: 'us-east-1',
        method: 'POST',
        path: `/v1/tags/${ENCODED_QUEUE_ARN}`,
        body: '{"tags": {"a": "b"}}',
        headers: { 'Content-Type': 'application/json' },
      },
      {
        service: 'batch',
        region: 'us-east-1',
        method: 'GET',
        path: `/v1/tags/${ENCODED_QUEUE_ARN}?tagKeys=b%20k&tagKeys=a&z=%2F~`,
      },
      // params: botocore sends `+` for a space on the wire but signs %20.
      { service: 'batch', region: 'ap-south-1', method: 'GET', path: '/v1/x', params: { q: 'a b', r: 'c' } },
      {
        service: 'logs',
        region: 'us-east-2',
        method: 'POST',
        path: '/',
        body: '{"logGroupName": "/aws/batch/job"}',
        headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'Logs_20140328.CreateLogGroup' },
      },
      // A Date header instead of X-Amz-Date: botocore then signs with `date`.
      { service: 'logs', region: 'us-east-2', method: 'POST', path: '/', body: '{}', headers: { Date: 'x' } },
    ];
    const out = await runPython({ endpoint: server.endpoint, akid: AKID, secret: SECRET, requests });
    assert.deepEqual(JSON.parse(out), [200, 200, 200, 200, 200]);

    const captured = server.take();
    assert.equal(captured.length, requests.length);
    assert.match(captured[2]!.url, /q=a\+b/);
    assert.equal(captured[4]!.headers['x-amz-date'], undefined);
    assert.match(String(captured[4]!.headers.authorization), /SignedHeaders=[^,]*\bdate\b/);
    for (const req of captured) await verifySigV4(req, lookup, live);

    await rejectsWith(
      verifySigV4({ ...captured[0]!, url: captured[0]!.url.replace('q1', 'q9') }, lookup, live),
      'InvalidSignatureException',
    );
    await rejectsWith(
      verifySigV4({ ...captured[1]!, url: captured[1]!.url.replace('tagKeys=a', 'tagKeys=c') }, lookup, live),
      'InvalidSignatureException',
    );
    await rejectsWith(
      verifySigV4(
        { ...captured[3]!, headers: { ...captured[3]!.headers, 'x-amz-target': 'Logs_20140328.DeleteLogGroup' } },
        lookup,
        live,
      ),
      'InvalidSignatureException',
    );
  });

  void it('aws CLI', async () => {
    if (!(await hasAwsCli()))
      throw new Error('the aws CLI is missing: install it (pip install awscli) or run npm test, which installs it');
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: AKID,
      AWS_SECRET_ACCESS_KEY: SECRET,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_MAX_ATTEMPTS: '1',
    };
    const run = (...args: string[]) =>
      promisify(execFile)('aws', ['--endpoint-url', server.endpoint, ...args], { env, timeout: 60_000 });
    await Promise.all([
      run('batch', 'tag-resource', '--resource-arn', QUEUE_ARN, '--tags', 'team=a b'),
      run('batch', 'untag-resource', '--resource-arn', QUEUE_ARN, '--tag-keys', 'team', 'x y'),
      run('logs', 'describe-log-groups', '--log-group-name-prefix', '/aws/batch'),
    ]);
    const captured = server.take();
    assert.equal(captured.length, 3);
    for (const req of captured) await verifySigV4(req, lookup, live);
  });
});
