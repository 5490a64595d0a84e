/**
 * Request validation driven by the AWS API models (botocore `service-2.json`) in `models/`.
 *
 * Every operation's input shape is compiled once into a tree of closures (cached per model and shape), so
 * validating a request does no model look-ups, no regex compilation and no allocation while the input is valid.
 * When something is wrong the innermost check returns a {@link Failure}; each enclosing structure/list/map
 * appends its path segment on the way out, and only then is the message (path, rule, fix) rendered.
 *
 * Enforced, exactly as the model states them (nothing invented):
 * - structure: a JSON object (not an array, not null); `required` members present and not null; members that are
 *   null count as absent; members the model does not know are ignored (clients may be newer than our model);
 *   `union` structures must set exactly one member. Members bound to `location` uri/querystring/header are
 *   validated like body members (the caller merges them into the input object under their member name).
 * - string: a JSON string; `enum`; `min`/`max` length in characters (Unicode code points); `pattern`, matched
 *   against the whole value, when it compiles as a JavaScript regex (botocore patterns are Java regexes;
 *   one that cannot be compiled faithfully is skipped).
 * - integer/long: a JSON number that is an integer (integer: within 32-bit range); float/double: a finite JSON
 *   number, or the strings "NaN"/"Infinity"/"-Infinity" as the AWS JSON protocols send them; `min`/`max` on value.
 * - boolean: true/false. timestamp: epoch seconds (number) or an ISO 8601 string. blob: a base64 string.
 * - list: a JSON array, `min`/`max` entries, every entry against the member shape (null entries only in `sparse`).
 * - map: a JSON object, `min`/`max` entries, keys against the key shape, values against the value shape.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A reference from a member, list member, map key or map value to a named shape. */
export interface ShapeRef {
  shape: string;
  /** Where a request member travels: `uri`, `querystring`, `header`, `headers`; absent for the body. */
  location?: string;
  locationName?: string;
  [key: string]: unknown;
}

export type ShapeType =
  'structure' | 'list' | 'map' | 'string' | 'integer' | 'long' | 'float' | 'double' | 'boolean' | 'timestamp' | 'blob';

export interface Shape {
  /** One of {@link ShapeType}; a type this validator does not know is accepted without checks. */
  type: ShapeType;
  members?: Record<string, ShapeRef>;
  required?: string[];
  member?: ShapeRef;
  key?: ShapeRef;
  value?: ShapeRef;
  min?: number;
  max?: number;
  pattern?: string;
  enum?: string[];
  union?: boolean;
  sparse?: boolean;
  [key: string]: unknown;
}

export interface Operation {
  name: string;
  http?: { method: string; requestUri: string; responseCode?: number };
  input?: ShapeRef;
  output?: ShapeRef;
  errors?: ShapeRef[];
  [key: string]: unknown;
}

/** A parsed botocore `service-2.json`. */
export interface ServiceModel {
  version?: string;
  metadata: {
    apiVersion: string;
    endpointPrefix: string;
    protocol: string;
    serviceId?: string;
    targetPrefix?: string;
    jsonVersion?: string;
    [key: string]: unknown;
  };
  operations: Record<string, Operation>;
  shapes: Record<string, Shape>;
}

const MODEL_FILES = {
  batch: 'batch-2016-08-10.service-2.json',
  logs: 'logs-2014-03-28.service-2.json',
  // The operations of the per-PI secret store only (trimmed from botocore's models, documentation left out).
  ssm: 'ssm-2014-11-06.service-2.json',
  secretsmanager: 'secretsmanager-2017-10-17.service-2.json',
} as const;

const loadedModels = new Map<keyof typeof MODEL_FILES, ServiceModel>();

/** The package root: the nearest directory above this file (src/api or dist/src/api) holding a package.json. */
function packageRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`openbatch: no package.json found in ${start} or any directory above it`);
    dir = parent;
  }
}

/** Reads `models/<service>-<version>.service-2.json` from the package root (once; cached). */
export function loadServiceModel(file: keyof typeof MODEL_FILES): ServiceModel {
  let model = loadedModels.get(file);
  if (model === undefined) {
    const path = join(packageRoot(), 'models', MODEL_FILES[file]);
    model = JSON.parse(readFileSync(path, 'utf8')) as ServiceModel;
    loadedModels.set(file, model);
  }
  return model;
}

/** The name of the operation's input shape, or undefined when the operation is unknown or takes no input. */
export function operationInputShape(model: ServiceModel, operation: string): string | undefined {
  if (!Object.hasOwn(model.operations, operation)) return undefined;
  return model.operations[operation]?.input?.shape;
}

/**
 * Validates `input` (the already JSON-parsed request, with any uri/querystring/header members merged in under
 * their member names) against the operation's input shape. Throws `makeError(message)` for the first problem
 * found; the message names the field path, the rule, and what to send instead. An `undefined` input (empty body)
 * is treated as `{}`. An operation that is not in the model is reported through `makeError` too.
 */
export function validateInput(
  model: ServiceModel,
  operation: string,
  input: unknown,
  makeError: (message: string) => Error,
): void {
  const check = operationCheck(model, operation);
  if (check === undefined) {
    throw makeError(`${operation} is not an operation of the ${model.metadata.serviceId ?? 'service'} API`);
  }
  if (check === NO_INPUT) return;
  const failure = check(input === undefined ? EMPTY : input);
  if (failure !== undefined) throw makeError(failure.message());
}

/**
 * Checks a response against the operation's output shape with the same rules as requests (types, required members,
 * enums, lengths, patterns); returns the first problem found, or undefined. Used by the contract tests, so that every
 * answer openbatch gives is one the AWS SDKs can read.
 */
export function checkOutput(model: ServiceModel, operation: string, output: unknown): string | undefined {
  if (!Object.hasOwn(model.operations, operation)) return `${operation} is not an operation of this API`;
  const shape = model.operations[operation]?.output?.shape;
  if (shape === undefined) return output === undefined || isEmptyObject(output) ? undefined : 'expected no output';
  const failure = shapeCheck(model, compiledFor(model, true), shape)(output === undefined ? EMPTY : output);
  return failure?.message().replace('the request body', 'the response body');
}

function isEmptyObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && Object.keys(v).length === 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Failures: allocated only when something is wrong.

/** A map key in a path; rendered `tags.name` or `tags["a b"]`. */
class KeySeg {
  constructor(readonly key: string) {}
}
type Seg = string | number | KeySeg;

/** `render(subject, parent)`: subject is the rendered field path; parent is where a missing member goes. */
type Render = (subject: string, parent: string) => string;

class Failure {
  /** Path segments, innermost first (appended while unwinding). */
  readonly segs: Seg[] = [];
  constructor(readonly render: Render) {}

  message(): string {
    let path = '';
    let parent = '';
    for (let i = this.segs.length - 1; i >= 0; i--) {
      parent = path;
      const seg = this.segs[i];
      if (typeof seg === 'number') path += `[${seg}]`;
      else if (seg instanceof KeySeg) path += IDENTIFIER.test(seg.key) ? `.${seg.key}` : `[${JSON.stringify(seg.key)}]`;
      else path += path === '' ? seg : `.${seg}`;
    }
    return this.render(path === '' ? 'the request body' : path, parent === '' ? 'the request' : parent);
  }
}

type Check = (value: unknown) => Failure | undefined;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const EMPTY: unknown = Object.freeze({});
const NO_INPUT: Check = () => undefined;

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array (${v.length} entries)`;
  switch (typeof v) {
    case 'string':
      return `string ${quote(v)}`;
    case 'number':
      return `number ${v}`;
    case 'boolean':
      return `boolean ${v}`;
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}

/** JSON-quotes a value for a message, shortened to about 80 characters without splitting a surrogate pair. */
function quote(s: string): string {
  if (s.length <= 80) return JSON.stringify(s);
  const cut = s.charCodeAt(76) >= 0xd800 && s.charCodeAt(76) <= 0xdbff ? 76 : 77;
  return JSON.stringify(`${s.slice(0, cut)}...`);
}

function typeFailure(expected: string, v: unknown): Failure {
  return new Failure((subject) => `${subject} must be ${expected}, got ${describeValue(v)}`);
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}

// ---------------------------------------------------------------------------------------------------------------
// Compilation: one closure per shape, cached per model.

interface Compiled {
  /** Checking responses: the count limits of lists and maps are request rules (AWS answers `tags: {}`). */
  output: boolean;
  checks: Map<string, Check>;
  building: Map<string, { check: Check | undefined }>;
  operations: Map<string, Check>;
}

const compiledModels = new WeakMap<ServiceModel, Compiled>();
const compiledOutputModels = new WeakMap<ServiceModel, Compiled>();

function compiledFor(model: ServiceModel, output = false): Compiled {
  const cache = output ? compiledOutputModels : compiledModels;
  let c = cache.get(model);
  if (c === undefined) {
    c = { output, checks: new Map(), building: new Map(), operations: new Map() };
    cache.set(model, c);
  }
  return c;
}

function operationCheck(model: ServiceModel, operation: string): Check | undefined {
  const compiled = compiledFor(model);
  const cached = compiled.operations.get(operation);
  if (cached !== undefined) return cached;
  // Unknown names are not cached: the name comes from the client and must not grow the cache.
  if (!Object.hasOwn(model.operations, operation)) return undefined;
  const shape = model.operations[operation]?.input?.shape;
  const check = shape === undefined ? NO_INPUT : shapeCheck(model, compiled, shape);
  compiled.operations.set(operation, check);
  return check;
}

function shapeCheck(model: ServiceModel, compiled: Compiled, name: string): Check {
  const done = compiled.checks.get(name);
  if (done !== undefined) return done;
  // A recursive shape refers to itself while being compiled: hand out an indirection to the finished check.
  const pending = compiled.building.get(name);
  if (pending !== undefined) return (v) => (pending.check as Check)(v);
  const cell: { check: Check | undefined } = { check: undefined };
  compiled.building.set(name, cell);
  const shape = Object.hasOwn(model.shapes, name) ? model.shapes[name] : undefined;
  if (shape === undefined) throw new Error(`openbatch: the API model refers to an undefined shape "${name}"`);
  const check = buildCheck(model, compiled, shape);
  cell.check = check;
  compiled.building.delete(name);
  compiled.checks.set(name, check);
  return check;
}

/** A short description of what a value of the shape looks like, for "is required: add ..." messages. */
function expectedOf(shape: Shape): string {
  switch (shape.type) {
    case 'string':
      return shape.enum !== undefined ? `a string, one of ${shape.enum.join(', ')}` : 'a string';
    case 'integer':
    case 'long':
      return 'an integer';
    case 'float':
    case 'double':
      return 'a number';
    case 'boolean':
      return 'a boolean, true or false';
    case 'timestamp':
      return 'a timestamp: epoch seconds or an ISO 8601 string';
    case 'blob':
      return 'a base64-encoded string';
    case 'list':
      return 'a JSON array';
    case 'map':
      return 'a JSON object of key/value pairs';
    case 'structure':
      return 'a JSON object';
    default:
      return 'a value';
  }
}

function buildCheck(model: ServiceModel, compiled: Compiled, shape: Shape): Check {
  switch (shape.type) {
    case 'structure':
      return structureCheck(model, compiled, shape);
    case 'list':
      return listCheck(model, compiled, shape);
    case 'map':
      return mapCheck(model, compiled, shape);
    case 'string':
      return stringCheck(shape);
    case 'integer':
    case 'long':
      return integerCheck(shape);
    case 'float':
    case 'double':
      return floatCheck(shape);
    case 'boolean':
      return (v) => (typeof v === 'boolean' ? undefined : typeFailure('a boolean (true or false)', v));
    case 'timestamp':
      return timestampCheck();
    case 'blob':
      return blobCheck(shape);
    default:
      // A type this validator does not know (e.g. a future "document"): accept anything.
      return () => undefined;
  }
}

interface MemberCheck {
  name: string;
  check: Check;
  required: boolean;
  expected: string;
  /** The name is also an Object.prototype property ("constructor", ...): look it up as an own property only. */
  ownOnly: boolean;
}

const ANYTHING: Check = () => undefined;

function structureCheck(model: ServiceModel, compiled: Compiled, shape: Shape): Check {
  const required = new Set(shape.required ?? []);
  const members: MemberCheck[] = [];
  for (const [name, ref] of Object.entries(shape.members ?? {})) {
    const target = Object.hasOwn(model.shapes, ref.shape) ? model.shapes[ref.shape] : undefined;
    members.push({
      name,
      check: shapeCheck(model, compiled, ref.shape),
      required: required.has(name),
      expected: target === undefined ? 'a value' : expectedOf(target),
      ownOnly: name in Object.prototype,
    });
    required.delete(name);
  }
  // Required names with no member definition (a malformed model): still insist on their presence.
  for (const name of required) {
    members.push({ name, check: ANYTHING, required: true, expected: 'a value', ownOnly: name in Object.prototype });
  }
  const count = members.length;
  const isUnion = shape.union === true;
  const memberNames = members.map((m) => m.name);

  return (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return typeFailure('a JSON object', v);
    const o = v as Record<string, unknown>;
    let set = 0;
    for (let i = 0; i < count; i++) {
      const m = members[i] as MemberCheck;
      const x = m.ownOnly && !Object.hasOwn(o, m.name) ? undefined : o[m.name];
      if (x === undefined || x === null) {
        if (m.required) {
          const f = new Failure(
            (subject, parent) => `${subject} is required: add "${m.name}" (${m.expected}) to ${parent}`,
          );
          f.segs.push(m.name);
          return f;
        }
        continue;
      }
      set++;
      const f = m.check(x);
      if (f !== undefined) {
        f.segs.push(m.name);
        return f;
      }
    }
    if (isUnion && set !== 1) {
      const given = memberNames.filter((n) => o[n] !== undefined && o[n] !== null);
      return new Failure(
        (subject) =>
          `${subject} must set exactly one of ${memberNames.join(', ')}; ` +
          (given.length === 0 ? 'none is set' : `got ${given.join(' and ')}`),
      );
    }
    return undefined;
  };
}

function countFailure(n: number, min: number | undefined, max: number | undefined): Failure | undefined {
  if (min !== undefined && n < min) {
    return new Failure(
      (subject) =>
        `${subject} has ${n} ${plural(n, 'entry', 'entries')}; at least ${min} ${plural(min, 'is', 'are')} required`,
    );
  }
  if (max !== undefined && n > max) {
    return new Failure(
      (subject) =>
        `${subject} has ${n} ${plural(n, 'entry', 'entries')}; at most ${max} ${plural(max, 'is', 'are')} allowed`,
    );
  }
  return undefined;
}

function listCheck(model: ServiceModel, compiled: Compiled, shape: Shape): Check {
  const member = shape.member === undefined ? ANYTHING : shapeCheck(model, compiled, shape.member.shape);
  const { min, max } = compiled.output ? {} : shape;
  const sparse = shape.sparse === true;
  return (v) => {
    if (!Array.isArray(v)) return typeFailure('a JSON array', v);
    const n = v.length;
    if (min !== undefined || max !== undefined) {
      const f = countFailure(n, min, max);
      if (f !== undefined) return f;
    }
    for (let i = 0; i < n; i++) {
      const x: unknown = v[i];
      if (sparse && x === null) continue;
      const f = member(x);
      if (f !== undefined) {
        f.segs.push(i);
        return f;
      }
    }
    return undefined;
  };
}

function mapCheck(model: ServiceModel, compiled: Compiled, shape: Shape): Check {
  const keyCheck = shape.key === undefined ? ANYTHING : shapeCheck(model, compiled, shape.key.shape);
  const valueCheck = shape.value === undefined ? ANYTHING : shapeCheck(model, compiled, shape.value.shape);
  const { min, max } = compiled.output ? {} : shape;
  const sparse = shape.sparse === true;
  return (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      return typeFailure('a JSON object of key/value pairs', v);
    }
    const o = v as Record<string, unknown>;
    let n = 0;
    for (const k in o) {
      if (!Object.hasOwn(o, k)) continue;
      n++;
      const kf = keyCheck(k);
      if (kf !== undefined) {
        // Re-render the key's own failure with the subject "<map> key "<k>"".
        return new Failure((subject, parent) => kf.render(`${subject} key ${quote(k)}`, parent));
      }
      const x = o[k];
      if (sparse && x === null) continue;
      const f = valueCheck(x);
      if (f !== undefined) {
        f.segs.push(new KeySeg(k));
        return f;
      }
    }
    if (min !== undefined || max !== undefined) return countFailure(n, min, max);
    return undefined;
  };
}

/**
 * Compiles a botocore (Java) pattern to match the whole value. `u` mode first (needed for `\p{L}` and strict
 * about syntax); without `u` only when the pattern has no escapes whose meaning differs there (`\p{..}`, `\u{..}`,
 * or an escaped letter JavaScript does not define, which non-`u` mode would silently read as that letter).
 * Anything else that does not compile is skipped rather than guessed at.
 */
export function compilePattern(pattern: string): RegExp | undefined {
  try {
    return new RegExp(`^(?:${pattern})$`, 'u');
  } catch {
    // fall through
  }
  if (/\\(?:[pP]|u\{|[a-zA-Z](?<![dDwWsSbBtnrfvxuck]))/.test(pattern.replace(/\\\\/g, ''))) return undefined;
  try {
    return new RegExp(`^(?:${pattern})$`);
  } catch {
    return undefined;
  }
}

/** Length in Unicode code points (a surrogate pair counts once). */
function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

function stringCheck(shape: Shape): Check {
  const values = shape.enum;
  const allowed = values === undefined ? undefined : new Set(values);
  const { min, max } = shape;
  const pattern = shape.pattern;
  const re = pattern === undefined ? undefined : compilePattern(pattern);
  if (allowed === undefined && min === undefined && max === undefined && re === undefined) {
    return (v) => (typeof v === 'string' ? undefined : typeFailure('a string', v));
  }
  const lo = min ?? 0;
  const hi = max ?? Infinity;
  return (v) => {
    if (typeof v !== 'string')
      return typeFailure(values === undefined ? 'a string' : `a string, one of ${values.join(', ')}`, v);
    if (allowed !== undefined && !allowed.has(v)) {
      return new Failure((subject) => `${subject} must be one of ${(values as string[]).join(', ')}; got ${quote(v)}`);
    }
    let n = v.length;
    // UTF-16 length is an upper bound on code points and at most twice it: count only when it could matter.
    if (n > hi || (n >= lo && n < 2 * lo)) n = codePoints(v);
    if (n < lo) return new Failure((subject) => `${subject} must be at least ${lo} character(s) long`);
    if (n > hi) {
      return new Failure((subject) => `${subject} must be at most ${hi} character(s) long; it has ${n}`);
    }
    if (re !== undefined && !re.test(v)) {
      return new Failure(
        (subject) => `${subject} must match the regular expression ${pattern as string}; got ${quote(v)}`,
      );
    }
    return undefined;
  };
}

function rangeFailure(x: number, min: number | undefined, max: number | undefined): Failure | undefined {
  if (min !== undefined && x < min) return new Failure((subject) => `${subject} must be at least ${min}; got ${x}`);
  if (max !== undefined && x > max) return new Failure((subject) => `${subject} must be at most ${max}; got ${x}`);
  return undefined;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

function integerCheck(shape: Shape): Check {
  const { min, max } = shape;
  const int32 = shape.type === 'integer';
  const bounded = min !== undefined || max !== undefined;
  return (v) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) return typeFailure('an integer', v);
    if (int32 && (v < INT32_MIN || v > INT32_MAX)) {
      return typeFailure(`a 32-bit integer (${INT32_MIN} to ${INT32_MAX})`, v);
    }
    return bounded ? rangeFailure(v, min, max) : undefined;
  };
}

function floatCheck(shape: Shape): Check {
  const { min, max } = shape;
  const bounded = min !== undefined || max !== undefined;
  return (v) => {
    if (typeof v === 'number') return bounded ? rangeFailure(v, min, max) : undefined;
    // The AWS JSON protocols send non-finite floats as strings.
    if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return undefined;
    return typeFailure('a number', v);
  };
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

function timestampCheck(): Check {
  const expected = 'a timestamp (epoch seconds as a number, or an ISO 8601 string like "2024-01-31T12:00:00Z")';
  return (v) => {
    if (typeof v === 'number' && Number.isFinite(v)) return undefined;
    if (typeof v === 'string' && ISO_8601.test(v) && !Number.isNaN(Date.parse(v))) return undefined;
    return typeFailure(expected, v);
  };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

function blobCheck(shape: Shape): Check {
  const { min, max } = shape;
  const bounded = min !== undefined || max !== undefined;
  return (v) => {
    if (typeof v !== 'string' || !BASE64.test(v)) return typeFailure('a base64-encoded string', v);
    if (!bounded) return undefined;
    const padding = v.endsWith('==') ? 2 : v.endsWith('=') ? 1 : 0;
    const bytes = Math.floor(((v.length - padding) * 3) / 4);
    if (min !== undefined && bytes < min) {
      return new Failure((subject) => `${subject} must decode to at least ${min} byte(s); it has ${bytes}`);
    }
    if (max !== undefined && bytes > max) {
      return new Failure((subject) => `${subject} must decode to at most ${max} byte(s); it has ${bytes}`);
    }
    return undefined;
  };
}
