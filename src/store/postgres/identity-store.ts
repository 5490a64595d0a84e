/**
 * The identity store on PostgreSQL: SqliteIdentityStore's contract (store/sqlite/identity-store.ts) on the shared
 * database. Triggers (migrations.ts) bump identity_version and NOTIFY `identities` in the transaction of every change
 * of groups, users or keys, so every replica reloads its key table.
 */
import type pg from 'pg';
import type {
  AccessKeyRecord,
  AuditRecord,
  IdentityOps,
  IdentityStore,
  PiGroupRecord,
  SecretValueStore,
  UserRecord,
} from '../../core/ports.js';
import { storeError, type PgDatabase } from './database.js';
import { pgSecretValues } from './secret-values.js';

type Run = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<R[]>;

/** The reads and writes, over a pool (each its own statement) or one transaction's connection. */
function identityOps(run: Run): IdentityOps {
  return {
    piGroups: () => run<PiGroupRecord>('SELECT * FROM pi_groups ORDER BY name'),
    piGroup: async (name) => (await run<PiGroupRecord>('SELECT * FROM pi_groups WHERE name = $1', [name]))[0],
    insertPiGroup: async (name, at) => {
      await run('INSERT INTO pi_groups (name, created_at) VALUES ($1, $2)', [name, at]);
    },
    setRole: async (pi, accessKeyId, secretEnc, endpointUrl, region, source) => {
      await run(
        'UPDATE pi_groups SET role_access_key_id = $1, role_secret_enc = $2, role_endpoint_url = $3, role_region = $4, role_source = $5 WHERE name = $6',
        [accessKeyId, secretEnc, endpointUrl, region, source, pi],
      );
    },
    users: () => run<UserRecord>('SELECT * FROM users ORDER BY name'),
    user: async (name) => (await run<UserRecord>('SELECT * FROM users WHERE name = $1', [name]))[0],
    insertUser: async (name, pi, at) => {
      await run('INSERT INTO users (name, pi, created_at) VALUES ($1, $2, $3)', [name, pi, at]);
    },
    setUserFlag: async (name, flag, value) => {
      // `flag` is one of two literal column names, never user input.
      await run(`UPDATE users SET ${flag === 'admin' ? 'admin' : 'disabled'} = $1 WHERE name = $2`, [
        value ? 1 : 0,
        name,
      ]);
    },
    accessKeys: () => run<AccessKeyRecord>('SELECT * FROM access_keys ORDER BY created_at, id'),
    keysOf: (user) => run<AccessKeyRecord>('SELECT * FROM access_keys WHERE user_name = $1', [user]),
    insertKey: async (id, user, secretEnc, at) => {
      await run('INSERT INTO access_keys (id, user_name, secret_enc, created_at) VALUES ($1, $2, $3, $4)', [
        id,
        user,
        secretEnc,
        at,
      ]);
    },
    deleteKeysOf: async (user) => {
      await run('DELETE FROM access_keys WHERE user_name = $1', [user]);
    },
  };
}

export class PostgresIdentityStore implements IdentityStore {
  readonly kind = 'postgres';
  private readonly ops: IdentityOps;
  readonly secretValues: SecretValueStore;

  constructor(private readonly db: PgDatabase) {
    db.hold();
    this.ops = identityOps((text, values) => db.query(text, values));
    this.secretValues = pgSecretValues(db);
  }

  migrate(): Promise<void> {
    return this.db.migrate();
  }

  transaction<T>(fn: (tx: IdentityOps) => Promise<T>): Promise<T> {
    return this.db.transaction((c) =>
      fn(
        identityOps(async (text, values) => {
          try {
            return (await c.query(text, values)).rows;
          } catch (err) {
            throw storeError(err);
          }
        }),
      ),
    );
  }

  async version(): Promise<number> {
    const [r] = await this.db.query<{ version: number }>(
      'SELECT version FROM identity_version WHERE id = 1',
      [],
      'identity-version',
    );
    return r?.version ?? 0;
  }

  piGroups = (): Promise<PiGroupRecord[]> => this.ops.piGroups();
  piGroup = (name: string): Promise<PiGroupRecord | undefined> => this.ops.piGroup(name);
  insertPiGroup = (name: string, at: number): Promise<void> => this.ops.insertPiGroup(name, at);
  setRole = (
    pi: string,
    accessKeyId: string,
    secretEnc: string,
    endpointUrl: string | null,
    region: string | null,
    source: string | null,
  ): Promise<void> => this.ops.setRole(pi, accessKeyId, secretEnc, endpointUrl, region, source);
  users = (): Promise<UserRecord[]> => this.ops.users();
  user = (name: string): Promise<UserRecord | undefined> => this.ops.user(name);
  insertUser = (name: string, pi: string, at: number): Promise<void> => this.ops.insertUser(name, pi, at);
  setUserFlag = (name: string, flag: 'admin' | 'disabled', value: boolean): Promise<void> =>
    this.ops.setUserFlag(name, flag, value);
  accessKeys = (): Promise<AccessKeyRecord[]> => this.ops.accessKeys();
  keysOf = (user: string): Promise<AccessKeyRecord[]> => this.ops.keysOf(user);
  insertKey = (id: string, user: string, secretEnc: string, at: number): Promise<void> =>
    this.ops.insertKey(id, user, secretEnc, at);
  deleteKeysOf = (user: string): Promise<void> => this.ops.deleteKeysOf(user);

  async appendAudit(rows: readonly AuditRecord[]): Promise<void> {
    if (!rows.length) return;
    const col = <K extends keyof AuditRecord>(k: K) => rows.map((r) => r[k]);
    await this.db.query(
      `INSERT INTO audit (at, user_name, pi, operation, target, source, outcome)
       SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])`,
      [col('at'), col('user_name'), col('pi'), col('operation'), col('target'), col('source'), col('outcome')],
      'append-audit',
    );
  }

  async audit(q: { limit: number; beforeSeq?: number; user?: string }): Promise<AuditRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.beforeSeq !== undefined) {
      args.push(q.beforeSeq);
      where.push(`seq < $${args.length}`);
    }
    if (q.user !== undefined) {
      args.push(q.user);
      where.push(`user_name = $${args.length}`);
    }
    args.push(q.limit);
    return this.db.query<AuditRecord>(
      `SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT $${args.length}`,
      args,
    );
  }

  close(): Promise<void> {
    return this.db.release();
  }
}
