/** Wires the users part (identity store, access policy, audit, throttling, admin API) for the composition root. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { adminApi } from './api/admin/admin-api.js';
import type { RootCredentials } from './api/auth/root-credentials.js';
import type { HttpOptions, IdentityResolver } from './api/http.js';
import type { ServerConfig } from './config.js';
import type { Job } from './core/types.js';
import type { Caller } from './core/caller.js';
import type { IdentityStore, Store } from './core/ports.js';
import { AccessPolicy } from './service/users/access-policy.js';
import {
  AuditLog,
  auditTarget,
  isMutatingBatchOperation,
  isMutatingSecretOperation,
  secretAuditTarget,
} from './service/users/audit-log.js';
import { AuthThrottle } from './service/users/auth-throttle.js';
import { IdentityDirectory } from './service/users/identity-directory.js';
import { SecretBox } from './service/users/secret-box.js';
import { AttemptCredentials } from './service/credentials/attempt-credentials.js';
import { PiSecrets } from './service/secrets/pi-secrets.js';
import { resolveStoreSecrets } from './service/secrets/store-job-secrets.js';

export interface UsersPart {
  identities: IdentityResolver;
  policy: AccessPolicy;
  directory: IdentityDirectory;
  http: Pick<HttpOptions, 'onAuthFailure' | 'onBatchCall' | 'onJsonCall'>;
  plugin: (app: FastifyInstance, verify: (req: FastifyRequest, service: string) => Promise<Caller>) => void;
  /** Job-role credentials (the container credentials endpoint's side) and secrets for attempts. */
  credentials: AttemptCredentials;
  /** The per-PI secret store (SSM parameters, Secrets Manager secrets), for its APIs. */
  secrets: PiSecrets;
  /** Signs dashboard sessions; derived from the server key, so every replica accepts every replica's sessions. */
  sessionKey: Buffer;
  /** Stops following other replicas and writes the queued audit records (the stores close after). */
  close(): Promise<void>;
}

const envNumber = (name: string): number | undefined => {
  const v = process.env[name];
  return v === undefined || v === '' || !Number.isFinite(Number(v)) ? undefined : Number(v);
};

export async function setUpUsers(
  cfg: ServerConfig,
  root: RootCredentials,
  store: IdentityStore,
  signals: Pick<Store, 'subscribe'>,
  runtimeName: () => string,
  /** The job of a live attempt (the engine's), for the credentials endpoint. */
  liveAttempt: (jobId: string, attempt: number) => Job | undefined,
  /** More admin operations (lower-case name -> handler), e.g. the replicas of a scaled-out server. */
  adminExtra: Record<string, (i: Record<string, any>) => unknown> = {},
): Promise<UsersPart> {
  const box = SecretBox.open(cfg.dataDir);
  const directory = await IdentityDirectory.open(store, box, cfg.accountId, signals);
  const secrets = new PiSecrets({ store: store.secretValues, box, region: cfg.region, accountId: cfg.accountId });
  const credentials = new AttemptCredentials({
    box,
    roleSource: (arn) => directory.roleCredentials(arn),
    liveAttempt,
    region: cfg.region,
    storeSecrets: (job, list) => resolveStoreSecrets(secrets, job, list),
  });
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
    sessionKey: box.derive('openbatch dashboard sessions v1'),
    identities: {
      lookup: (akid) =>
        akid === root.accessKeyId ? { secret: root.secretAccessKey, caller: rootCaller } : directory.lookup(akid),
      lookupFresh: (akid) => directory.lookupFresh(akid),
    },
    http: {
      onAuthFailure: ({ source, accessKeyId, error }) => {
        const verdict = throttle.failed(source, accessKeyId);
        // Who the key belongs to, if anyone; never the secret, the signature or the request.
        const owner = accessKeyId ? directory.lookup(accessKeyId)?.caller : undefined;
        if (verdict.audit)
          audit.record({
            user: accessKeyId === root.accessKeyId ? 'root' : (owner?.user ?? '-'),
            pi: owner?.pi ?? '',
            operation: 'Authenticate',
            ...(accessKeyId ? { target: `accessKeyId:${accessKeyId.slice(0, 128)}` } : {}),
            source,
            outcome: `${error.code}: ${error.message.slice(0, 300)}${verdict.throttled ? ' (further failures throttled)' : ''}`,
          });
        return verdict.throttled;
      },
      onJsonCall: (e) => {
        // Changes to the per-PI secret store: who changed which value (never the value itself).
        if (!isMutatingSecretOperation(e.service, e.operation)) return;
        const target = secretAuditTarget(e.input);
        audit.record({
          user: e.caller.user,
          pi: e.caller.pi,
          operation: e.operation,
          ...(target ? { target } : {}),
          source: e.source,
          outcome: e.outcome,
        });
      },
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
    plugin: adminApi(directory, audit, adminExtra),
    credentials,
    secrets,
    async close() {
      directory.close();
      await audit.flush();
    },
  };
}
