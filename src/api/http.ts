/**
 * The HTTP edge: one fastify app serving the Batch API (`/v1/...`, rest-json), the JSON-1.1 APIs (`POST /` with
 * `X-Amz-Target`: CloudWatch Logs, SSM Parameter Store, Secrets Manager), the admin API and `/healthz`. Every API request is SigV4-verified first;
 * every error is mapped to the wire here, in one place.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ApiError, AuthError, ClientException } from '../core/errors.js';
import { verifySigV4 } from './auth/sigv4.js';
import { normalizeLenientInput } from './batch/lenient-input.js';
import { DEFAULT_EDGE_LIMITS, enforceEdgeLimits, type EdgeLimits } from './edge-limits.js';
import { REQUEST_ID_HEADER, newRequestId, onClientError, protocolOf, sendAwsError } from './error-edge.js';
import { BATCH_OPERATIONS, BATCH_ROUTES, type BatchServices } from './batch/operations.js';
import { loadServiceModel, validateInput, type ServiceModel } from './model-validator.js';
import type { Caller } from '../core/caller.js';

/** Resolves an access key to its secret and to who is calling; undefined for unknown or disabled keys. */
export interface IdentityResolver {
  lookup(accessKeyId: string): { secret: string; caller: Caller } | undefined;
  /** As lookup, for a key not known here yet: looks in the shared store (another replica may have just made it). */
  lookupFresh?(accessKeyId: string): Promise<{ secret: string; caller: Caller } | undefined>;
}

/** A JSON-1.1 API mounted at `POST /` (CloudWatch Logs): target prefix and operation handlers. */
export interface JsonTargetApi {
  targetPrefix: string;
  service: string;
  model: ServiceModel;
  operations: Record<string, (caller: Caller, input: Record<string, any>) => Promise<unknown> | unknown>;
  /** The error code of input the model refuses (default InvalidParameterException, as CloudWatch Logs sends). */
  validationCode?: string;
}

export interface HttpOptions {
  services: BatchServices;
  identities: IdentityResolver;
  jsonApis?: JsonTargetApi[];
  health: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Extra routes (admin API, dashboard) registered by the composition root. */
  plugins?: ((app: FastifyInstance, verify: (req: FastifyRequest, service: string) => Promise<Caller>) => void)[];
  logger?: boolean;
  /** Run as each request arrives, before its hooks: work finished elsewhere that waits to be answered (a commit). */
  betweenRequests?: () => void;
  /** Header, body, time, connection and in-flight bounds (DEFAULT_EDGE_LIMITS where unset). */
  limits?: Partial<EdgeLimits>;
  /** PEM certificate chain and key: serve HTTPS instead of HTTP. */
  tls?: { cert: Buffer; key: Buffer };
  /**
   * Told of every failed authentication (after the signature was checked); may answer a ThrottlingException to send
   * instead when this address or key fails too often. Never consulted for a request that verifies.
   */
  onAuthFailure?: (f: { source: string; accessKeyId: string | undefined; error: AuthError }) => AuthError | undefined;
  /** Told of every Batch or Logs API request answered: its operation, time and AWS error code (none on success). */
  onApiResponse?: (e: { operation: string; seconds: number; errorCode: string | undefined }) => void;
  /** Told of every verified call of a JSON API (Logs, SSM, Secrets Manager) and its outcome: the audit log. */
  onJsonCall?: (e: {
    caller: Caller;
    service: string;
    operation: string;
    input: Record<string, any>;
    source: string;
    outcome: string;
  }) => void;
  /** Told of every verified Batch call and its outcome (`OK` or the error code): the audit log. */
  onBatchCall?: (e: {
    caller: Caller;
    operation: string;
    input: Record<string, any>;
    source: string;
    outcome: string;
  }) => void;
}

const BATCH_MODEL = loadServiceModel('batch');
// AWS documents `evaluateOnExit[].action` as case-insensitive (retry/RETRY); the service checks it itself.
delete BATCH_MODEL.shapes.RetryAction?.enum;

function sendError(reply: FastifyReply, err: unknown, jsonProtocol: boolean): FastifyReply {
  return sendAwsError(reply, err, jsonProtocol ? 'json-1.1' : 'rest-json');
}

function parseJsonBody(body: Buffer | undefined): Record<string, any> {
  if (!body || body.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new ClientException(`the request body is not valid JSON (${(err as Error).message}); send a JSON object`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new ClientException('the request body must be a JSON object');
  return v as Record<string, any>;
}

/** The API operation a request was for (`SubmitJob`, `GetLogEvents`, `unknown`), or undefined for other pages. */
function apiOperationOf(req: FastifyRequest, jsonApis: readonly JsonTargetApi[]): string | undefined {
  const path = (req.raw.url ?? req.url).split('?')[0]!;
  if (path.startsWith('/v1/tags/'))
    return req.method === 'GET' ? 'ListTagsForResource' : req.method === 'DELETE' ? 'UntagResource' : 'TagResource';
  if (path.startsWith('/v1/')) return BATCH_ROUTES.get(path.slice(4).toLowerCase()) ?? 'unknown';
  if (path === '/' && req.method === 'POST') {
    const target = String(req.headers['x-amz-target'] ?? '');
    const dot = target.lastIndexOf('.');
    const api = jsonApis.find((a) => a.targetPrefix === target.slice(0, dot));
    const op = target.slice(dot + 1);
    return api && Object.hasOwn(api.operations, op) ? op : 'unknown';
  }
  return undefined;
}

export function buildHttpServer(opts: HttpOptions): FastifyInstance {
  const limits: EdgeLimits = { ...DEFAULT_EDGE_LIMITS, ...opts.limits };
  const serverOptions = {
    maxHeaderSize: limits.maxHeaderBytes,
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: Math.min(limits.requestTimeoutMs, 60_000),
    // How often Node looks for requests past their time (default 30 s, far coarser than short timeouts).
    connectionsCheckingInterval: Math.min(30_000, Math.max(250, limits.requestTimeoutMs / 4)),
  };
  const app = Fastify({
    logger: opts.logger ? { level: 'warn' } : false,
    bodyLimit: limits.maxBodyBytes,
    requestTimeout: limits.requestTimeoutMs,
    // Tag ARNs travel in the path; AWS allows ARNs of up to 2,048 characters (percent-encoding triples some).
    routerOptions: { caseSensitive: false, maxParamLength: 8192 },
    return503OnClosing: true,
    genReqId: () => newRequestId(),
    clientErrorHandler: onClientError(limits.maxHeaderBytes),
    frameworkErrors: (err, req, reply) => {
      void sendAwsError(reply, err, protocolOf(req.raw.url, req.headers));
    },
    ...(opts.tls ? { https: { ...serverOptions, cert: opts.tls.cert, key: opts.tls.key } } : { http: serverOptions }),
  }) as unknown as FastifyInstance;
  const betweenRequests = opts.betweenRequests;
  app.addHook('onRequest', async (req, reply) => {
    betweenRequests?.();
    reply.header(REQUEST_ID_HEADER, String(req.id));
  });
  enforceEdgeLimits(app, limits);
  const onApiResponse = opts.onApiResponse;
  if (onApiResponse)
    app.addHook('onResponse', async (req, reply) => {
      const operation = apiOperationOf(req, opts.jsonApis ?? []);
      if (operation === undefined) return;
      const type = reply.getHeader('x-amzn-errortype');
      onApiResponse({
        operation,
        seconds: reply.elapsedTime / 1000,
        errorCode: type === undefined ? undefined : String(type).split(':')[0],
      });
    });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const verify = async (req: FastifyRequest, service: string | readonly string[]): Promise<Caller> => {
    let caller: Caller | undefined;
    let claimedKey: string | undefined;
    try {
      await verifySigV4(
        {
          method: req.method,
          url: req.raw.url ?? req.url,
          headers: req.headers,
          body: (req.body as Buffer | undefined) ?? Buffer.alloc(0),
        },
        async (akid) => {
          claimedKey = akid;
          const id = opts.identities.lookup(akid) ?? (await opts.identities.lookupFresh?.(akid));
          caller = id?.caller;
          return id?.secret;
        },
        { services: typeof service === 'string' ? [service] : [...service] },
      );
    } catch (err) {
      // Only failures are limited: a signature that verifies is never refused, whoever failed before it.
      if (err instanceof AuthError)
        throw opts.onAuthFailure?.({ source: req.ip, accessKeyId: claimedKey, error: err }) ?? err;
      throw err;
    }
    return caller!;
  };

  app.get('/healthz', async (_req, reply) => reply.code(200).send(await opts.health()));

  const handleBatch = async (
    req: FastifyRequest,
    reply: FastifyReply,
    opName: string,
    extra: Record<string, unknown>,
  ) => {
    let caller: Caller | undefined;
    let input: Record<string, any> = extra;
    const audit = (outcome: string) =>
      caller && opts.onBatchCall?.({ caller, operation: opName, input, source: req.ip, outcome });
    try {
      caller = await verify(req, 'batch');
      const body = req.body as Buffer | undefined;
      input = { ...parseJsonBody(body), ...extra };
      normalizeLenientInput(opName, input);
      validateInput(BATCH_MODEL, opName, input, (m) => new ClientException(m));
      const out = await BATCH_OPERATIONS[opName]!(opts.services, { caller, bodyBytes: body?.length ?? 0 }, input);
      audit('OK');
      return reply
        .code(200)
        .header('content-type', 'application/json')
        .send(JSON.stringify(out ?? {}));
    } catch (err) {
      audit(err instanceof ApiError ? err.code : 'ServerException');
      return sendError(reply, err, false);
    }
  };

  app.post('/v1/:op', async (req, reply) => {
    const raw = (req.params as { op: string }).op;
    const opName = BATCH_ROUTES.get(raw.toLowerCase());
    if (!opName) {
      try {
        await verify(req, 'batch');
      } catch (err) {
        return sendError(reply, err, false);
      }
      const inModel = Object.keys(BATCH_MODEL.operations).find((o) => o.toLowerCase() === raw.toLowerCase());
      return sendError(
        reply,
        new ClientException(
          inModel
            ? `${inModel} is an AWS Batch operation that openbatch does not support; see the README for the supported operations`
            : `unknown operation ${JSON.stringify(raw)}: AWS Batch operations are POST /v1/<operation in lower case>, e.g. /v1/submitjob`,
        ),
        false,
      );
    }
    return handleBatch(req, reply, opName, {});
  });

  const tagArn = (req: FastifyRequest) => (req.params as { arn: string }).arn;
  app.get('/v1/tags/:arn', (req, reply) =>
    handleBatch(req, reply, 'ListTagsForResource', { resourceArn: tagArn(req) }),
  );
  app.post('/v1/tags/:arn', (req, reply) => handleBatch(req, reply, 'TagResource', { resourceArn: tagArn(req) }));
  app.delete('/v1/tags/:arn', (req, reply) => {
    const q = (req.query as { tagKeys?: string | string[] }).tagKeys;
    const tagKeys = q === undefined ? [] : Array.isArray(q) ? q : [q];
    return handleBatch(req, reply, 'UntagResource', { resourceArn: tagArn(req), tagKeys });
  });

  const jsonApis = opts.jsonApis ?? [];
  app.post('/', async (req, reply) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const dot = target.lastIndexOf('.');
    const api = jsonApis.find((a) => a.targetPrefix === target.slice(0, dot));
    let caller: Caller | undefined;
    let input: Record<string, any> = {};
    const told = (outcome: string) =>
      caller &&
      api &&
      opts.onJsonCall?.({
        caller,
        service: api.service,
        operation: target.slice(dot + 1),
        input,
        source: req.ip,
        outcome,
      });
    try {
      if (!api) {
        // Signed for any of the JSON services (the caller may expect one this server does not serve).
        await verify(req, ['logs', ...jsonApis.map((a) => a.service)]);
        throw new ClientException(
          `unknown X-Amz-Target ${JSON.stringify(target)}: the JSON APIs here are ${jsonApis.map((a) => `${a.targetPrefix}.<Operation>`).join(', ') || 'none'}; the Batch API lives under /v1/`,
        );
      }
      caller = await verify(req, api.service);
      const op = target.slice(dot + 1);
      const handler = Object.hasOwn(api.operations, op) ? api.operations[op] : undefined;
      if (!handler)
        throw new ApiError(
          'UnknownOperationException',
          400,
          `${op} is not an operation openbatch's ${api.service} API supports`,
        );
      input = parseJsonBody(req.body as Buffer | undefined);
      validateInput(
        api.model,
        op,
        input,
        (m) => new ApiError(api.validationCode ?? 'InvalidParameterException', 400, m),
      );
      const out = await handler(caller, input);
      told('OK');
      return reply
        .code(200)
        .header('content-type', 'application/x-amz-json-1.1')
        .send(JSON.stringify(out ?? {}));
    } catch (err) {
      told(err instanceof ApiError ? err.code : 'ServerException');
      return sendError(reply, err, true);
    }
  });

  for (const p of opts.plugins ?? []) p(app, verify);

  app.setNotFoundHandler((req, reply) =>
    sendAwsError(
      reply,
      new ApiError(
        'UnknownOperationException',
        404,
        `no such endpoint: ${req.method} ${req.url.length > 200 ? `${req.url.slice(0, 200)}...` : req.url}; the Batch API is POST /v1/<operation>, the Logs API is POST / with X-Amz-Target`,
      ),
      protocolOf(req.url, req.headers),
    ),
  );
  app.setErrorHandler((err, req, reply) => sendAwsError(reply, err, protocolOf(req.url, req.headers)));
  return app;
}
