/**
 * Server-side verification of AWS Signature Version 4 (`AWS4-HMAC-SHA256`), for both the
 * `Authorization` header form and the presigned (`X-Amz-Algorithm` query string) form.
 *
 * Nothing here hand-rolls SigV4: the canonical request, the string to sign, the signing-key
 * derivation and the HMAC are all computed by `@smithy/signature-v4`, the signer the AWS SDK v3
 * itself uses. We only parse what the client sent, rebuild the request exactly as the client saw it
 * (raw, still percent-encoded path; decoded query parameters; only the headers it signed; its
 * payload hash), let smithy sign that, and compare the signatures in constant time.
 *
 * Canonicalisation notes, checked against the AWS SDK v3 and botocore (aws CLI) in the unit tests:
 * - Path: for every service but S3, clients URI-encode the already-encoded path once more
 *   (`%3A` -> `%253A`) after removing `.`/`..`/empty segments. smithy does exactly this with its
 *   default `uriEscapePath: true` when given the raw path, so we pass the raw path.
 * - Query: parameters are form-decoded (`+` is a space, as the Go SDK sends it) and handed to smithy,
 *   which re-encodes and sorts them, repeated keys included.
 * - Headers: only those named in SignedHeaders, whatever they are (smithy's "never sign" list, e.g.
 *   `user-agent`, is overridden with `signableHeaders`). `date` and `x-amz-date` are plain signed
 *   headers here: we never let the signer add or drop headers.
 * - Payload: `x-amz-content-sha256` when sent (checked against the body unless `UNSIGNED-PAYLOAD`),
 *   otherwise the SHA-256 of the body.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { HttpRequest, type HeaderBag } from '@smithy/protocol-http';
import {
  ALGORITHM_IDENTIFIER,
  SignatureV4,
  UNSIGNED_PAYLOAD,
  createScope,
  getCanonicalHeaders,
  getSigningKey,
} from '@smithy/signature-v4';
import { AuthError } from '../../core/errors.js';

export interface IncomingSignedRequest {
  method: string;
  /** the raw request target as received, e.g. `/v1/tags/arn%3Aaws%3Abatch%3A...?tagKeys=a&tagKeys=b` (path still percent-encoded, with query string) */
  url: string;
  /** lower-case header names -> values (as node's IncomingMessage.headers gives them; array values possible) */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface VerifiedIdentity {
  accessKeyId: string;
  region: string;
  service: string;
}

/** Looks up the secret for an access key id; undefined when the key is unknown or disabled. May be sync or async. */
export type SecretLookup = (accessKeyId: string) => string | undefined | Promise<string | undefined>;

export interface VerifyOptions {
  /** Allowed signing service names, e.g. `['batch', 'logs']`. Any region is accepted. */
  services: readonly string[];
  /** How far the request time may be from now, either way. Default 15 minutes, as AWS. */
  maxSkewMs?: number;
  /** Clock, in epoch milliseconds. Default `Date.now`. */
  now?: () => number;
}

const DEFAULT_MAX_SKEW_MS = 15 * 60 * 1000;
/** SigV4 presigned URLs live at most 7 days. */
const MAX_PRESIGN_EXPIRES_S = 7 * 24 * 60 * 60;
const SIGNER_CACHE_MAX = 1000;
const SIGNING_KEYS_PER_SIGNER = 8;
const TERMINATOR = 'aws4_request';
const CONTENT_SHA256_HEADER = 'x-amz-content-sha256';
const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.';

const SHA256 = Hash.bind(null, 'sha256');

/**
 * A SignatureV4 bound to one (access key, secret, region, service), able to sign a canonical request
 * we assemble from what the client sent. `applyChecksum: false`: it must never add headers.
 */
class VerifyingSigner extends SignatureV4 {
  /**
   * Signing keys by scope date, derived by smithy's getSigningKey. smithy's own sign() re-derives a cache key with
   * an extra HMAC, resolves credential and region providers and formats the date on every call: a third of the
   * verification's cost. Here the key is looked up by date and the signature is the same HMAC-SHA256 (smithy's Hash)
   * of the string to sign that sign() computes.
   */
  private readonly keys = new Map<string, Promise<Uint8Array>>();

  constructor(
    private readonly accessKeyId: string,
    private readonly secretAccessKey: string,
    private readonly region: string,
    service: string,
  ) {
    super({
      service,
      region,
      credentials: { accessKeyId, secretAccessKey },
      sha256: SHA256,
      applyChecksum: false,
      uriEscapePath: true,
    });
  }

  /** The hex signature of `request` with exactly `canonicalHeaders` and `payloadHash`, at `longDate`. */
  async signatureFor(
    request: HttpRequest,
    canonicalHeaders: HeaderBag,
    payloadHash: string,
    longDate: string,
    scope: string,
  ): Promise<string> {
    const canonicalRequest = this.createCanonicalRequest(request, canonicalHeaders, payloadHash);
    const stringToSign = await this.createStringToSign(longDate, scope, canonicalRequest, ALGORITHM_IDENTIFIER);
    const hmac = new SHA256(await this.signingKey(longDate.slice(0, 8)));
    hmac.update(Buffer.from(stringToSign, 'utf8'));
    return Buffer.from(await hmac.digest()).toString('hex');
  }

  private signingKey(shortDate: string): Promise<Uint8Array> {
    let key = this.keys.get(shortDate);
    if (!key) {
      // Requests are at most 15 minutes off (presigned ones up to 7 days old): a few dates at a time.
      if (this.keys.size >= SIGNING_KEYS_PER_SIGNER) this.keys.delete(this.keys.keys().next().value!);
      key = getSigningKey(
        SHA256,
        { accessKeyId: this.accessKeyId, secretAccessKey: this.secretAccessKey },
        shortDate,
        this.region,
        this.service,
      );
      this.keys.set(shortDate, key);
    }
    return key;
  }
}

/**
 * Signers by (access key, secret, region, service), least recently used first, so that smithy's own
 * signing-key cache is hit and nothing is rebuilt per request. A changed secret is a new entry.
 */
const signers = new Map<string, VerifyingSigner>();

function signerFor(accessKeyId: string, secret: string, region: string, service: string): VerifyingSigner {
  // Newlines cannot occur in any of the four (header values and scopes are single-line), so the key is unambiguous.
  const key = `${accessKeyId}\n${secret}\n${region}\n${service}`;
  let signer = signers.get(key);
  if (signer) {
    if (signer === lastSigner) return signer; // already the most recently used
    signers.delete(key);
  } else {
    signer = new VerifyingSigner(accessKeyId, secret, region, service);
    while (signers.size >= SIGNER_CACHE_MAX) {
      const oldest = signers.keys().next();
      if (oldest.done) break;
      signers.delete(oldest.value);
    }
  }
  signers.set(key, signer);
  lastSigner = signer;
  return signer;
}
let lastSigner: VerifyingSigner | undefined;

/** What the client claims, from either the Authorization header or the presign query parameters. */
interface SignatureClaim {
  credential: string;
  signedHeaders: string;
  signature: string;
  /** The request time as sent (x-amz-date, Date, or X-Amz-Date). */
  dateText: string;
  /** Where the time came from, for messages. */
  dateSource: 'x-amz-date' | 'date' | 'X-Amz-Date';
  /** Presigned only: X-Amz-Expires, seconds. */
  expiresS?: number;
}

/**
 * Verifies a SigV4-signed request and returns who signed it.
 * Throws `AuthError` (403) with AWS's codes: MissingAuthenticationToken, IncompleteSignature,
 * InvalidSignatureException, UnrecognizedClientException. Errors of `lookup` propagate as they are.
 */
export async function verifySigV4(
  req: IncomingSignedRequest,
  lookup: SecretLookup,
  opts: VerifyOptions,
): Promise<VerifiedIdentity> {
  const { path, rawQuery } = splitTarget(req.url);
  const query = parseQuery(rawQuery);
  const authorization = headerValue(req.headers, 'authorization');

  let claim: SignatureClaim;
  if (authorization !== undefined) {
    claim = claimFromHeader(authorization, req.headers);
  } else if (query['X-Amz-Algorithm'] !== undefined) {
    claim = claimFromQuery(query);
  } else {
    throw new AuthError('MissingAuthenticationToken', 'Missing Authentication Token');
  }

  // Credential = AKID/YYYYMMDD/region/service/aws4_request
  const scopeParts = claim.credential.split('/');
  if (scopeParts.length !== 5) {
    throw new AuthError(
      'IncompleteSignature',
      `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${claim.credential}'.`,
    );
  }
  const [accessKeyId, scopeDate, region, service, terminator] = scopeParts as [string, string, string, string, string];
  if (terminator !== TERMINATOR) {
    throw new AuthError(
      'IncompleteSignature',
      `Credential should be scoped with a valid terminator: '${TERMINATOR}', not '${terminator}'.`,
    );
  }
  if (region === '') {
    throw new AuthError('IncompleteSignature', "Credential should be scoped to a valid region, not ''.");
  }
  if (accessKeyId === '') {
    throw new AuthError(
      'IncompleteSignature',
      'Credential should name an access key id, e.g. AKID/date/region/service/aws4_request.',
    );
  }

  const signingTime = parseRequestTime(claim);
  // x-amz-date / X-Amz-Date was checked to be exactly compactIso(signingTime); only the Date header needs formatting.
  const longDate = claim.dateSource === 'date' ? compactIso(signingTime) : claim.dateText;
  if (scopeDate !== longDate.slice(0, 8)) {
    throw new AuthError(
      'InvalidSignatureException',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${longDate.slice(0, 8)}', from '${longDate}'.`,
    );
  }

  const signedHeaderNames = claim.signedHeaders.split(';').map((name) => name.trim().toLowerCase());
  if (signedHeaderNames.some((name) => name === '')) {
    throw new AuthError('IncompleteSignature', `SignedHeaders is malformed: '${claim.signedHeaders}'.`);
  }
  if (!signedHeaderNames.includes('host')) {
    throw new AuthError(
      'InvalidSignatureException',
      "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    );
  }

  if (!opts.services.includes(service)) {
    const accepted =
      opts.services.length === 1
        ? `'${opts.services[0]}'`
        : `one of ${opts.services.map((name) => `'${name}'`).join(', ')}`;
    throw new AuthError(
      'InvalidSignatureException',
      `Credential should be scoped to correct service: ${accepted}, not '${service}'.`,
    );
  }

  const secret = await lookup(accessKeyId);
  if (secret === undefined) {
    throw new AuthError('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }

  checkTime(claim, signingTime, longDate, opts);

  // The headers exactly as signed: nothing more, nothing less.
  const signedHeaders: HeaderBag = Object.create(null) as HeaderBag;
  for (const name of signedHeaderNames) {
    const value = headerValue(req.headers, name);
    if (value === undefined) {
      throw new AuthError(
        'InvalidSignatureException',
        `Header '${name}' is listed in SignedHeaders but is not present in the request.`,
      );
    }
    signedHeaders[name] = value;
  }

  const payloadHash = await payloadHashFor(req, claim.expiresS !== undefined ? query : undefined);

  const httpRequest = new HttpRequest({
    method: req.method,
    hostname: headerValue(req.headers, 'host') ?? 'localhost',
    path,
    query,
    headers: signedHeaders,
  });
  const canonicalHeaders = getCanonicalHeaders(httpRequest, undefined, new Set(signedHeaderNames));
  const signer = signerFor(accessKeyId, secret, region, service);
  const expected = await signer.signatureFor(
    httpRequest,
    canonicalHeaders,
    payloadHash,
    longDate,
    createScope(scopeDate, region, service),
  );

  const provided = Buffer.from(claim.signature, 'utf8');
  const computed = Buffer.from(expected, 'utf8');
  if (provided.length !== computed.length || !timingSafeEqual(provided, computed)) {
    throw new AuthError('InvalidSignatureException', SIGNATURE_MISMATCH);
  }
  return { accessKeyId, region, service };
}

/** `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=hex` */
function claimFromHeader(authorization: string, headers: IncomingSignedRequest['headers']): SignatureClaim {
  const trimmed = authorization.trim();
  const space = trimmed.search(/\s/);
  const algorithm = space < 0 ? trimmed : trimmed.slice(0, space);
  if (algorithm !== ALGORITHM_IDENTIFIER) {
    throw new AuthError(
      'IncompleteSignature',
      `Unsupported authorization type '${algorithm}': only AWS Signature Version 4 is accepted ` +
        `('${ALGORITHM_IDENTIFIER} Credential=..., SignedHeaders=..., Signature=...'). Authorization=${authorization}`,
    );
  }
  const params = new Map<string, string>();
  for (const part of (space < 0 ? '' : trimmed.slice(space + 1)).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) params.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = params.get('Credential');
  const signature = params.get('Signature');
  const signedHeaders = params.get('SignedHeaders');
  const amzDate = headerValue(headers, 'x-amz-date');
  const date = headerValue(headers, 'date');

  const missing: string[] = [];
  if (!credential) missing.push("Authorization header requires 'Credential' parameter.");
  if (!signature) missing.push("Authorization header requires 'Signature' parameter.");
  if (!signedHeaders) missing.push("Authorization header requires 'SignedHeaders' parameter.");
  if (amzDate === undefined && date === undefined) {
    missing.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  if (!credential || !signature || !signedHeaders || missing.length > 0) {
    throw new AuthError('IncompleteSignature', `${missing.join(' ')} Authorization=${authorization}`);
  }
  return amzDate !== undefined
    ? { credential, signature, signedHeaders, dateText: amzDate, dateSource: 'x-amz-date' }
    : { credential, signature, signedHeaders, dateText: date ?? '', dateSource: 'date' };
}

/** Presigned: `?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=...&X-Amz-Date=...&X-Amz-Expires=...&X-Amz-SignedHeaders=...&X-Amz-Signature=...` */
function claimFromQuery(query: Record<string, string | string[]>): SignatureClaim {
  const single = (name: string): string | undefined => {
    const value = query[name];
    return Array.isArray(value) ? undefined : value;
  };
  const algorithm = single('X-Amz-Algorithm');
  if (algorithm !== ALGORITHM_IDENTIFIER) {
    throw new AuthError(
      'IncompleteSignature',
      `X-Amz-Algorithm only supports '${ALGORITHM_IDENTIFIER}', got '${String(query['X-Amz-Algorithm'])}'.`,
    );
  }
  const credential = single('X-Amz-Credential');
  const signature = single('X-Amz-Signature');
  const signedHeaders = single('X-Amz-SignedHeaders');
  const dateText = single('X-Amz-Date');
  const expires = single('X-Amz-Expires');
  const missing = (
    [
      ['X-Amz-Credential', credential],
      ['X-Amz-Signature', signature],
      ['X-Amz-SignedHeaders', signedHeaders],
      ['X-Amz-Date', dateText],
      ['X-Amz-Expires', expires],
    ] as const
  )
    .filter(([, value]) => !value)
    .map(([name]) => `AWS query-string parameters must include '${name}'.`);
  if (!credential || !signature || !signedHeaders || !dateText || !expires) {
    throw new AuthError('IncompleteSignature', `${missing.join(' ')} Re-examine the query-string parameters.`);
  }
  const expiresS = /^\d{1,7}$/.test(expires) ? Number(expires) : NaN;
  if (!(expiresS >= 1 && expiresS <= MAX_PRESIGN_EXPIRES_S)) {
    throw new AuthError(
      'IncompleteSignature',
      `X-Amz-Expires must be a whole number of seconds from 1 to ${MAX_PRESIGN_EXPIRES_S} (7 days), got '${expires}'.`,
    );
  }
  return { credential, signature, signedHeaders, dateText, dateSource: 'X-Amz-Date', expiresS };
}

const ISO_BASIC_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** The last x-amz-date parsed and its time: concurrent requests mostly carry the same second. */
let lastAmzDate = { text: '', ms: 0 };

/** The signing time in epoch ms (whole seconds). */
function parseRequestTime(claim: SignatureClaim): number {
  if (claim.dateSource !== 'date' && claim.dateText === lastAmzDate.text) return lastAmzDate.ms;
  if (claim.dateSource === 'date') {
    const ms = Date.parse(claim.dateText);
    if (Number.isNaN(ms)) {
      throw new AuthError(
        'IncompleteSignature',
        `The Date header must be an HTTP date, e.g. 'Mon, 01 Jan 2024 00:00:00 GMT' (or send X-Amz-Date), got '${claim.dateText}'.`,
      );
    }
    return Math.floor(ms / 1000) * 1000;
  }
  const m = ISO_BASIC_RE.exec(claim.dateText);
  const ms = m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : NaN;
  if (Number.isNaN(ms) || compactIso(ms) !== claim.dateText) {
    throw new AuthError(
      'IncompleteSignature',
      `Date must be in ISO-8601 'basic format'. Got '${claim.dateText}'. See http://en.wikipedia.org/wiki/ISO_8601`,
    );
  }
  lastAmzDate = { text: claim.dateText, ms };
  return ms;
}

function checkTime(claim: SignatureClaim, signingTime: number, longDate: string, opts: VerifyOptions): void {
  const now = (opts.now ?? Date.now)();
  const maxSkewMs = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const skew = maxSkewMs % 60_000 === 0 ? `${maxSkewMs / 60_000} min.` : `${maxSkewMs / 1000} sec.`;
  if (claim.expiresS !== undefined) {
    const lifetimeMs = claim.expiresS * 1000;
    if (signingTime < now - lifetimeMs) {
      throw new AuthError(
        'InvalidSignatureException',
        `Signature expired: ${longDate} is now earlier than ${compactIso(now - lifetimeMs)} (${compactIso(now)} - ${claim.expiresS} sec.)`,
      );
    }
  } else if (signingTime < now - maxSkewMs) {
    throw new AuthError(
      'InvalidSignatureException',
      `Signature expired: ${longDate} is now earlier than ${compactIso(now - maxSkewMs)} (${compactIso(now)} - ${skew})`,
    );
  }
  if (signingTime > now + maxSkewMs) {
    throw new AuthError(
      'InvalidSignatureException',
      `Signature not yet current: ${longDate} is still later than ${compactIso(now + maxSkewMs)} (${compactIso(now)} + ${skew})`,
    );
  }
}

/**
 * The payload hash of the canonical request: the x-amz-content-sha256 header (or, presigned, the
 * X-Amz-Content-Sha256 parameter) as sent, after checking it against the body; else the body's SHA-256.
 */
async function payloadHashFor(
  req: IncomingSignedRequest,
  presignQuery: Record<string, string | string[]> | undefined,
): Promise<string> {
  let sent = headerValue(req.headers, CONTENT_SHA256_HEADER);
  if (sent === undefined && presignQuery) {
    const fromQuery = presignQuery['X-Amz-Content-Sha256'];
    if (typeof fromQuery === 'string') sent = fromQuery;
  }
  // The hex SHA-256 of the body, as smithy's getPayloadHash computes it for a Buffer body, without its wrappers.
  const bodyHash = (): string => createHash('sha256').update(req.body).digest('hex');
  if (sent === undefined) return bodyHash();
  if (sent === UNSIGNED_PAYLOAD) return sent;
  if (!/^[0-9a-fA-F]{64}$/.test(sent)) {
    throw new AuthError(
      'InvalidSignatureException',
      `x-amz-content-sha256 must be the hex SHA-256 of the body or '${UNSIGNED_PAYLOAD}', got '${sent}' (chunked/streaming payloads are not supported).`,
    );
  }
  if (sent.toLowerCase() !== bodyHash()) {
    throw new AuthError(
      'InvalidSignatureException',
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
  }
  return sent;
}

/** Splits a raw request target (origin-form, or absolute-form from a proxy) into raw path and raw query. */
function splitTarget(url: string): { path: string; rawQuery: string } {
  let target = url;
  if (!target.startsWith('/')) {
    const authority = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(target);
    if (authority) target = target.slice(authority[0].length);
  }
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  return { path: path === '' ? '/' : path, rawQuery: q < 0 ? '' : target.slice(q + 1) };
}

/** Form-decodes a raw query string; repeated keys become arrays (smithy sorts their values). */
function parseQuery(rawQuery: string): Record<string, string | string[]> {
  const query = Object.create(null) as Record<string, string | string[]>;
  if (rawQuery === '') return query;
  for (const [key, value] of new URLSearchParams(rawQuery)) {
    const previous = query[key];
    if (previous === undefined) query[key] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else query[key] = [previous, value];
  }
  return query;
}

/** A header's value; repeated headers (array values) are joined with ',' as SigV4 canonicalises them. */
function headerValue(headers: IncomingSignedRequest['headers'], name: string): string | undefined {
  const value = Object.hasOwn(headers, name) ? headers[name] : undefined;
  if (Array.isArray(value)) return value.join(',');
  return typeof value === 'string' ? value : undefined;
}

/** `20240101T000000Z` */
function compactIso(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}
