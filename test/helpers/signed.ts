/**
 * Raw SigV4-signed HTTP requests (signed with @smithy/signature-v4 exactly as the AWS SDKs sign), for bodies no SDK
 * would send (malformed JSON, wrong types, oversized payloads), and an SDK client pointed at a test server.
 */
import { BatchClient } from '@aws-sdk/client-batch';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { TestServer } from './server.js';

export interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** Signs `POST <path>` with `body` (string sent byte for byte) for service `batch`. */
export async function signRequest(
  url: string,
  creds: Creds,
  path: string,
  body: string | Buffer,
  opts: { method?: string; service?: string; headers?: Record<string, string>; signingDate?: Date } = {},
): Promise<{ url: string; method: string; headers: Record<string, string>; body: string | Buffer }> {
  const u = new URL(url);
  const signer = new SignatureV4({
    credentials: creds,
    region: 'us-east-1',
    service: opts.service ?? 'batch',
    sha256: Hash.bind(null, 'sha256'),
  });
  const [pathname, query] = path.split('?');
  const q: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(query ?? '')) q[k] = v;
  const req = new HttpRequest({
    method: opts.method ?? 'POST',
    protocol: u.protocol,
    hostname: u.hostname,
    port: Number(u.port),
    path: pathname!,
    query: q,
    headers: { host: u.host, 'content-type': 'application/json', ...(opts.headers ?? {}) },
    body,
  });
  const signed = await signer.sign(req, opts.signingDate ? { signingDate: opts.signingDate } : {});
  return { url: url + path, method: req.method, headers: signed.headers, body };
}

/** Sends a signed request and parses the JSON answer (if any). */
export async function signedFetch(
  server: { url: string } & Creds,
  path: string,
  body: string | Buffer | object,
  opts: { method?: string; service?: string; creds?: Creds; headers?: Record<string, string>; signingDate?: Date } = {},
): Promise<RawResponse> {
  const raw = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  const s = await signRequest(server.url, opts.creds ?? server, path, raw, opts);
  const res = await fetch(s.url, {
    method: s.method,
    headers: s.headers,
    ...(s.method === 'GET' || s.method === 'HEAD' ? {} : { body: s.body }),
  });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** An @aws-sdk/client-batch client for the test server (in-process, the real SDK). */
export function sdkClient(server: TestServer, creds?: Creds): BatchClient {
  return new BatchClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: creds ?? { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    maxAttempts: 1,
  });
}

/**
 * The messages of a job's log stream in /aws/batch/job, from its head (one GetLogEvents page), read with
 * @aws-sdk/client-cloudwatch-logs as the test server's root (`maxAttempts`: the SDK's retries, its default if unset).
 */
export async function sdkLogMessages(
  server: TestServer,
  stream: string,
  opts: { maxAttempts?: number } = {},
): Promise<string[]> {
  const logs = new CloudWatchLogsClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    ...opts,
  });
  try {
    const r = await logs.send(
      new GetLogEventsCommand({ logGroupName: '/aws/batch/job', logStreamName: stream, startFromHead: true }),
    );
    return (r.events ?? []).map((e) => e.message!);
  } finally {
    logs.destroy();
  }
}
