/**
 * Typed API errors. The protocol edges (api/) map them to the wire in one place:
 * Batch rest-json sends `X-Amzn-ErrorType` + `{"__type","message"}`, Logs json-1.1 sends `{"__type","message"}`.
 * Messages say what is wrong and how to fix it.
 */
export class ApiError extends Error {
  constructor(
    /** AWS error code, e.g. `ClientException`. */
    readonly code: string,
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

/** 400: the request is wrong (validation, unknown resource, illegal state). */
export class ClientException extends ApiError {
  constructor(message: string) {
    super('ClientException', 400, message);
  }
}

/** 500: our fault. Never thrown for anything a client sent. */
export class ServerException extends ApiError {
  constructor(message: string) {
    super('ServerException', 500, message);
  }
}

/** 403: authenticated but not allowed. */
export class AccessDeniedException extends ApiError {
  constructor(message: string) {
    super('AccessDeniedException', 403, message);
  }
}

/** 403 authentication failures, with the codes AWS uses. */
export const AuthErrorCode = {
  MissingAuthenticationToken: 'MissingAuthenticationToken',
  IncompleteSignature: 'IncompleteSignature',
  InvalidSignatureException: 'InvalidSignatureException',
  UnrecognizedClientException: 'UnrecognizedClientException',
  SignatureDoesNotMatch: 'SignatureDoesNotMatch',
  ThrottlingException: 'ThrottlingException',
} as const;
export type AuthErrorCode = keyof typeof AuthErrorCode;

export class AuthError extends ApiError {
  constructor(code: AuthErrorCode, message: string, statusCode = 403) {
    super(code, statusCode, message);
  }
}

/** Errors of the CloudWatch Logs API, named as its model names them. */
export class ResourceNotFoundException extends ApiError {
  constructor(message: string) {
    super('ResourceNotFoundException', 400, message);
  }
}
export class InvalidParameterException extends ApiError {
  constructor(message: string) {
    super('InvalidParameterException', 400, message);
  }
}

/**
 * A write of a leader whose lease epoch is no longer current: the store wrote nothing. The engine that gets it steps
 * down at once (another replica leads now).
 */
export class FencedError extends Error {
  constructor(
    readonly epoch: number,
    readonly current: number | undefined,
  ) {
    super(`write fenced: this replica led with epoch ${epoch}, the lease is now at epoch ${current ?? 'none'}`);
  }
}

/** 503: the store is unreachable for now; clients retry (botocore retries ServerException-like 5xx). */
export class StoreUnavailableException extends ApiError {
  constructor(message: string) {
    super('ServerException', 503, message);
  }
}
