/**
 * One PostgreSQL database shared by the store, the log store and the identity store of a replica: a connection pool,
 * one dedicated LISTEN connection (see listener.ts), the migrations (applied once), and the one place where the
 * driver's errors become ours: a lost or refused connection is a StoreUnavailableException (503, clients retry).
 */
import pg from 'pg';
import { StoreUnavailableException } from '../../core/errors.js';
import { applyPgMigrations } from './migrate.js';
import { PgListener } from './listener.js';

/** int8 (COUNT, BIGINT columns: epoch milliseconds) as a JS number; every value we store fits in 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Node socket errors and SQLSTATEs that mean "the database is not reachable now", not "the query is wrong". */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down)
  '53300', // too_many_connections
  '40001', // serialization_failure: retrying is the fix
  '40P01', // deadlock_detected: likewise
]);
const UNAVAILABLE_MESSAGE =
  /Connection terminated|connection timeout|not currently accepting connections|timeout exceeded when trying to connect|not queryable|Client was closed|Cannot use a pool after calling end/i;

export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  if (!e) return false;
  if (e.code && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  return UNAVAILABLE_MESSAGE.test(e.message ?? '');
}

/** The driver's error as ours: unreachable database → 503 StoreUnavailableException; anything else unchanged. */
export function storeError(err: unknown): unknown {
  if (err instanceof StoreUnavailableException || !isUnavailable(err)) return err;
  return new StoreUnavailableException(
    `the database (PostgreSQL) is unreachable for now (${(err as Error).message}); nothing was written, retry shortly`,
  );
}

export interface PgTarget {
  host: string;
  port: number;
  database: string;
  user: string;
}

/** What a connection string points at, for messages (never the password). */
export function describeUrl(url: string): PgTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(
      `--database-url ${JSON.stringify(redact(url))} is not a URL; write it as postgres://USER:PASSWORD@HOST:5432/DATABASE`,
    );
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    throw new Error(
      `--database-url must start with postgres:// (got ${u.protocol}//); write it as postgres://USER:PASSWORD@HOST:5432/DATABASE`,
    );
  return {
    host: decodeURIComponent(u.hostname || u.searchParams.get('host') || 'localhost'),
    port: Number(u.port || 5432),
    database: decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username) || 'postgres',
    user: decodeURIComponent(u.username) || process.env.USER || 'postgres',
  };
}

/** The URL with its password replaced, for messages and logs. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

/** Why connecting failed, in words that say what to check. */
export function explainConnectError(err: unknown, t: PgTarget): string {
  const e = err as { code?: string; message?: string };
  const where = `PostgreSQL at ${t.host}:${t.port} (database "${t.database}", user "${t.user}")`;
  switch (e.code) {
    case 'ECONNREFUSED':
      return `cannot connect to ${where}: connection refused. Check that PostgreSQL runs and listens on that host and port (listen_addresses, port in postgresql.conf) and that --database-url names them`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot connect to ${where}: the host name "${t.host}" does not resolve. Check the host in --database-url`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `cannot connect to ${where}: no answer (${e.code}). Check the host and port in --database-url and any firewall between`;
    case '28P01':
    case '28000':
      return `${where} refused the credentials (${e.message}). Check the user and password in --database-url and pg_hba.conf`;
    case '3D000':
      return `${where}: the database "${t.database}" does not exist. Create it (createdb -h ${t.host} -p ${t.port} -U ${t.user} ${t.database}) or fix the database name in --database-url`;
    default:
      return `cannot use ${where}: ${e.message ?? String(err)}. Check the host, port, database and credentials in --database-url`;
  }
}

export interface PgDatabaseOptions {
  url: string;
  /** Pool size (default OPENBATCH_DATABASE_POOL_SIZE or 16). */
  max?: number;
}

/**
 * Opened once per process by the factory (store/open-stores.ts) and shared by the three stores; closed when the last
 * of them closes.
 */
export class PgDatabase {
  readonly pool: pg.Pool;
  readonly listener: PgListener;
  readonly target: PgTarget;
  private users = 0;
  private migrated: Promise<void> | undefined;

  private constructor(
    readonly url: string,
    max: number,
  ) {
    this.target = describeUrl(url);
    const config = { connectionString: url, types, connectionTimeoutMillis: 5000 };
    this.pool = new pg.Pool({ ...config, max, idleTimeoutMillis: 30_000 });
    // An idle connection that the server drops emits here; without a listener it would crash the process.
    this.pool.on('error', () => undefined);
    // Every connection keeps a listener of its own for its whole life: pg-pool listens to a checked-out client only
    // once per query, and a server shutting down sends an error and then ends the connection (two events), so the
    // second would crash the process with an unhandled 'error'. Queries still fail with their own error.
    this.pool.on('connect', (client) => client.on('error', () => undefined));
    this.listener = new PgListener(config);
  }

  /** Connects once and checks the schema; a wrong or unreachable URL fails here with what to check. */
  static async open(opts: PgDatabaseOptions): Promise<PgDatabase> {
    const envMax = Number(process.env.OPENBATCH_DATABASE_POOL_SIZE);
    const db = new PgDatabase(opts.url, opts.max ?? (envMax > 0 ? envMax : 16));
    try {
      await db.pool.query('SELECT 1');
    } catch (err) {
      await db.pool.end().catch(() => undefined);
      throw new Error(explainConnectError(err, db.target), { cause: err });
    }
    return db;
  }

  /** Applies the migrations once per process (each store's migrate() calls it). */
  migrate(): Promise<void> {
    this.migrated ??= applyPgMigrations(this.pool, this.target.database).catch((err: unknown) => {
      this.migrated = undefined;
      throw err;
    });
    return this.migrated;
  }

  /** Each store holds the database while open. */
  hold(): void {
    this.users++;
  }

  async release(): Promise<void> {
    if (--this.users > 0) return;
    await this.listener.close();
    await this.pool.end().catch(() => undefined);
  }

  /** One statement (a named one is prepared once per connection). */
  async query<R extends pg.QueryResultRow>(text: string, values?: unknown[], name?: string): Promise<R[]> {
    try {
      return (await this.pool.query<R>(name ? { name, text, values: values ?? [] } : { text, values: values ?? [] }))
        .rows;
    } catch (err) {
      throw storeError(err);
    }
  }

  /** Runs `fn` in one transaction on one connection: all of it commits, or none of it. */
  async transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw storeError(err);
    }
    let broken: unknown;
    // A checked-out client has no listener of its own (the pool's is for idle ones): the server ending the
    // connection between two statements (a shutdown, a terminated backend) would crash the process.
    const onError = (err: Error) => (broken ??= err);
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      if (isUnavailable(err)) broken = err;
      else await client.query('ROLLBACK').catch((e: unknown) => (broken = e));
      throw storeError(err);
    } finally {
      // A connection that failed mid-transaction is destroyed rather than reused.
      client.removeListener('error', onError);
      client.release(broken instanceof Error ? broken : broken !== undefined);
    }
  }
}
