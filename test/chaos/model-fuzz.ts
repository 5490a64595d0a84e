/**
 * Requests generated from the AWS models (aws-models/ via the validator's loader): every Batch and Logs operation,
 * with inputs that are valid-looking, of wrong types, missing required or carrying unknown members, nasty strings,
 * huge or deeply nested bodies, bad JSON, bad paths, targets, content types and signatures. Deterministic (seeded).
 */
import { loadServiceModel, type ServiceModel, type Shape } from '../../src/api/model-validator.js';

export interface FuzzRequest {
  /** What was done to it, for failure messages. */
  kind: string;
  method: string;
  path: string;
  service: 'batch' | 'logs';
  headers: Record<string, string>;
  body: string | Buffer;
  /** How to sign: properly, not at all, with a wrong secret, for another service, or 20 minutes in the past. */
  signing: 'ok' | 'none' | 'wrong-secret' | 'wrong-service' | 'skewed' | 'tampered';
}

/** mulberry32: small, fast, seeded. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NASTY = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '../../etc/passwd',
  '%00',
  '%zz',
  "'; DROP TABLE jobs; --",
  '"quoted"',
  '\\',
  '\ud800',
  '\u202eevil',
  '😀'.repeat(50),
  'ﷺ'.repeat(20),
  '\r\nX-Injected: 1',
  '${jndi:ldap://127.0.0.1/a}',
  'Ref::param',
  'arn:aws:batch:us-east-1:123456789012:job-queue/q',
  'x'.repeat(300),
  'x'.repeat(70_000),
  '-1',
  'NaN',
  'null',
  '<script>alert(1)</script>',
];

/** encodeURIComponent, with lone surrogates (which it refuses) replaced. */
function enc(v: string): string {
  try {
    return encodeURIComponent(v);
  } catch {
    return encodeURIComponent(v.replace(/[\ud800-\udfff]/g, '?'));
  }
}

export class ModelFuzzer {
  private readonly batch: ServiceModel = loadServiceModel('batch');
  private readonly logs: ServiceModel = loadServiceModel('logs');
  private readonly batchOps: string[];
  private readonly logsOps: string[];

  constructor(private readonly r: () => number) {
    this.batchOps = Object.keys(this.batch.operations);
    this.logsOps = Object.keys(this.logs.operations);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)]!;
  }

  private chance(p: number): boolean {
    return this.r() < p;
  }

  /** A value for `shapeName`, mostly of the right type, sometimes not. */
  value(model: ServiceModel, shapeName: string, depth = 0, wrong = 0.03): unknown {
    const s: Shape | undefined = model.shapes[shapeName];
    if (!s || depth > 6) return null;
    if (depth > 0 && this.chance(wrong))
      return this.pick([null, 42, -1.5, true, 'str', [], {}, [1, 'a'], { a: { b: 1 } }]);
    switch (s.type) {
      case 'string': {
        const en = s.enum;
        if (en && this.chance(0.7)) return this.pick(en);
        return this.chance(0.4) ? this.pick(NASTY) : `v${Math.floor(this.r() * 1e6)}`;
      }
      case 'integer':
      case 'long':
        return this.pick([0, 1, 5, 10_000, -1, 2 ** 31, 2 ** 53, 1.5]);
      case 'float':
      case 'double':
        return this.pick([0, 0.5, -3, 'NaN', 'Infinity', 1e308]);
      case 'boolean':
        return this.chance(0.5);
      case 'timestamp':
        return this.pick([1_700_000_000, '2026-01-01T00:00:00Z', 'yesterday', -5]);
      case 'blob':
        return this.pick(['aGVsbG8=', 'not base64!']);
      case 'list': {
        const member = (s.member as { shape: string }).shape;
        return Array.from({ length: Math.floor(this.r() * 4) }, () => this.value(model, member, depth + 1, wrong));
      }
      case 'map': {
        const out: Record<string, unknown> = {};
        const v = (s.value as { shape: string }).shape;
        for (let i = Math.floor(this.r() * 3); i > 0; i--)
          out[this.chance(0.3) ? this.pick(NASTY).slice(0, 200) : `k${i}`] = this.value(model, v, depth + 1, wrong);
        return out;
      }
      case 'structure': {
        const out: Record<string, unknown> = {};
        const members = (s.members ?? {}) as Record<string, { shape: string }>;
        const required = new Set(s.required ?? []);
        for (const [name, ref] of Object.entries(members))
          if (required.has(name) ? !this.chance(0.05) : this.chance(0.3))
            out[name] = this.value(model, ref.shape, depth + 1, wrong);
        if (this.chance(0.1)) out[`unknownMember${Math.floor(this.r() * 100)}`] = this.pick(NASTY);
        return out;
      }
      default:
        return null;
    }
  }

  private deep(depth: number): string {
    const open = this.chance(0.5) ? '[' : '{"a":';
    const close = open === '[' ? ']' : '}';
    return `{"jobName":${open.repeat(depth)}1${close.repeat(depth)}}`;
  }

  /** One request; `bodyLimit` decides how large "huge" is (just below it). */
  next(bodyLimit: number): FuzzRequest {
    const batch = this.chance(0.7);
    const model = batch ? this.batch : this.logs;
    const op = this.pick(batch ? this.batchOps : this.logsOps);
    const o = model.operations[op]!;
    const inputShape = (o.input as { shape: string } | undefined)?.shape;
    const input = inputShape ? (this.value(model, inputShape) as Record<string, unknown>) : {};
    let kind = `${batch ? 'batch' : 'logs'}:${op}`;
    let method = batch ? ((o.http as { method: string }).method ?? 'POST') : 'POST';
    let path = '/';
    const headers: Record<string, string> = {};
    if (batch) {
      const uri = (o.http as { requestUri: string }).requestUri;
      path = uri.replace(/\{(\w+)\+?\}/g, (_, name: string) => {
        const v = input[name];
        delete input[name];
        return enc(typeof v === 'string' && v ? v : 'arn:aws:batch:us-east-1:123456789012:job/x');
      });
      headers['content-type'] = 'application/json';
    } else {
      headers['x-amz-target'] = `Logs_20140328.${op}`;
      headers['content-type'] = 'application/x-amz-json-1.1';
    }
    let body: string | Buffer = JSON.stringify(input);
    const fault = this.r();
    if (fault < 0.08) {
      kind += ' bad-json';
      body = this.pick(['{', '{"a":}', '[1,2', 'nul', '{"a":1}garbage', '\ufeff{}', '{"a":NaN}', "{'a':1}"]);
      if (this.chance(0.3)) body = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]);
    } else if (fault < 0.12) {
      kind += ' not-an-object';
      body = this.pick(['[]', 'null', '1', '"s"', 'true']);
    } else if (fault < 0.14) {
      kind += ' deep';
      body = this.deep(this.pick([100, 5_000, 50_000]));
    } else if (fault < 0.15) {
      kind += ' huge';
      body = JSON.stringify({ ...input, pad: 'x'.repeat(bodyLimit - 1024 - body.length) });
    } else if (fault < 0.2) {
      kind += ' path';
      path = this.pick([
        '/v1/',
        '/v1',
        '/V1/SUBMITJOB',
        '/v1/submitjob/',
        '//v1/submitjob',
        '/v1/%zz',
        '/v1/%00',
        '/v1/../admin/v1/listusers',
        `/v1/${enc(this.pick(NASTY).slice(0, 500))}`,
        '/v1/tags/',
        '/v1/submitjob?x=%zz',
        '/v1/listjobs?jobQueue=q&jobQueue=r',
        '/favicon.ico',
        '/admin/v1/nope',
      ]);
      method = this.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
    } else if (fault < 0.24) {
      kind += ' target';
      headers['x-amz-target'] = this.pick([
        '',
        'Logs_20140328.',
        'Logs_20140328.DeleteEverything',
        'AWSBatch.SubmitJob',
        'Logs_20140328.constructor',
        'Logs_20140328.__proto__',
        'x'.repeat(5000),
      ]);
      path = '/';
      method = 'POST';
    } else if (fault < 0.28) {
      kind += ' content-type';
      headers['content-type'] = this.pick([
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/json; charset=latin1',
        '',
        '*/*',
      ]);
      if (headers['content-type'] === '') delete headers['content-type'];
    }
    let signing: FuzzRequest['signing'] = 'ok';
    const s = this.r();
    if (s < 0.03) signing = 'none';
    else if (s < 0.05) signing = 'wrong-secret';
    else if (s < 0.06) signing = 'wrong-service';
    else if (s < 0.07) signing = 'skewed';
    else if (s < 0.08) signing = 'tampered';
    if (signing !== 'ok') kind += ` sig:${signing}`;
    return { kind, method, path, service: batch ? 'batch' : 'logs', headers, body, signing };
  }
}
