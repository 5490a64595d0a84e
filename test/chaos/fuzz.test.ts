/**
 * Chaos: 10,000 requests generated from the AWS models (see model-fuzz.ts). Not one answer of 5xx, not one dropped
 * connection below the body limit, every answer carrying x-amzn-RequestId and every refusal in AWS's shape; the
 * server is healthy afterwards and still does real work.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signRequest } from '../helpers/signed.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ModelFuzzer, rng, type FuzzRequest } from './model-fuzz.js';

const COUNT = 10_000;
const BODY_LIMIT = 1024 * 1024;
const CONCURRENCY = 16;

interface Outcome {
  req: FuzzRequest;
  status?: number;
  problem?: string;
  dropped?: string;
}

async function send(srv: TestServer, f: FuzzRequest): Promise<Outcome> {
  const creds = {
    accessKeyId: srv.accessKeyId,
    secretAccessKey: f.signing === 'wrong-secret' ? 'not-the-secret' : srv.secretAccessKey,
  };
  let headers: Record<string, string> = { ...f.headers };
  if (f.signing !== 'none') {
    const s = await signRequest(srv.url, creds, f.path, f.body, {
      method: f.method,
      service: f.signing === 'wrong-service' ? 'ec2' : f.service,
      headers: f.headers,
      ...(f.signing === 'skewed' ? { signingDate: new Date(Date.now() - 20 * 60_000) } : {}),
    });
    headers = s.headers;
    if (f.signing === 'tampered')
      headers.authorization = headers.authorization!.replace(/Signature=(\w)/, (_, c: string) =>
        c === '0' ? 'Signature=1' : 'Signature=0',
      );
  }
  delete headers.host;
  const noBody = f.method === 'GET' || f.method === 'HEAD';
  let res: Response;
  try {
    res = await fetch(srv.url + f.path, { method: f.method, headers, ...(noBody ? {} : { body: f.body }) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    // undici refuses some requests itself (a header value it will not send): not the server's doing.
    if (cause?.code === 'UND_ERR_INVALID_ARG' || (err instanceof TypeError && !cause?.code))
      return { req: f, problem: undefined };
    return { req: f, dropped: `${cause?.code ?? ''} ${cause?.message ?? (err as Error).message}` };
  }
  const text = await res.text();
  const out: Outcome = { req: f, status: res.status };
  const bad = (m: string) => (out.problem ??= m);
  if (res.status >= 500) bad(`${res.status}: ${text.slice(0, 300)}`);
  if (!/^[0-9a-f-]{36}$/.test(res.headers.get('x-amzn-requestid') ?? '')) bad('no x-amzn-RequestId');
  if (res.status >= 400 && f.method !== 'HEAD') {
    const type = res.headers.get('x-amzn-errortype');
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      bad(`error body is not JSON: ${text.slice(0, 200)}`);
    }
    if (!type) bad('no X-Amzn-ErrorType');
    if (json) {
      const keys = Object.keys(json).sort().join(',');
      if (keys !== '__type,message') bad(`error body keys ${keys}`);
      if (typeof json.__type !== 'string' || json.__type.split('#').pop() !== type)
        bad(`__type ${json.__type} vs X-Amzn-ErrorType ${type}`);
      if (typeof json.message !== 'string' || json.message.length < 5) bad('no message');
    }
  }
  return out;
}

void describe('chaos: 10,000 requests generated from the AWS models', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer();
  });
  after(async () => srv?.stop());

  // A minute on an idle 2-core machine; far more on a loaded one, hence its own time limit.
  void it(
    'no 5xx, no dropped connection below the body limit, every error in AWS shape',
    { timeout: 900_000 },
    async () => {
      const fuzzer = new ModelFuzzer(rng(20261126));
      const reqs = Array.from({ length: COUNT }, () => fuzzer.next(BODY_LIMIT));
      const outcomes: Outcome[] = [];
      let i = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (i < reqs.length) outcomes.push(await send(srv, reqs[i++]!));
        }),
      );
      assert.equal(outcomes.length, COUNT);
      const fivexx = outcomes.filter((o) => (o.status ?? 0) >= 500);
      const problems = outcomes.filter((o) => o.problem);
      const dropped = outcomes.filter((o) => o.dropped && Buffer.byteLength(o.req.body) < BODY_LIMIT);
      const show = (os: Outcome[]) =>
        os
          .slice(0, 5)
          .map((o) => `${o.req.kind} ${o.req.method} ${o.req.path.slice(0, 80)}: ${o.problem ?? o.dropped}`)
          .join('\n');
      assert.equal(fivexx.length, 0, `5xx answers:\n${show(fivexx)}`);
      assert.equal(dropped.length, 0, `dropped connections:\n${show(dropped)}`);
      assert.equal(problems.length, 0, `answers not in AWS's shape:\n${show(problems)}`);
      // The mix really exercised both successes and refusals.
      const byStatus = new Map<number, number>();
      for (const o of outcomes) if (o.status) byStatus.set(o.status, (byStatus.get(o.status) ?? 0) + 1);
      assert.ok((byStatus.get(200) ?? 0) > 500, `successes: ${JSON.stringify([...byStatus])}`);
      assert.ok((byStatus.get(400) ?? 0) > 2000, `refusals: ${JSON.stringify([...byStatus])}`);

      // Healthy afterwards: a real queue, definition and job still work.
      assert.equal(srv.proc.exitCode, null);
      assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
    },
  );
});
