/**
 * Users, PI groups and access keys: the glossary.
 * - PI group: a lab, named after its principal investigator (e.g. `peters-u`); owns jobs and job definitions, and
 *   has one job role `arn:aws:iam::<account>:role/<pi>-batchtask`, which may carry credentials for the lab's object store.
 * - user: belongs to exactly one PI group; may be disabled (all requests refused at once) or an admin.
 * - access key: (id, secret) of one user; a user has one active key; rotating replaces it at once.
 * - root: the server's root credentials (not stored here), always an admin.
 *
 * Lookups run on every request, so the whole key table is held decrypted in memory and rebuilt after each change.
 */
import { newAccessKeyId, newSecretAccessKey } from '../../api/auth/root-credentials.js';
import { ClientException } from '../../core/errors.js';
import type { SqliteIdentityStore, UserRow } from '../../store/sqlite/identity-store.js';
import type { Caller } from '../job-service.js';
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

export interface RoleCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  endpointUrl?: string;
  region?: string;
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

export class IdentityDirectory {
  private keys = new Map<string, { secret: string; caller: Caller }>();
  private roles = new Map<string, RoleCredentials>();
  private userCount = 0;

  constructor(
    private readonly store: SqliteIdentityStore,
    private readonly box: SecretBox,
    private readonly accountId: string,
  ) {
    this.reload();
  }

  /** Rebuilds the in-memory key and role tables from the store (after every change). */
  private reload(): void {
    const users = new Map(this.store.users().map((u) => [u.name, u]));
    const keys = new Map<string, { secret: string; caller: Caller }>();
    for (const k of this.store.accessKeys()) {
      const u = users.get(k.user_name);
      if (!u || u.disabled) continue;
      keys.set(k.id, {
        secret: this.box.open(k.secret_enc, k.id),
        caller: { user: u.name, pi: u.pi, admin: u.admin === 1 },
      });
    }
    const roles = new Map<string, RoleCredentials>();
    for (const g of this.store.piGroups()) {
      if (!g.role_access_key_id || !g.role_secret_enc) continue;
      roles.set(this.roleArn(g.name), {
        accessKeyId: g.role_access_key_id,
        secretAccessKey: this.box.open(g.role_secret_enc, `role:${g.name}`),
        ...(g.role_endpoint_url ? { endpointUrl: g.role_endpoint_url } : {}),
        ...(g.role_region ? { region: g.role_region } : {}),
      });
    }
    this.keys = keys;
    this.roles = roles;
    this.userCount = users.size;
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

  private view(u: UserRow): UserView {
    return {
      userName: u.name,
      pi: u.pi,
      admin: u.admin === 1,
      disabled: u.disabled === 1,
      accessKeyIds: this.store.keysOf(u.name).map((k) => k.id),
      createdAt: new Date(u.created_at).toISOString(),
    };
  }

  private requireUser(name: unknown): UserRow {
    const u = typeof name === 'string' ? this.store.user(name) : undefined;
    if (!u)
      throw new ClientException(
        `userName ${JSON.stringify(name)} is not a user; list them with "openbatch admin users list" or create one with "openbatch admin onboard USER PI"`,
      );
    return u;
  }

  private newKey(user: string, now: number): { accessKeyId: string; secretAccessKey: string } {
    const accessKeyId = newAccessKeyId('OBUK');
    const secretAccessKey = newSecretAccessKey();
    this.store.insertKey(accessKeyId, user, this.box.seal(secretAccessKey, accessKeyId), now);
    return { accessKeyId, secretAccessKey };
  }

  /** Creates the PI group, the user and a key as needed; idempotent (a second run creates nothing). */
  onboard(userName: unknown, pi: unknown, rotateKey = false): OnboardResult {
    const name = checkName('userName', userName, USER_NAME, 64);
    const group = checkName('pi', pi, PI_NAME, 54);
    const now = Date.now();
    const result = this.store.transaction(() => {
      const created = { piGroup: false, user: false, accessKey: false };
      if (!this.store.piGroup(group)) {
        this.store.insertPiGroup(group, now);
        created.piGroup = true;
      }
      const existing = this.store.user(name);
      if (existing && existing.pi !== group)
        throw new ClientException(
          `user ${name} already belongs to PI ${existing.pi}; a user belongs to exactly one PI group (onboard them under ${existing.pi}, or choose another user name)`,
        );
      if (!existing) {
        this.store.insertUser(name, group, now);
        created.user = true;
      }
      let key: { accessKeyId: string; secretAccessKey: string } | undefined;
      if (!existing || rotateKey || this.store.keysOf(name).length === 0) {
        this.store.deleteKeysOf(name);
        key = this.newKey(name, now);
        created.accessKey = true;
      }
      return { created, key };
    });
    this.reload();
    return {
      user: this.view(this.requireUser(name)),
      created: result.created,
      jobRoleArn: this.roleArn(group),
      ...(result.key ?? {}),
    };
  }

  listUsers(): UserView[] {
    return this.store.users().map((u) => this.view(u));
  }

  setDisabled(userName: unknown, disabled: boolean): UserView {
    const u = this.requireUser(userName);
    this.store.setUserFlag(u.name, 'disabled', disabled);
    this.reload();
    return this.view(this.requireUser(u.name));
  }

  setAdmin(userName: unknown, admin: boolean): UserView {
    const u = this.requireUser(userName);
    this.store.setUserFlag(u.name, 'admin', admin);
    this.reload();
    return this.view(this.requireUser(u.name));
  }

  /** Replaces the user's key: the old one is refused from now on. */
  rotateKey(userName: unknown): { user: UserView; accessKeyId: string; secretAccessKey: string } {
    const u = this.requireUser(userName);
    const key = this.store.transaction(() => {
      this.store.deleteKeysOf(u.name);
      return this.newKey(u.name, Date.now());
    });
    this.reload();
    return { user: this.view(this.requireUser(u.name)), ...key };
  }

  setRoleCredentials(pi: unknown, c: Partial<RoleCredentials>): { pi: string; jobRoleArn: string } {
    const group = typeof pi === 'string' ? this.store.piGroup(pi) : undefined;
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
      throw new ClientException('accessKeyId and secretAccessKey are both required (the lab object store credentials)');
    if (c.endpointUrl !== undefined && !/^https?:\/\/\S+$/.test(c.endpointUrl))
      throw new ClientException(
        `endpointUrl ${JSON.stringify(c.endpointUrl)} must be an http(s) URL, e.g. https://s3.lab.example.org`,
      );
    this.store.setRole(
      group.name,
      c.accessKeyId,
      this.box.seal(c.secretAccessKey, `role:${group.name}`),
      c.endpointUrl ?? null,
      c.region ?? null,
    );
    this.reload();
    return { pi: group.name, jobRoleArn: this.roleArn(group.name) };
  }
}
