/**
 * The HTTP edge: one fastify app serving the Batch API (`/v1/...`, rest-json), the CloudWatch Logs API
 * (`POST /` with `X-Amz-Target`, json-1.1), the admin API and `/healthz`. Every API request is SigV4-verified first;
 * every error is mapped to the wire here, in one place.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ApiError, AuthError, ClientException, ServerException } from '../core/errors.js';
import { verifySigV4 } from './auth/sigv4.js';
import { BATCH_OPERATIONS, BATCH_ROUTES, type BatchServices } from './batch/operations.js';
import { loadServiceModel, validateInput, type ServiceModel } from './model-validator.js';
import type { Caller } from '../service/job-service.js';

/** Resolves an access key to its secret and to who is calling; undefined for unknown or disabled keys. */
export interface IdentityResolver {
  lookup(accessKeyId: string): { secret: string; caller: Caller } | undefined;
}

/** A JSON-1.1 API mounted at `POST /` (CloudWatch Logs): target prefix and operation handlers. */
export interface JsonTargetApi {
  targetPrefix: string;
  service: string;
  model: ServiceModel;
  operations: Record<string, (caller: Caller, input: Record<string, any>) => Promise<unknown> | unknown>;
}

export interface HttpOptions {
  services: BatchServices;
  identities: IdentityResolver;
  jsonApis?: JsonTargetApi[];
  health: () => Record<string, unknown>;
  /** Extra routes (admin API, dashboard) registered by the composition root. */
  plugins?: ((app: FastifyInstance, verify: (req: FastifyRequest, service: string) => Promise<Caller>) => void)[];
  logger?: boolean;
  bodyLimit?: number;
  /** Counts failed authentications and refuses blocked keys/addresses (users part). */
  authThrottle?: {
    check(kind: 'address' | 'key', id: string): void;
    failed(address: string, accessKeyId: string | undefined): void;
  };
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
  const e =
    err instanceof ApiError
      ? err
      : (err as { statusCode?: number }).statusCode && (err as { statusCode: number }).statusCode < 500
        ? new ClientException((err as Error).message)
        : new ServerException('the server failed to handle this request; it was logged and nothing was changed by it');
  if (!(err instanceof ApiError) && e.statusCode >= 500) reply.log.error({ err }, 'unhandled error');
  const type = jsonProtocol ? `com.amazonaws.logs#${e.code}` : e.code;
  return reply
    .code(e.statusCode)
    .header('x-amzn-errortype', e.code)
    .header('content-type', jsonProtocol ? 'application/x-amz-json-1.1' : 'application/json')
    .send(JSON.stringify({ __type: jsonProtocol ? type : e.code, message: e.message }));
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

export function buildHttpServer(opts: HttpOptions): FastifyInstance {
  const app = Fastify({
    logger: opts.logger ? { level: 'warn' } : false,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    routerOptions: { caseSensitive: false },
    return503OnClosing: true,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const verify = async (req: FastifyRequest, service: string): Promise<Caller> => {
    let caller: Caller | undefined;
    let claimedKey: string | undefined;
    const throttle = opts.authThrottle;
    throttle?.check('address', req.ip);
    try {
      await verifySigV4(
        {
          method: req.method,
          url: req.raw.url ?? req.url,
          headers: req.headers,
          body: (req.body as Buffer | undefined) ?? Buffer.alloc(0),
        },
        (akid) => {
          claimedKey = akid;
          throttle?.check('key', akid);
          const id = opts.identities.lookup(akid);
          caller = id?.caller;
          return id?.secret;
        },
        { services: [service] },
      );
    } catch (err) {
      if (throttle && err instanceof AuthError && err.code !== 'ThrottlingException')
        throttle.failed(req.ip, claimedKey);
      throw err;
    }
    return caller!;
  };

  app.get('/healthz', async (_req, reply) => reply.code(200).send(opts.health()));

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
    try {
      if (!api) {
        await verify(req, jsonApis[0]?.service ?? 'logs');
        throw new ClientException(
          `unknown X-Amz-Target ${JSON.stringify(target)}: the CloudWatch Logs API expects Logs_20140328.<Operation>; the Batch API lives under /v1/`,
        );
      }
      const caller = await verify(req, api.service);
      const op = target.slice(dot + 1);
      const handler = Object.hasOwn(api.operations, op) ? api.operations[op] : undefined;
      if (!handler)
        throw new ApiError(
          'UnknownOperationException',
          400,
          `${op} is not an operation openbatch's ${api.service} API supports`,
        );
      const input = parseJsonBody(req.body as Buffer | undefined);
      validateInput(api.model, op, input, (m) => new ApiError('InvalidParameterException', 400, m));
      const out = await handler(caller, input);
      return reply
        .code(200)
        .header('content-type', 'application/x-amz-json-1.1')
        .send(JSON.stringify(out ?? {}));
    } catch (err) {
      return sendError(reply, err, true);
    }
  });

  for (const p of opts.plugins ?? []) p(app, verify);

  app.setNotFoundHandler((req, reply) =>
    sendError(
      reply,
      new ClientException(
        `no such endpoint: ${req.method} ${req.url}; the Batch API is POST /v1/<operation>, the Logs API is POST / with X-Amz-Target`,
      ),
      false,
    ),
  );
  app.setErrorHandler((err, _req, reply) => sendError(reply, err, false));
  return app;
}
