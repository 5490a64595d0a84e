/**
 * Job-role credentials, the way AWS Batch delivers them: through the container credentials provider that every AWS
 * SDK and the aws CLI read (`AWS_CONTAINER_CREDENTIALS_FULL_URI` + `AWS_CONTAINER_AUTHORIZATION_TOKEN`).
 * - attempt token: names one attempt (job id, attempt number), sealed with the server key (AES-GCM), so it cannot be
 *   forged or pointed at another attempt, survives a restart (re-attached attempts keep working) and is refused once
 *   the attempt has ended.
 * - source: per job role, set by an admin (IdentityDirectory): STS AssumeRole against the PI's store (session name
 *   naming the job) or the PI's static keys.
 * - refresh: served credentials are cached per attempt and renewed once less than REFRESH_FRACTION of their lifetime
 *   is left, so a client always gets credentials with time to run, and refreshes before they expire.
 * - secrets: `containerProperties.secrets` are read just before the attempt starts, from openbatch's own per-PI
 *   store (service/secrets) or, when the admin named one for the role, an external SSM / Secrets Manager endpoint
 *   with the same credentials (job-secrets.ts); their values go to the attempt's environment only.
 * - Slurm pools: the nodes reach this host only over the network, where the SDKs refuse a plain-HTTP FULL_URI; their
 *   attempts get a `credential_process` instead (`processUrl`, docs/decisions/0011), or no credentials when the admin
 *   gave no `--slurm-credentials-url`.
 * No credential reaches the job's environment, the job record, logs or the dashboard; only the endpoint serves them.
 */
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { slurmPartitionOfPool } from '../../core/pools.js';
import type { AttemptExtras } from '../../core/ports.js';
import type { Job } from '../../core/types.js';
import type { RoleCredentials } from '../users/identity-directory.js';
import type { SecretBox } from '../users/secret-box.js';
import { resolveSecrets, SECRETS_FAILED } from './job-secrets.js';
import { splitRegistryAuth, withRegistrySecret } from './registry-credentials.js';

/** What the endpoint answers (the container credentials provider's shape). */
export interface ServedCredentials {
  AccessKeyId: string;
  SecretAccessKey: string;
  Token: string;
  Expiration: string;
  RoleArn: string;
}

/** The `credential_process` shape (`?format=process`): what botocore, the JS SDK and the aws CLI read from its output. */
export interface ProcessCredentials {
  Version: 1;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken?: string;
  Expiration: string;
}

/** Served credentials in the `credential_process` shape (static keys carry no session token). */
export function asProcessCredentials(c: ServedCredentials): ProcessCredentials {
  return {
    Version: 1,
    AccessKeyId: c.AccessKeyId,
    SecretAccessKey: c.SecretAccessKey,
    ...(c.Token ? { SessionToken: c.Token } : {}),
    Expiration: c.Expiration,
  };
}

/** A refusal the endpoint turns into an HTTP status with AWS-shaped `{code, message}`. */
export class CredentialsRefused extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface AttemptCredentialsOptions {
  box: SecretBox;
  /** The admin's source for a job role, if any. */
  roleSource: (roleArn: string) => RoleCredentials | undefined;
  /** The job of a live attempt (STARTING or RUNNING on this replica's engine), else undefined. */
  liveAttempt: (jobId: string, attempt: number) => Job | undefined;
  region: string;
  /** Reads a job's secrets from openbatch's own per-PI secret store (used when its role names no external one). */
  storeSecrets?: (job: Job, secrets: readonly { name: string; valueFrom: string }[]) => Promise<Record<string, string>>;
  clock?: () => number;
}

const TOKEN_AAD = 'openbatch:attempt-credentials';
/** Static keys have no expiry; clients are told to ask again after this. */
const STATIC_LIFETIME_MS = 3600_000;
const DEFAULT_DURATION_S = 3600;
/** Renew cached credentials once less than this part of their lifetime is left. */
const REFRESH_FRACTION = 0.5;

/** STS RoleSessionName: 2-64 of [\w+=,.@-]; names the job and attempt (an array child's `:` becomes `.`). */
export function sessionName(jobId: string, attempt: number): string {
  return `ob-${jobId.replace(/[^\w+=,.@-]/g, '.')}-${attempt}`.slice(0, 64);
}

export class AttemptCredentials {
  /** The endpoint's URL as jobs see it; set once it listens. */
  url = '';
  /** The endpoint's `credential_process` URL as Slurm nodes see it (`?format=process`); set once it listens there. */
  processUrl = '';
  private readonly cache = new Map<string, { creds: ServedCredentials; issuedAt: number; expiresAt: number }>();
  private readonly pending = new Map<string, Promise<ServedCredentials>>();
  private readonly clock: () => number;

  constructor(private readonly opts: AttemptCredentialsOptions) {
    this.clock = opts.clock ?? Date.now;
  }

  /** The token of one attempt. */
  token(jobId: string, attempt: number): string {
    return this.opts.box.seal(JSON.stringify([jobId, attempt]), TOKEN_AAD);
  }

  /**
   * What an attempt of `job` gets: the endpoint and its token (and the store's endpoint) if its role has a source,
   * and its secrets and registry credentials (`repositoryCredentials`), read just before it starts. On a Slurm pool
   * (`pool`), the credentials come through a `credential_process` (see `processUrl`).
   */
  extras(job: Job, attempt: number, pool?: string): AttemptExtras | undefined {
    const role = job.containerProperties.jobRoleArn;
    const source = role ? this.opts.roleSource(role) : undefined;
    const registrySecret = job.containerProperties.repositoryCredentials?.credentialsParameter;
    const secrets = withRegistrySecret(job.containerProperties.secrets ?? [], registrySecret);
    const withCredentials = role && source && this.url ? { role, source } : undefined;
    const region = source?.region ?? this.opts.region;
    const read = secrets.length ? this.secretsResolver(job, attempt, secrets, withCredentials) : undefined;
    const resolve = read && (async () => splitRegistryAuth(await read(), registrySecret));
    const onSlurm = slurmPartitionOfPool(pool) !== undefined;
    if (!withCredentials || (onSlurm && !this.processUrl)) return resolve ? { environment: {}, resolve } : undefined;
    const environment = {
      ...(withCredentials.source.endpointUrl ? { AWS_ENDPOINT_URL: withCredentials.source.endpointUrl } : {}),
      AWS_DEFAULT_REGION: region,
      AWS_REGION: region,
    };
    const token = this.token(job.jobId, attempt);
    if (onSlurm)
      return {
        environment,
        credentialProcess: { url: this.processUrl, token },
        ...(resolve ? { resolve } : {}),
      };
    return {
      environment: {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: this.url,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: token,
        ...environment,
      },
      reachesHostLoopback: /^https?:\/\/(127\.|localhost|\[::1\])/.test(this.url),
      ...(resolve ? { resolve } : {}),
    };
  }

  /**
   * Where a job's secrets are read (docs/decisions/0010): the external endpoint the admin named for its role
   * (`--secrets-endpoint-url`, `aws` for AWS's own), with the attempt's role credentials; else openbatch's own per-PI
   * secret store.
   */
  private secretsResolver(
    job: Job,
    attempt: number,
    secrets: readonly { name: string; valueFrom: string }[],
    withCredentials: { role: string; source: RoleCredentials } | undefined,
  ): () => Promise<Record<string, string>> {
    const role = job.containerProperties.jobRoleArn;
    const external = role ? this.opts.roleSource(role)?.secretsEndpointUrl : undefined;
    if (!external) {
      const store = this.opts.storeSecrets;
      if (!store)
        return () => Promise.reject(new Error(`${SECRETS_FAILED}: this server has no secret store to read them from`));
      return () => store(job, secrets);
    }
    if (!withCredentials) {
      const why = `${SECRETS_FAILED}: the job's role ${role ?? '(none)'} reads its secrets from ${external}, but the credentials endpoint is not serving; see the server's output`;
      return () => Promise.reject(new Error(why));
    }
    const { source } = withCredentials;
    return async () => {
      const c = await this.credentialsFor(job.jobId, attempt, withCredentials.role, source).catch((err: unknown) => {
        throw new Error(`${SECRETS_FAILED}: ${(err as Error).message}`);
      });
      return resolveSecrets(secrets, {
        ...(external !== 'aws' ? { endpointUrl: external } : {}),
        region: source.region ?? this.opts.region,
        credentials: {
          accessKeyId: c.AccessKeyId,
          secretAccessKey: c.SecretAccessKey,
          ...(c.Token ? { sessionToken: c.Token } : {}),
        },
      });
    };
  }

  /** The credentials for the attempt the token names; refuses bad tokens and attempts that are not live. */
  async serve(token: string | undefined): Promise<ServedCredentials> {
    if (!token)
      throw new CredentialsRefused(
        401,
        'MissingAuthenticationToken',
        'the Authorization header must carry the token of AWS_CONTAINER_AUTHORIZATION_TOKEN',
      );
    let jobId: string;
    let attempt: number;
    try {
      [jobId, attempt] = JSON.parse(this.opts.box.open(token, TOKEN_AAD)) as [string, number];
    } catch {
      throw new CredentialsRefused(403, 'AccessDenied', 'the authorization token is not one this server issued');
    }
    const job = this.opts.liveAttempt(jobId, attempt);
    if (!job)
      throw new CredentialsRefused(
        403,
        'AccessDenied',
        `attempt ${attempt} of job ${jobId} is not running: its token has expired`,
      );
    const roleArn = job.containerProperties.jobRoleArn;
    const source = roleArn ? this.opts.roleSource(roleArn) : undefined;
    if (!roleArn || !source)
      throw new CredentialsRefused(
        403,
        'AccessDenied',
        `job role ${roleArn ?? '(none)'} has no credential source; an admin sets one with "openbatch admin role set"`,
      );
    return this.credentialsFor(jobId, attempt, roleArn, source);
  }

  /** Temporary credentials for the job role from its STS source, or its static keys. */
  credentialsFor(jobId: string, attempt: number, roleArn: string, source: RoleCredentials): Promise<ServedCredentials> {
    const key = `${jobId}#${attempt}`;
    const now = this.clock();
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt - now > (hit.expiresAt - hit.issuedAt) * REFRESH_FRACTION)
      return Promise.resolve(hit.creds);
    let p = this.pending.get(key);
    if (!p) {
      p = this.fetch(jobId, attempt, roleArn, source).then(
        (creds) => {
          this.pending.delete(key);
          this.cache.set(key, { creds, issuedAt: now, expiresAt: Date.parse(creds.Expiration) });
          return creds;
        },
        (err: unknown) => {
          this.pending.delete(key);
          throw err;
        },
      );
      this.pending.set(key, p);
    }
    return p;
  }

  /** Forgets the cached credentials of attempts that ended. */
  sweep(): void {
    for (const key of this.cache.keys()) {
      const i = key.lastIndexOf('#');
      if (!this.opts.liveAttempt(key.slice(0, i), Number(key.slice(i + 1)))) this.cache.delete(key);
    }
  }

  private async fetch(
    jobId: string,
    attempt: number,
    roleArn: string,
    source: RoleCredentials,
  ): Promise<ServedCredentials> {
    if (!source.sts)
      return {
        AccessKeyId: source.accessKeyId,
        SecretAccessKey: source.secretAccessKey,
        Token: '',
        Expiration: new Date(this.clock() + STATIC_LIFETIME_MS).toISOString(),
        RoleArn: roleArn,
      };
    const sts = new STSClient({
      endpoint: source.sts.endpointUrl,
      region: source.region ?? this.opts.region,
      credentials: { accessKeyId: source.accessKeyId, secretAccessKey: source.secretAccessKey },
      maxAttempts: 2,
    });
    try {
      const r = await sts.send(
        new AssumeRoleCommand({
          RoleArn: source.sts.roleArn,
          RoleSessionName: sessionName(jobId, attempt),
          DurationSeconds: source.sts.durationSeconds ?? DEFAULT_DURATION_S,
          ...(source.sts.policy ? { Policy: source.sts.policy } : {}),
        }),
      );
      const c = r.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration)
        throw new Error('the STS answer carries no credentials');
      return {
        AccessKeyId: c.AccessKeyId,
        SecretAccessKey: c.SecretAccessKey,
        Token: c.SessionToken,
        Expiration: c.Expiration.toISOString(),
        RoleArn: roleArn,
      };
    } catch (err) {
      const e = err as { name?: string; message?: string };
      throw new CredentialsRefused(
        502,
        'CredentialsUnavailable',
        `AssumeRole at ${source.sts.endpointUrl} for job role ${roleArn} failed: ${e.name ?? 'Error'}: ${e.message ?? ''}`.slice(
          0,
          500,
        ),
      );
    } finally {
      sts.destroy();
    }
  }
}
