/**
 * Copies a SQLite data directory (openbatch.db, logs.db, identity.db) into a PostgreSQL database: resources, job
 * history with tags, pending intents, log streams and their events, PI groups, users, keys, the audit log and the
 * per-PI secret store. Runtime
 * state (leader lease, replicas, engine state) is not copied: the replicas make it anew.
 *
 * Idempotent and resumable: every table goes in keyset batches (by its key, in the source's order), each batch one
 * transaction of `INSERT ... ON CONFLICT DO NOTHING` that keeps the source's keys, so a second run (or a run after an
 * interrupted one) adds exactly what is missing. Afterwards the identity sequences are moved past the copied keys.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { PgDatabase } from './postgres/database.js';
import { SqliteIdentityStore } from './sqlite/identity-store.js';
import { SqliteLogStore } from './sqlite/log-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

/** One table's copy: where it comes from, its keyset column, and the PostgreSQL columns (with array types). */
interface TablePlan {
  file: 'openbatch.db' | 'logs.db' | 'identity.db';
  table: string;
  /** The SQLite keyset: rowid keeps resources in the order they were made (their listing order). */
  key: string;
  columns: [name: string, pgType: string][];
  conflict: string;
  /** PostgreSQL BIGSERIAL to move past the copied keys. */
  sequence?: string;
  batch: number;
}

const t = (name: string, type = 'text'): [string, string] => [name, type];
const RESOURCE = [t('arn'), t('name'), t('doc')];

const PLANS: TablePlan[] = [
  {
    file: 'identity.db',
    table: 'pi_groups',
    key: 'rowid',
    conflict: '(name)',
    batch: 500,
    columns: [
      t('name'),
      t('created_at', 'int8'),
      t('role_access_key_id'),
      t('role_secret_enc'),
      t('role_endpoint_url'),
      t('role_region'),
      t('role_source'),
    ],
  },
  {
    file: 'identity.db',
    table: 'users',
    key: 'rowid',
    conflict: '(name)',
    batch: 500,
    columns: [t('name'), t('pi'), t('admin', 'int4'), t('disabled', 'int4'), t('created_at', 'int8')],
  },
  {
    file: 'identity.db',
    table: 'access_keys',
    key: 'rowid',
    conflict: '(id)',
    batch: 500,
    columns: [t('id'), t('user_name'), t('secret_enc'), t('created_at', 'int8')],
  },
  {
    file: 'identity.db',
    table: 'audit',
    key: 'seq',
    conflict: '(seq)',
    sequence: 'audit_seq_seq',
    batch: 2000,
    columns: [
      t('seq', 'int8'),
      t('at', 'int8'),
      t('user_name'),
      t('pi'),
      t('operation'),
      t('target'),
      t('source'),
      t('outcome'),
    ],
  },
  {
    file: 'identity.db',
    table: 'pi_secret_values',
    key: 'rowid',
    conflict: '(kind, name)',
    batch: 500,
    columns: [
      t('kind'),
      t('name'),
      t('pi'),
      t('arn'),
      t('type'),
      t('description'),
      t('value_enc'),
      t('version', 'int4'),
      t('version_id'),
      t('previous_enc'),
      t('previous_type'),
      t('previous_version_id'),
      t('created_at', 'int8'),
      t('updated_at', 'int8'),
      t('updated_by'),
      t('deletion_date', 'int8'),
    ],
  },
  {
    file: 'openbatch.db',
    table: 'compute_environments',
    key: 'rowid',
    conflict: '(arn)',
    batch: 500,
    columns: RESOURCE,
  },
  { file: 'openbatch.db', table: 'job_queues', key: 'rowid', conflict: '(arn)', batch: 500, columns: RESOURCE },
  {
    file: 'openbatch.db',
    table: 'job_definitions',
    key: 'rowid',
    conflict: '(arn)',
    batch: 500,
    columns: [t('arn'), t('name'), t('revision', 'int4'), t('status'), t('doc')],
  },
  {
    file: 'openbatch.db',
    table: 'consumable_resources',
    key: 'rowid',
    conflict: '(arn)',
    batch: 500,
    columns: RESOURCE,
  },
  {
    file: 'openbatch.db',
    table: 'scheduling_policies',
    key: 'rowid',
    conflict: '(arn)',
    batch: 500,
    columns: RESOURCE,
  },
  {
    file: 'openbatch.db',
    table: 'jobs',
    key: 'rowid',
    conflict: '(id)',
    batch: 1000,
    columns: [
      t('id'),
      t('name_lc'),
      t('queue_arn'),
      t('status'),
      t('created_at', 'int8'),
      t('stopped_at', 'int8'),
      t('job_def_arn'),
      t('job_def_name'),
      t('array_parent'),
      t('array_index', 'int4'),
      t('pi'),
      t('doc'),
      t('tags'),
      t('sched'),
    ],
  },
  {
    file: 'openbatch.db',
    table: 'job_intents',
    key: 'seq',
    conflict: '(seq)',
    sequence: 'job_intents_seq_seq',
    batch: 1000,
    columns: [t('seq', 'int8'), t('job_id'), t('action'), t('reason'), t('at', 'int8')],
  },
  {
    file: 'logs.db',
    table: 'log_streams',
    key: 'id',
    conflict: '(id)',
    sequence: 'log_streams_id_seq',
    batch: 1000,
    columns: [
      t('id', 'int8'),
      t('name'),
      t('job_id'),
      t('attempt', 'int4'),
      t('pi'),
      t('created_at', 'int8'),
      t('first_ts', 'int8'),
      t('last_ts', 'int8'),
      t('last_ingest', 'int8'),
      t('event_count', 'int8'),
      t('stored_bytes', 'int8'),
      t('closed_at', 'int8'),
    ],
  },
  // Chunks are ~64 KB each: small batches, one row per statement (binary BYTEA parameters).
  {
    file: 'logs.db',
    table: 'log_chunks',
    key: 'rowid',
    conflict: '(stream_id, first_seq)',
    batch: 64,
    columns: [
      t('stream_id', 'int8'),
      t('first_seq', 'int8'),
      t('end_seq', 'int8'),
      t('first_ts', 'int8'),
      t('last_ts', 'int8'),
      t('ingest', 'int8'),
      t('data', 'bytea'),
    ],
  },
];

export interface CopyProgress {
  table: string;
  /** Rows of this table read so far, and in all. */
  done: number;
  total: number;
  /** Rows of every table read so far, and in all. */
  doneAll: number;
  totalAll: number;
  /** Rows this run added (the others were there already). */
  inserted: number;
}

export interface CopyResult {
  tables: { table: string; rows: number; inserted: number }[];
}

/** Checks the source and brings its schema up to date (older releases' files are migrated in place first). */
function openSource(dataDir: string): Record<TablePlan['file'], Database.Database> {
  const file = (f: string) => join(dataDir, f);
  if (!existsSync(file('openbatch.db')))
    throw new Error(
      `${dataDir} holds no openbatch.db: --from must be the data directory of a SQLite openbatch (the server's --data, default ./openbatch-data)`,
    );
  // Opening each store applies its migrations (and refuses files newer than this release).
  new SqliteStore({ file: file('openbatch.db'), writerThread: false }).close().catch(() => undefined);
  new SqliteIdentityStore(file('identity.db')).close().catch(() => undefined);
  new SqliteLogStore({ file: file('logs.db') }).close().catch(() => undefined);
  const open = (f: string) => new Database(file(f), { fileMustExist: true });
  return { 'openbatch.db': open('openbatch.db'), 'logs.db': open('logs.db'), 'identity.db': open('identity.db') };
}

export async function copySqliteToPostgres(
  opts: { from: string; to: string },
  onProgress: (p: CopyProgress) => void = () => undefined,
): Promise<CopyResult> {
  const source = openSource(opts.from);
  const db = await PgDatabase.open({ url: opts.to, max: 2 });
  try {
    await db.migrate();
    const totals = PLANS.map(
      (p) => (source[p.file].prepare(`SELECT COUNT(*) AS n FROM ${p.table}`).get() as { n: number }).n,
    );
    const totalAll = totals.reduce((a, b) => a + b, 0);
    let doneAll = 0;
    const result: CopyResult = { tables: [] };
    for (const [i, plan] of PLANS.entries()) {
      const total = totals[i]!;
      let done = 0;
      let inserted = 0;
      const names = plan.columns.map(([n]) => n);
      const read = source[plan.file].prepare(
        `SELECT ${plan.key} AS k, ${names.join(', ')} FROM ${plan.table} WHERE ${plan.key} > ? ORDER BY ${plan.key} LIMIT ${plan.batch}`,
      );
      let after = Number.MIN_SAFE_INTEGER;
      for (;;) {
        const rows = read.all(after) as Record<string, unknown>[];
        if (!rows.length) break;
        inserted += await db.transaction((c) => insertBatch(c, plan, rows));
        after = rows[rows.length - 1]!.k as number;
        done += rows.length;
        doneAll += rows.length;
        onProgress({ table: plan.table, done, total, doneAll, totalAll, inserted });
      }
      if (plan.sequence)
        await db.query(
          `SELECT setval('${plan.sequence}', GREATEST((SELECT COALESCE(MAX(${names[0]}), 0) FROM ${plan.table}), 1))`,
        );
      result.tables.push({ table: plan.table, rows: done, inserted });
    }
    return result;
  } finally {
    for (const s of Object.values(source)) s.close();
    db.hold();
    await db.release();
  }
}

/** One batch; returns how many rows were new. */
async function insertBatch(c: pg.PoolClient, plan: TablePlan, rows: Record<string, unknown>[]): Promise<number> {
  const names = plan.columns.map(([n]) => n);
  if (plan.columns.some(([, type]) => type === 'bytea')) {
    let n = 0;
    for (const r of rows)
      n += (
        await c.query({
          name: `copy-${plan.table}`,
          text: `INSERT INTO ${plan.table} (${names.join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')})
                 ON CONFLICT ${plan.conflict} DO NOTHING`,
          values: names.map((col) => r[col]),
        })
      ).rowCount!;
    return n;
  }
  const res = await c.query({
    name: `copy-${plan.table}`,
    text: `INSERT INTO ${plan.table} (${names.join(', ')})
           SELECT * FROM unnest(${plan.columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')})
           ON CONFLICT ${plan.conflict} DO NOTHING`,
    values: names.map((col) => rows.map((r) => r[col])),
  });
  return res.rowCount!;
}
