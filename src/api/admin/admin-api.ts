/**
 * The admin API: `POST /admin/v1/<operation>` with a JSON body, SigV4-signed (service `batch`) by root or an admin
 * user. Every call, allowed or not, is audited. The `openbatch admin` CLI is its client.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AccessDeniedException, ApiError, ClientException } from '../../core/errors.js';
import type { Caller } from '../../core/caller.js';
import type { AuditLog } from '../../service/users/audit-log.js';
import type { IdentityDirectory } from '../../service/users/identity-directory.js';

type Input = Record<string, any>;
type Verify = (req: FastifyRequest, service: string) => Promise<Caller>;

const str = (i: Input, k: string, required = true): string | undefined => {
  const v = i[k];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || !v) throw new ClientException(`${k} is required and must be a non-empty string`);
  return v;
};

/** Operation (lower case) -> handler. */
function operations(
  dir: IdentityDirectory,
  audit: AuditLog,
  extra: Record<string, (i: Input) => unknown>,
): Record<string, (i: Input) => unknown> {
  return {
    ...extra,
    onboard: (i) => dir.onboard(i.userName, i.pi, i.rotateKey === true),
    listusers: async () => ({ users: await dir.listUsers() }),
    disableuser: async (i) => ({ user: await dir.setDisabled(i.userName, true) }),
    enableuser: async (i) => ({ user: await dir.setDisabled(i.userName, false) }),
    rotatekey: (i) => dir.rotateKey(i.userName),
    makeadmin: async (i) => ({ user: await dir.setAdmin(i.userName, i.admin !== false) }),
    setrole: (i) =>
      dir.setRoleCredentials(i.pi, {
        accessKeyId: str(i, 'accessKeyId')!,
        secretAccessKey: str(i, 'secretAccessKey')!,
        ...(i.endpointUrl !== undefined ? { endpointUrl: str(i, 'endpointUrl')! } : {}),
        ...(i.region !== undefined ? { region: str(i, 'region')! } : {}),
        ...(i.secretsEndpointUrl !== undefined ? { secretsEndpointUrl: str(i, 'secretsEndpointUrl')! } : {}),
        ...(i.stsEndpointUrl !== undefined || i.assumeRoleArn !== undefined
          ? {
              sts: {
                endpointUrl: str(i, 'stsEndpointUrl')!,
                roleArn: str(i, 'assumeRoleArn')!,
                ...(i.durationSeconds !== undefined ? { durationSeconds: Number(i.durationSeconds) } : {}),
                ...(i.policy !== undefined ? { policy: str(i, 'policy')! } : {}),
              },
            }
          : {}),
      }),
    listaudit: async (i) => {
      const rows = await audit.list({
        ...(typeof i.limit === 'number' ? { limit: i.limit } : {}),
        ...(typeof i.nextToken === 'string' ? { beforeSeq: Number(i.nextToken) } : {}),
        ...(typeof i.userName === 'string' ? { user: i.userName } : {}),
      });
      const last = rows.at(-1);
      return {
        records: rows.map((r) => ({
          time: new Date(r.at).toISOString(),
          userName: r.user_name,
          pi: r.pi,
          operation: r.operation,
          ...(r.target ? { target: r.target } : {}),
          ...(r.source ? { source: r.source } : {}),
          outcome: r.outcome,
        })),
        ...(last && rows.length === (typeof i.limit === 'number' ? i.limit : 100)
          ? { nextToken: String(last.seq) }
          : {}),
      };
    },
  };
}

function send(reply: FastifyReply, status: number, body: unknown, errorType?: string): FastifyReply {
  if (errorType) reply.header('x-amzn-errortype', errorType);
  return reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body));
}

/** A `plugins` entry for buildHttpServer. */
export function adminApi(dir: IdentityDirectory, audit: AuditLog, extra: Record<string, (i: Input) => unknown> = {}) {
  const ops = operations(dir, audit, extra);
  return (app: FastifyInstance, verify: Verify): void => {
    app.post('/admin/v1/:op', async (req, reply) => {
      const op = (req.params as { op: string }).op.toLowerCase();
      let caller: Caller | undefined;
      let input: Input = {};
      const recordAudit = (who: Caller, outcome: string): void =>
        audit.record({
          user: who.user,
          pi: who.pi,
          operation: `admin:${op}`,
          ...target(input),
          source: req.ip,
          outcome,
        });
      try {
        caller = await verify(req, 'batch');
        const handler = Object.hasOwn(ops, op) ? ops[op] : undefined;
        if (!handler)
          throw new ClientException(
            `unknown admin operation ${JSON.stringify(op)}; known: ${Object.keys(ops).join(', ')} (POST /admin/v1/<operation>)`,
          );
        const body = req.body as Buffer | undefined;
        const parsed: unknown = body?.length ? JSON.parse(body.toString('utf8')) : {};
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
          throw new ClientException('the request body must be a JSON object');
        input = parsed;
        if (!caller.admin)
          throw new AccessDeniedException(
            `User ${caller.user} is not authorized to call the admin API (${op}): only root or an admin user can manage users and roles`,
          );
        const out = await handler(input);
        recordAudit(caller, 'OK');
        return send(reply, 200, out);
      } catch (err) {
        const e =
          err instanceof ApiError
            ? err
            : err instanceof SyntaxError
              ? new ClientException(`the request body is not valid JSON: ${err.message}`)
              : new ApiError('ServerException', 500, 'the admin operation failed; see the server log');
        if (e.statusCode >= 500) req.log.error({ err }, 'admin operation failed');
        if (caller) recordAudit(caller, e.code);
        return send(reply, e.statusCode, { __type: e.code, message: e.message }, e.code);
      }
    });
  };
}

function target(i: Input): { target?: string } {
  const t = typeof i.userName === 'string' ? i.userName : typeof i.pi === 'string' ? i.pi : undefined;
  return t ? { target: t } : {};
}
