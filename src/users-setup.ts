/** Wires the users part (identity store, access policy, audit, throttling, admin API) for the composition root. */
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { adminApi } from './api/admin/admin-api.js';
import type { RootCredentials } from './api/auth/root-credentials.js';
import type { HttpOptions, IdentityResolver } from './api/http.js';
import type { ServerConfig } from './config.js';
import type { Job } from './core/types.js';
import type { Caller } from './service/job-service.js';
import { AccessPolicy } from './service/users/access-policy.js';
import { AuditLog, auditTarget, isMutatingBatchOperation } from './service/users/audit-log.js';
import { AuthThrottle } from './service/users/auth-throttle.js';
import { IdentityDirectory } from './service/users/identity-directory.js';
import { SecretBox } from './service/users/secret-box.js';
import { SqliteIdentityStore } from './store/sqlite/identity-store.js';

export interface UsersPart {
  identities: IdentityResolver;
  policy: AccessPolicy;
  directory: IdentityDirectory;
  http: Pick<HttpOptions, 'authThrottle' | 'onBatchCall'>;
  plugin: (app: FastifyInstance, verify: (req: FastifyRequest, service: string) => Promise<Caller>) => void;
  /** Role credentials for an attempt's environment (JobService.extraEnvironment). */
  extraEnvironment: (job: Job) => Record<string, string>;
  close(): void;
}

const envNumber = (name: string): number | undefined => {
  const v = process.env[name];
  return v === undefined || v === '' || !Number.isFinite(Number(v)) ? undefined : Number(v);
};

export function setUpUsers(cfg: ServerConfig, root: RootCredentials, runtimeName: () => string): UsersPart {
  const store = new SqliteIdentityStore(join(cfg.dataDir, 'identity.db'));
  const directory = new IdentityDirectory(store, SecretBox.open(cfg.dataDir), cfg.accountId);
  const audit = new AuditLog(store, {
    onError: (err) => console.error(`audit log write failed: ${(err as Error).message}`),
  });
  const limit = envNumber('OPENBATCH_AUTH_FAILURE_LIMIT');
  const blockSeconds = envNumber('OPENBATCH_AUTH_BLOCK_SECONDS');
  const throttle = new AuthThrottle({
    ...(limit !== undefined ? { limit } : {}),
    ...(blockSeconds !== undefined ? { blockMs: blockSeconds * 1000 } : {}),
  });
  const policy = new AccessPolicy(directory, {
    allowProcessRuntimeForUsers: cfg.allowProcessRuntimeForUsers === true,
    runtimeName,
  });
  const rootCaller: Caller = { user: 'root', pi: '', admin: true };
  return {
    directory,
    policy,
    identities: {
      lookup: (akid) =>
        akid === root.accessKeyId ? { secret: root.secretAccessKey, caller: rootCaller } : directory.lookup(akid),
    },
    http: {
      authThrottle: throttle,
      onBatchCall: (e) => {
        if (!isMutatingBatchOperation(e.operation)) return;
        const target = auditTarget(e.input);
        audit.record({
          user: e.caller.user,
          pi: e.caller.pi,
          operation: e.operation,
          ...(target ? { target } : {}),
          source: e.source,
          outcome: e.outcome,
        });
      },
    },
    plugin: adminApi(directory, audit),
    extraEnvironment: (job) => {
      const role = job.containerProperties.jobRoleArn;
      const c = role ? directory.roleCredentials(role) : undefined;
      if (!c) return {};
      const region = c.region ?? cfg.region;
      return {
        AWS_ACCESS_KEY_ID: c.accessKeyId,
        AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
        ...(c.endpointUrl ? { AWS_ENDPOINT_URL: c.endpointUrl } : {}),
        AWS_DEFAULT_REGION: region,
        AWS_REGION: region,
      };
    },
    close() {
      audit.flush();
      store.close();
    },
  };
}
