/**
 * The one error edge. Whoever refuses a request — an operation, the SigV4 check, the router, the body parser, a size
 * limit, a timeout, or Node's HTTP parser before fastify sees anything — the client gets an AWS error: the right
 * status, `X-Amzn-ErrorType`, `{"__type","message"}` (rest-json for Batch, json-1.1 for Logs) and an
 * `x-amzn-RequestId` header, which botocore and the SDKs read into the response metadata.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply } from 'fastify';
import { ApiError, ClientException, ServerException } from '../core/errors.js';

/** Batch speaks rest-json (`/v1/...`); CloudWatch Logs speaks json-1.1 (`POST /` with `X-Amz-Target`). */
export type WireProtocol = 'rest-json' | 'json-1.1';

export const REQUEST_ID_HEADER = 'x-amzn-RequestId';

export function newRequestId(): string {
  return randomUUID();
}

/** Which protocol a request speaks, from what can be seen before routing. */
export function protocolOf(url: string | undefined, headers: Record<string, unknown>): WireProtocol {
  if (headers['x-amz-target'] !== undefined) return 'json-1.1';
  const path = (url ?? '/').split('?')[0];
  return path === '/' ? 'json-1.1' : 'rest-json';
}

/** An error with SQLite's or the OS's "no space left": the data directory is full. */
export function isStorageFull(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  if (!e) return false;
  if (e.code === 'SQLITE_FULL' || e.code === 'ENOSPC') return true;
  return typeof e.message === 'string' && /database or disk is full|SQLITE_FULL|ENOSPC|no space left/i.test(e.message);
}

/** The data directory is full: nothing was changed, the client may retry once the admin frees space. */
export class StorageFullError extends ApiError {
  constructor() {
    super(
      'ServerException',
      503,
      "the server's data directory is full (no space left on its disk): nothing was changed by this request. " +
        'Retry later; the administrator must free space on the data directory (see docs/operations.md, "Disk full")',
    );
  }
}

/** What the framework's own errors (fastify's FST_ERR_* with a statusCode) become. */
function frameworkError(status: number, text: string, code: string | undefined): ApiError {
  // Framework messages quote the path, which may be kilobytes long.
  const message = text.length > 300 ? `${text.slice(0, 300)}...` : text;
  switch (status) {
    case 404:
      return new ApiError('UnknownOperationException', 404, message);
    case 408:
      return new ApiError(
        'RequestTimeoutException',
        408,
        'the request was not received in time (the server closes requests whose headers and body take too long); retry',
      );
    case 413:
      return new ApiError(
        'RequestEntityTooLargeException',
        413,
        `the request body is larger than the server accepts (${message}); AWS Batch and CloudWatch Logs requests are at most a few hundred KiB`,
      );
    case 414:
      return new ApiError(
        'RequestUriTooLongException',
        414,
        `the request path is too long (${message}); resource ARNs in a path are at most 2,048 characters`,
      );
    case 415:
      return new ClientException(
        `unsupported content type (${message}); send application/json (Batch) or application/x-amz-json-1.1 (Logs)`,
      );
    default:
      return new ClientException(`the request could not be read: ${message}${code ? ` (${code})` : ''}`);
  }
}

/** Any thrown value as the AWS error to send. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (isStorageFull(err)) return new StorageFullError();
  const e = err as { statusCode?: unknown; message?: unknown; code?: unknown };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500)
    return frameworkError(e.statusCode, String(e.message), typeof e.code === 'string' ? e.code : undefined);
  return new ServerException('the server failed to handle this request; it was logged and nothing was changed by it');
}

/** Logs' model has no ClientException/ServerException: the json-1.1 edge names them as Logs does. */
function codeFor(e: ApiError, protocol: WireProtocol): string {
  if (protocol === 'rest-json') return e.code;
  if (e.code === 'ClientException') return 'InvalidParameterException';
  if (e.code === 'ServerException') return 'ServiceUnavailableException';
  return e.code;
}

/** The status, headers and body of an AWS error. */
export function errorResponse(
  e: ApiError,
  protocol: WireProtocol,
): { status: number; headers: Record<string, string>; body: string } {
  const code = codeFor(e, protocol);
  const headers: Record<string, string> = {
    'x-amzn-errortype': code,
    'content-type': protocol === 'json-1.1' ? 'application/x-amz-json-1.1' : 'application/json',
  };
  if (e.statusCode === 429 || e.statusCode === 503) headers['retry-after'] = '1';
  const type = protocol === 'json-1.1' ? `com.amazonaws.logs#${code}` : code;
  return { status: e.statusCode, headers, body: JSON.stringify({ __type: type, message: e.message }) };
}

/** Sends `err` as an AWS error on a fastify reply (x-amzn-RequestId included). */
export function sendAwsError(reply: FastifyReply, err: unknown, protocol: WireProtocol): FastifyReply {
  const e = toApiError(err);
  if (e.statusCode >= 500 && !(err instanceof ApiError) && !(e instanceof StorageFullError))
    // The answer says the failure was logged: fastify's logger is off unless asked for, so write it to stderr.
    console.error(
      `openbatch: unhandled error answering ${reply.request.method} ${reply.request.url.slice(0, 200)} (request ${String(reply.request.id)}):`,
      err,
    );
  const r = errorResponse(e, protocol);
  return reply.code(r.status).headers(r.headers).header(REQUEST_ID_HEADER, String(reply.request.id)).send(r.body);
}

/** Writes a whole AWS error response straight onto a socket and closes it (for answers given before fastify runs). */
export function writeRawAwsError(socket: Socket, e: ApiError, protocol: WireProtocol): void {
  if (socket.destroyed || !socket.writable) return;
  const r = errorResponse(e, protocol);
  const head = [
    `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? 'Error'}`,
    ...Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`),
    `${REQUEST_ID_HEADER}: ${newRequestId()}`,
    `content-length: ${Buffer.byteLength(r.body)}`,
    'connection: close',
  ].join('\r\n');
  socket.end(`${head}\r\n\r\n${r.body}`);
}

/**
 * Node's `clientError`: the HTTP parser refused the bytes (headers too large, malformed request line, unknown
 * method, a timeout) before any request object existed. Answers in AWS's shape instead of a bare status line.
 */
export function onClientError(maxHeaderBytes: number) {
  return (error: Error, socket: Socket): void => {
    const err = error as NodeJS.ErrnoException & { rawPacket?: unknown };
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket.toString('latin1') : '';
    const protocol: WireProtocol = /\r\nx-amz-target:/i.test(raw) || /^POST \/ /.test(raw) ? 'json-1.1' : 'rest-json';
    let e: ApiError;
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') e = frameworkError(408, 'timeout', undefined);
    else if (err.code === 'HPE_HEADER_OVERFLOW')
      // A request line that is most of the limit is a URL that is too long; otherwise the headers are.
      e =
        (raw.includes('\r\n') ? raw.indexOf('\r\n') : raw.length) > maxHeaderBytes / 2
          ? frameworkError(414, `the request line is over ${maxHeaderBytes} bytes`, undefined)
          : new ApiError(
              'RequestHeaderFieldsTooLargeException',
              431,
              `the request's headers are larger than ${maxHeaderBytes} bytes; send fewer or shorter headers`,
            );
    else if (err.code === 'HPE_INVALID_METHOD' && /^[A-Z-]+ \//.test(raw))
      e = new ApiError(
        'UnknownOperationException',
        405,
        'unknown HTTP method: the Batch API uses POST (GET and DELETE for tags), the Logs API POST',
      );
    else
      e = new ClientException(
        `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'}: ${err.message}); check the client or the proxy in front of openbatch`,
      );
    writeRawAwsError(socket, e, protocol);
  };
}
