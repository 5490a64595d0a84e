/**
 * The one error edge: whatever refuses a request (router, URL decoding, body parser and size limit, Node's HTTP parser
 * for oversized headers and request lines, unknown methods, timeouts, connection and in-flight bounds), the answer is
 * an AWS error with the right status, `X-Amzn-ErrorType`, `{"__type","message"}` and `x-amzn-RequestId`; botocore
 * reads the request id into ResponseMetadata.RequestId.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { python } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  json: any;
}

function parseAnswer(text: string): RawAnswer {
  const split = text.indexOf('\r\n\r\n');
  const head = text.slice(0, split).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  const body = text.slice(split + 4);
  let json: any;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status: Number(head[0]!.split(' ')[1]), headers, body, json };
}

/** Opens a socket, writes `data`, and reads until the server closes (every case here asks it to). */
function rawRequest(url: string, data: Buffer | string, keepOpen?: (s: Socket) => void): Promise<RawAnswer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', reject);
    s.on('close', () => resolve(parseAnswer(Buffer.concat(chunks).toString('latin1'))));
    s.write(data);
    keepOpen?.(s);
    s.setTimeout(15_000, () => s.destroy(new Error('no answer in 15 s')));
  });
}

/** The shape every refusal must have. */
function assertAwsError(a: RawAnswer, status: number, type: string, protocol: 'rest-json' | 'json-1.1' = 'rest-json') {
  assert.equal(a.status, status, a.body);
  assert.equal(a.headers['x-amzn-errortype'], type, JSON.stringify(a.headers));
  assert.match(a.headers['x-amzn-requestid'] ?? '', /^[0-9a-f-]{36}$/, 'x-amzn-RequestId');
  assert.ok(a.json, `a JSON body: ${a.body}`);
  assert.deepEqual(Object.keys(a.json).sort(), ['__type', 'message']);
  assert.equal(a.json.__type, protocol === 'json-1.1' ? `com.amazonaws.logs#${type}` : type);
  assert.ok(a.json.message.length > 10 && a.json.message.length < 1000, a.json.message);
  assert.match(a.headers['content-type'] ?? '', protocol === 'json-1.1' ? /x-amz-json-1\.1/ : /application\/json/);
}

void describe('one error edge', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({
      env: {
        OPENBATCH_MAX_CONNECTIONS_PER_CLIENT: '6',
        OPENBATCH_MAX_IN_FLIGHT: '3',
        OPENBATCH_REQUEST_TIMEOUT_MS: '1500',
        OPENBATCH_MAX_BODY_BYTES: '65536',
      },
    });
  });
  after(async () => srv?.stop());

  const close = 'Host: x\r\nConnection: close\r\n';
  const cases: [string, string | Buffer, number, string, ('rest-json' | 'json-1.1')?][] = [
    ['unknown path', `GET /nope HTTP/1.1\r\n${close}\r\n`, 404, 'UnknownOperationException'],
    ['unknown method on a known path', `PUT /v1/submitjob HTTP/1.1\r\n${close}\r\n`, 404, 'UnknownOperationException'],
    [
      'method the parser does not know',
      `BREW /v1/submitjob HTTP/1.1\r\n${close}\r\n`,
      405,
      'UnknownOperationException',
    ],
    ['bad percent-encoding', `POST /v1/%zz HTTP/1.1\r\n${close}Content-Length: 0\r\n\r\n`, 400, 'ClientException'],
    [
      'body over the limit',
      `POST /v1/submitjob HTTP/1.1\r\n${close}Content-Type: application/json\r\nContent-Length: 70000\r\n\r\n{}`,
      413,
      'RequestEntityTooLargeException',
    ],
    [
      'Logs body over the limit',
      `POST / HTTP/1.1\r\n${close}X-Amz-Target: Logs_20140328.PutLogEvents\r\nContent-Length: 70000\r\n\r\n{}`,
      413,
      'RequestEntityTooLargeException',
      'json-1.1',
    ],
    [
      'bad Content-Length',
      `POST /v1/submitjob HTTP/1.1\r\n${close}Content-Length: ten\r\n\r\n{}`,
      400,
      'ClientException',
    ],
    [
      'headers over 16 KiB',
      `GET / HTTP/1.1\r\n${close}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'RequestHeaderFieldsTooLargeException',
    ],
    ['URL over 16 KiB', `GET /${'a'.repeat(20_000)} HTTP/1.1\r\n${close}\r\n`, 414, 'RequestUriTooLongException'],
    [
      'path parameter over the router limit',
      `GET /v1/tags/${'a'.repeat(9000)} HTTP/1.1\r\n${close}\r\n`,
      414,
      'RequestUriTooLongException',
    ],
    ['not HTTP at all', 'hello\r\n\r\n', 400, 'ClientException'],
    [
      'unsigned Batch call',
      `POST /v1/describejobqueues HTTP/1.1\r\n${close}Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}`,
      403,
      'MissingAuthenticationToken',
    ],
    [
      'unsigned Logs call',
      `POST / HTTP/1.1\r\n${close}X-Amz-Target: Logs_20140328.DescribeLogGroups\r\nContent-Length: 2\r\n\r\n{}`,
      403,
      'MissingAuthenticationToken',
      'json-1.1',
    ],
  ];
  for (const [name, data, status, type, protocol] of cases)
    void it(`${name}: ${status} ${type}`, async () => {
      assertAwsError(await rawRequest(srv.url, data), status, type, protocol);
    });

  void it('a request whose body does not arrive in time: 408 RequestTimeoutException', async () => {
    const a = await rawRequest(srv.url, `POST /v1/submitjob HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"a":`);
    assertAwsError(a, 408, 'RequestTimeoutException');
  });

  void it('x-amzn-RequestId on successes too, read by botocore into ResponseMetadata.RequestId', () => {
    const r = python(
      `
import boto3, json, urllib.request
from botocore.exceptions import ClientError
b = boto3.client('batch')
ok = b.describe_job_queues()['ResponseMetadata']
try:
    b.describe_jobs(jobs=[1])
except Exception as e:
    pass
try:
    b.submit_job(jobName='x', jobQueue='nope', jobDefinition='nope')
    err = None
except ClientError as e:
    err = e.response
logs = boto3.client('logs')
lok = logs.describe_log_groups()['ResponseMetadata']
try:
    logs.get_log_events(logGroupName='/aws/batch/job', logStreamName='nope')
    lerr = None
except ClientError as e:
    lerr = e.response
health = urllib.request.urlopen('${srv.url}/healthz')
print(json.dumps({'ok': ok, 'err': err, 'lok': lok, 'lerr': lerr, 'health': health.headers.get('x-amzn-RequestId')}))
`,
      srv.env,
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    for (const k of ['ok', 'err', 'lok', 'lerr']) {
      assert.match(out[k].ResponseMetadata?.RequestId ?? out[k].RequestId, uuid, `${k}: ${JSON.stringify(out[k])}`);
    }
    assert.equal(out.err.Error.Code, 'ClientException');
    assert.equal(out.lerr.Error.Code, 'ResourceNotFoundException');
    assert.notEqual(out.ok.RequestId, out.lok.RequestId, 'one id per request');
    assert.match(out.health, uuid);
  });

  void it('past the connections of one address: 429 ThrottlingException on the extra connections', async () => {
    // Six idle keep-alive connections are allowed; the seventh is answered and closed.
    const idle: Socket[] = [];
    const u = new URL(srv.url);
    for (let i = 0; i < 6; i++) {
      const s = connect(Number(u.port), u.hostname);
      await new Promise((r) => s.once('connect', r));
      idle.push(s);
    }
    try {
      const a = await rawRequest(srv.url, `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`);
      assertAwsError(a, 429, 'ThrottlingException');
      assert.match(a.json.message, /more than 6 open connections/);
      assert.equal(a.headers['retry-after'], '1');
    } finally {
      for (const s of idle) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await fetch(`${srv.url}/healthz`)).status, 200, 'served again once they are closed');
  });

  void it('past the in-flight bound: 503 ServerException, then served again', async () => {
    // Three requests whose bodies have not finished arriving are in flight.
    const u = new URL(srv.url);
    const slow: Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const s = connect(Number(u.port), u.hostname);
      s.on('error', () => undefined);
      await new Promise((r) => s.once('connect', r));
      s.write('POST /v1/describejobqueues HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{');
      slow.push(s);
    }
    await new Promise((r) => setTimeout(r, 200));
    try {
      const a = await rawRequest(srv.url, `GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assertAwsError(a, 503, 'ServerException');
      assert.match(a.json.message, /busy.*retry/);
    } finally {
      for (const s of slow) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
  });
});
