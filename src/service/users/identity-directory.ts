/**
 * Users, PI groups and access keys: the glossary.
 * - PI group: a lab, named after its principal investigator (e.g. `peters-u`); owns jobs and job definitions, and
 *   has one job role `arn:aws:iam::<account>:role/<pi>-batchtask`, which may carry credentials for the lab's object store.
 * - user: belongs to exactly one PI group; may be disabled (all requests refused at once) or an admin.
 * - access key: (id, secret) of one user; a user has one active key; rotating replaces it at once.
 * - root: the server's root credentials (not stored here), always an admin.
 *
 * Lookups run on every request, so the whole key table is held decrypted in memory and rebuilt after each change:
 * this replica's own changes at once; another replica's on the `identities` signal, and at the latest within
 * POLL_MS by polling the store's version (a signal may be lost), so a key disabled anywhere is refused everywhere
 * within a second. A key not in the table is looked for in the store before it is refused (lookupFresh), so a key
 * made on one replica is accepted on all at once.
 */
import { newAccessKeyId, newSecretAccessKey } from '../../core/access-keys.js';
import { ClientException } from '../../core/errors.js';
import type { IdentityOps, IdentityStore, UserRecord } from '../../core/ports.js';
import type { Caller } from '../../core/caller.js';
import type { SecretBox } from './secret-box.js';

export interface UserView {
  userName: string;
  pi: string;
  admin: boolean;
  disabled: boolean;
  accessKeyIds: string[];
  createdAt: string;
}

export interface OnboardResult {
  user: UserView;
  created: { piGroup: boolean; user: boolean; accessKey: boolean };
  /** Only when a key was made now: shown once, never again. */
  secretAccessKey?: string;
  accessKeyId?: string;
  jobRoleArn: string;
}

/**
 * Where a job role's credentials come from. With `sts`, the keys are the ones openbatch calls AssumeRole with, and
 * jobs get the assumed role's temporary credentials; without, the keys are the PI's own (stores without STS).
 */
export interface RoleCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** The object store (S3-compatible), given to jobs as AWS_ENDPOINT_URL. */
  endpointUrl?: string;
  region?: string;
  sts?: RoleSts;
  /**
   * An external SSM Parameter Store / Secrets Manager for job secrets (`aws`: AWS's own); unset: openbatch's own per-PI
   * secret store (docs/decisions/0010).
   */
  secretsEndpointUrl?: string;
}

export interface RoleSts {
  /** STS endpoint (AWS, MinIO, Ceph RGW). */
  endpointUrl: string;
  /** The store's role to assume (MinIO ignores it). */
  roleArn: string;
  /** Lifetime of each set of credentials (900-43200 s; default 3600). */
  durationSeconds?: number;
  /** A session policy (JSON) that narrows the role further. */
  policy?: string;
}

const URL_RE = /^https?:\/\/\S+$/;
function checkUrl(field: string, v: unknown): string {
  if (typeof v !== 'string' || !URL_RE.test(v))
    throw new ClientException(`${field} ${JSON.stringify(v)} must be an http(s) URL, e.g. https://s3.lab.example.org`);
  return v;
}

/** Validates the STS part of a role's source (admin input). */
function checkSts(sts: Partial<RoleSts>): RoleSts {
  const endpointUrl = checkUrl('stsEndpointUrl', sts.endpointUrl);
  if (typeof sts.roleArn !== 'string' || !/^arn:[\w+=,.@:/-]{1,2040}$/.test(sts.roleArn))
    throw new ClientException(
      `assumeRoleArn ${JSON.stringify(sts.roleArn)} must be the ARN of the store's role to assume, e.g. arn:aws:iam::123456789012:role/peters-u-s3 (MinIO ignores it: arn:minio:iam:::role/any)`,
    );
  const d = sts.durationSeconds;
  if (d !== undefined && (!Number.isInteger(d) || d < 900 || d > 43200))
    throw new ClientException(`durationSeconds ${d} must be an integer from 900 to 43200 (STS AssumeRole's range)`);
  if (sts.policy !== undefined) {
    try {
      JSON.parse(sts.policy);
    } catch {
      throw new ClientException('policy must be an IAM policy document in JSON (a session policy for AssumeRole)');
    }
  }
  return {
    endpointUrl,
    roleArn: sts.roleArn,
    ...(d !== undefined ? { durationSeconds: d } : {}),
    ...(sts.policy !== undefined ? { policy: sts.policy } : {}),
  };
}

// IAM role names allow 64 characters; `-batchtask` takes 10 of them.
const PI_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,53}$/;
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

function checkName(field: string, v: unknown, re: RegExp, max: number): string {
  if (typeof v !== 'string' || !re.test(v))
    throw new ClientException(
      `${field} ${JSON.stringify(v)} must start with a letter or digit and contain only letters, digits, ${field === 'pi' ? '_ . -' : '_ . @ -'} (max ${max})`,
    );
  if (v.toLowerCase() === 'root')
    throw new ClientException(`${field} "root" is reserved for the server's root credentials`);
  return v;
}

/** How often the store's identity version is polled for changes made by other replicas. */
const POLL_MS = 500;

/** Where other replicas' changes are signalled (the Store's change channels). */
export interface IdentitySignals {
  subscribe(channel: 'identities', listener: (payload: string) => void): () => void;
}

export class IdentityDirectory {
  private keys = new Map<string, { secret: string; caller: Caller }>();
  private roles = new Map<string, RoleCredentials>();
  private userCount = 0;
  private version = -1;
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;
  private poller: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  private constructor(
    private readonly store: IdentityStore,
    private readonly box: SecretBox,
    private readonly accountId: string,
  ) {}

  /** Loads the key table; with `signals`, keeps it in step with changes made by other replicas. */
  static async open(
    store: IdentityStore,
    box: SecretBox,
    accountId: string,
    signals?: IdentitySignals,
  ): Promise<IdentityDirectory> {
    const dir = new IdentityDirectory(store, box, accountId);
    await dir.reload();
    if (signals) {
      dir.unsubscribe = signals.subscribe('identities', () => void dir.reload().catch(() => undefined));
      dir.poller = setInterval(() => void dir.pollVersion(), POLL_MS);
      dir.poller.unref();
    }
    return dir;
  }

  /** Stops following other replicas' changes. */
  close(): void {
    if (this.poller) clearInterval(this.poller);
    this.unsubscribe?.();
  }

  private async pollVersion(): Promise<void> {
    try {
      if ((await this.store.version()) !== this.version) await this.reload();
    } catch {
      // The store is unreachable for now: keep the last table (requests keep working) and try again next tick.
    }
  }

  /** Rebuilds the in-memory key and role tables from the store; concurrent calls coalesce into one more run. */
  private reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      try {
        do {
          this.reloadAgain = false;
          await this.load();
        } while (this.reloadAgain);
      } finally {
        this.reloading = undefined;
      }
    })();
    return this.reloading;
  }

  private async load(): Promise<void> {
    // The version first: a change committed while loading leaves it behind, so the next poll loads again.
    const version = await this.store.version();
    const [userRows, keyRows, groups] = await Promise.all([
      this.store.users(),
      this.store.accessKeys(),
      this.store.piGroups(),
    ]);
    const users = new Map(userRows.map((u) => [u.name, u]));
    const keys = new Map<string, { secret: string; caller: Caller }>();
    for (const k of keyRows) {
      const u = users.get(k.user_name);
      if (!u || u.disabled) continue;
      keys.set(k.id, {
        secret: this.unseal(k.secret_enc, k.id, `access key ${k.id}`),
        caller: { user: u.name, pi: u.pi, admin: u.admin === 1 },
      });
    }
    const roles = new Map<string, RoleCredentials>();
    for (const g of groups) {
      if (!g.role_access_key_id || !g.role_secret_enc) continue;
      const source = g.role_source
        ? (JSON.parse(g.role_source) as Pick<RoleCredentials, 'sts' | 'secretsEndpointUrl'>)
        : {};
      roles.set(this.roleArn(g.name), {
        accessKeyId: g.role_access_key_id,
        secretAccessKey: this.unseal(g.role_secret_enc, `role:${g.name}`, `the job role credentials of ${g.name}`),
        ...(g.role_endpoint_url ? { endpointUrl: g.role_endpoint_url } : {}),
        ...(g.role_region ? { region: g.role_region } : {}),
        ...(source.sts ? { sts: source.sts } : {}),
        ...(source.secretsEndpointUrl ? { secretsEndpointUrl: source.secretsEndpointUrl } : {}),
      });
    }
    this.keys = keys;
    this.roles = roles;
    this.userCount = users.size;
    this.version = version;
  }

  /**
   * As lookup, but a key this replica does not know yet is looked for in the store (when another replica changed the
   * identities since the last load): a key made on one replica works on every replica at once.
   */
  async lookupFresh(accessKeyId: string): Promise<{ secret: string; caller: Caller } | undefined> {
    const known = this.keys.get(accessKeyId);
    if (known || !this.poller) return known;
    try {
      if ((await this.store.version()) !== this.version) await this.reload();
    } catch {
      // The store is unreachable (or a key cannot be opened): refuse as unknown, as the last table says.
    }
    return this.keys.get(accessKeyId);
  }

  /** Opens a stored secret; a replica whose server-key differs from the one that sealed it is told what to do. */
  private unseal(sealed: string, aad: string, what: string): string {
    try {
      return this.box.open(sealed, aad);
    } catch (err) {
      throw new Error(
        `${what} in the store cannot be decrypted with ${this.box.file} (${(err as Error).message}): every replica needs the same server-key; copy it from the replica that made the keys (docs/scale-out.md)`,
        { cause: err },
      );
    }
  }

  /** The secret and caller of an enabled user's key; undefined for unknown keys and disabled users. */
  lookup(accessKeyId: string): { secret: string; caller: Caller } | undefined {
    return this.keys.get(accessKeyId);
  }

  /** Whether any user other than root exists. */
  hasUsers(): boolean {
    return this.userCount > 0;
  }

  roleArn(pi: string): string {
    return `arn:aws:iam::${this.accountId}:role/${pi}-batchtask`;
  }

  /** The object-store credentials a job role carries, if an admin set them. */
  roleCredentials(roleArn: string): RoleCredentials | undefined {
    return this.roles.get(roleArn);
  }

  private async view(u: UserRecord): Promise<UserView> {
    return {
      userName: u.name,
      pi: u.pi,
      admin: u.admin === 1,
      disabled: u.disabled === 1,
      accessKeyIds: (await this.store.keysOf(u.name)).map((k) => k.id),
      createdAt: new Date(u.created_at).toISOString(),
    };
  }

  private async requireUser(name: unknown): Promise<UserRecord> {
    const u = typeof name === 'string' ? await this.store.user(name) : undefined;
    if (!u)
      throw new ClientException(
        `userName ${JSON.stringify(name)} is not a user; list them with "openbatch admin users list" or create one with "openbatch admin onboard USER PI"`,
      );
    return u;
  }

  private async newKey(
    tx: IdentityOps,
    user: string,
    now: number,
  ): Promise<{ accessKeyId: string; secretAccessKey: string }> {
    const accessKeyId = newAccessKeyId('OBUK');
    const secretAccessKey = newSecretAccessKey();
    await tx.insertKey(accessKeyId, user, this.box.seal(secretAccessKey, accessKeyId), now);
    return { accessKeyId, secretAccessKey };
  }

  /** Creates the PI group, the user and a key as needed; idempotent (a second run creates nothing). */
  async onboard(userName: unknown, pi: unknown, rotateKey = false): Promise<OnboardResult> {
    const name = checkName('userName', userName, USER_NAME, 64);
    const group = checkName('pi', pi, PI_NAME, 54);
    const now = Date.now();
    const result = await this.store.transaction(async (tx) => {
      const created = { piGroup: false, user: false, accessKey: false };
      if (!(await tx.piGroup(group))) {
        await tx.insertPiGroup(group, now);
        created.piGroup = true;
      }
      const existing = await tx.user(name);
      if (existing && existing.pi !== group)
        throw new ClientException(
          `user ${name} already belongs to PI ${existing.pi}; a user belongs to exactly one PI group (onboard them under ${existing.pi}, or choose another user name)`,
        );
      if (!existing) {
        await tx.insertUser(name, group, now);
        created.user = true;
      }
      let key: { accessKeyId: string; secretAccessKey: string } | undefined;
      if (!existing || rotateKey || (await tx.keysOf(name)).length === 0) {
        await tx.deleteKeysOf(name);
        key = await this.newKey(tx, name, now);
        created.accessKey = true;
      }
      return { created, key };
    });
    await this.reload();
    return {
      user: await this.view(await this.requireUser(name)),
      created: result.created,
      jobRoleArn: this.roleArn(group),
      ...(result.key ?? {}),
    };
  }

  async listUsers(): Promise<UserView[]> {
    return Promise.all((await this.store.users()).map((u) => this.view(u)));
  }

  async setDisabled(userName: unknown, disabled: boolean): Promise<UserView> {
    const u = await this.requireUser(userName);
    await this.store.setUserFlag(u.name, 'disabled', disabled);
    await this.reload();
    return this.view(await this.requireUser(u.name));
  }

  async setAdmin(userName: unknown, admin: boolean): Promise<UserView> {
    const u = await this.requireUser(userName);
    await this.store.setUserFlag(u.name, 'admin', admin);
    await this.reload();
    return this.view(await this.requireUser(u.name));
  }

  /** Replaces the user's key: the old one is refused from now on. */
  async rotateKey(userName: unknown): Promise<{ user: UserView; accessKeyId: string; secretAccessKey: string }> {
    const u = await this.requireUser(userName);
    const key = await this.store.transaction(async (tx) => {
      await tx.deleteKeysOf(u.name);
      return this.newKey(tx, u.name, Date.now());
    });
    await this.reload();
    return { user: await this.view(await this.requireUser(u.name)), ...key };
  }

  async setRoleCredentials(pi: unknown, c: Partial<RoleCredentials>): Promise<{ pi: string; jobRoleArn: string }> {
    const group = typeof pi === 'string' ? await this.store.piGroup(pi) : undefined;
    if (!group)
      throw new ClientException(
        `pi ${JSON.stringify(pi)} is not a PI group; groups are created by "openbatch admin onboard USER PI"`,
      );
    if (
      typeof c.accessKeyId !== 'string' ||
      !c.accessKeyId ||
      typeof c.secretAccessKey !== 'string' ||
      !c.secretAccessKey
    )
      throw new ClientException(
        "accessKeyId and secretAccessKey are both required (the PI's object-store keys, or with an STS endpoint the keys that may call AssumeRole)",
      );
    if (c.endpointUrl !== undefined) checkUrl('endpointUrl', c.endpointUrl);
    // 'aws': AWS's own SSM and Secrets Manager endpoints (the SDK's defaults for the role's region).
    if (c.secretsEndpointUrl !== undefined && c.secretsEndpointUrl !== 'aws')
      checkUrl('secretsEndpointUrl', c.secretsEndpointUrl);
    const sts = c.sts ? checkSts(c.sts) : undefined;
    const source = {
      ...(sts ? { sts } : {}),
      ...(c.secretsEndpointUrl ? { secretsEndpointUrl: c.secretsEndpointUrl } : {}),
    };
    await this.store.setRole(
      group.name,
      c.accessKeyId,
      this.box.seal(c.secretAccessKey, `role:${group.name}`),
      c.endpointUrl ?? null,
      c.region ?? null,
      Object.keys(source).length ? JSON.stringify(source) : null,
    );
    await this.reload();
    return { pi: group.name, jobRoleArn: this.roleArn(group.name) };
  }
}
