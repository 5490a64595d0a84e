/**
 * The SQLite store (better-sqlite3, WAL). Documents are kept whole as JSON next to the columns that queries use.
 * better-sqlite3 is synchronous; the async Store contract is kept so that networked backends fit the same port.
 */
import Database from 'better-sqlite3';
import { applyMigrations } from './migrate.js';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { JobListQuery, JobPage, ResourceSnapshot, Store, UsageRow } from '../../core/ports.js';
import type {
  ComputeEnvironment,
  Job,
  JobDefinition,
  JobQueue,
  JobStatus,
  SchedulingPolicy,
} from '../../core/types.js';
import { Worker } from 'node:worker_threads';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { jobRows, upsertJobRows, UPSERT_JOB_SQL } from './job-rows.js';
import type { WriterReply, WriterRequest } from './sqlite-writer.js';

/** The highest code point, appended to a prefix to make an index range scan. */
const PREFIX_END = '\u{10FFFF}';

export interface SqliteStoreOptions {
  /** Path of the database file, or ':memory:'. */
  file: string;
  /** fsync every commit (survives power loss) when true; the default. */
  durable?: boolean;
  /**
   * Commit job writes on a worker thread (default for files) so the main thread does not wait for fsync; see
   * sqlite-writer.ts.
   */
  writerThread?: boolean;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;
  private readonly upsertJob: Database.Statement;
  private readonly getJob: Database.Statement;
  private readonly writeJobsTx: (jobs: readonly Job[]) => void;
  private writer: Worker | undefined;
  private checkpointer: Worker | undefined;
  private nextWrite = 0;
  private readonly writes = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();

  constructor(opts: SqliteStoreOptions) {
    if (opts.file !== ':memory:') mkdirSync(dirname(opts.file), { recursive: true });
    this.db = new Database(opts.file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${opts.durable === false ? 'NORMAL' : 'FULL'}`);
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.migrateSync();
    this.upsertJob = this.db.prepare(UPSERT_JOB_SQL);
    this.getJob = this.db.prepare('SELECT doc FROM jobs WHERE id = ?');
    this.writeJobsTx = this.db.transaction((jobs: readonly Job[]) => upsertJobRows(this.upsertJob, jobRows(jobs)));
    if (opts.file !== ':memory:' && opts.writerThread !== false) this.startWriter(opts.file, opts.durable !== false);
  }

  private startWriter(file: string, durable: boolean): void {
    const url = new URL('./sqlite-writer.js', import.meta.url);
    this.db.pragma('wal_autocheckpoint = 0'); // the checkpointer thread does it (see sqlite-writer.ts)
    this.checkpointer = new Worker(url, { workerData: { file, durable, role: 'checkpointer' } });
    this.checkpointer.unref();
    const w = new Worker(url, { workerData: { file, durable, role: 'writer' } });
    w.on('message', (r: WriterReply) => {
      const p = this.writes.get(r.id);
      this.writes.delete(r.id);
      if (this.writes.size === 0) w.unref();
      if (r.error === undefined) p?.resolve();
      else p?.reject(new Error(`SQLite write failed: ${r.error}`));
    });
    w.on('error', (err) => {
      for (const p of this.writes.values()) p.reject(err);
      this.writes.clear();
      this.writer = undefined;
    });
    w.unref(); // referenced only while a write is pending, so an idle store never keeps the process alive
    this.writer = w;
  }

  private migrateSync(): void {
    applyMigrations(this.db, SQLITE_MIGRATIONS);
  }

  async migrate(): Promise<void> {
    this.migrateSync();
  }

  async close(): Promise<void> {
    const w = this.writer;
    if (w) {
      this.writer = undefined;
      const exited = new Promise((r) => w.once('exit', r));
      w.ref();
      w.postMessage('close');
      await exited;
    }
    const c = this.checkpointer;
    if (c) {
      this.checkpointer = undefined;
      const exited = new Promise((r) => c.once('exit', r));
      c.ref();
      c.postMessage('close');
      await exited;
    }
    this.db.close();
  }

  async loadResources(): Promise<ResourceSnapshot> {
    const docs = <T>(table: string): T[] =>
      (this.db.prepare(`SELECT doc FROM ${table} ORDER BY rowid`).all() as { doc: string }[]).map(
        (r) => JSON.parse(r.doc) as T,
      );
    return {
      computeEnvironments: docs<ComputeEnvironment>('compute_environments'),
      jobQueues: docs<JobQueue>('job_queues'),
      jobDefinitions: docs<JobDefinition>('job_definitions'),
      schedulingPolicies: docs<SchedulingPolicy>('scheduling_policies'),
    };
  }

  async putComputeEnvironment(ce: ComputeEnvironment): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO compute_environments (arn, name, doc) VALUES (?, ?, ?) ON CONFLICT (arn) DO UPDATE SET doc = excluded.doc',
      )
      .run(ce.computeEnvironmentArn, ce.computeEnvironmentName, JSON.stringify(ce));
  }

  async deleteComputeEnvironment(arn: string): Promise<void> {
    this.db.prepare('DELETE FROM compute_environments WHERE arn = ?').run(arn);
  }

  async putJobQueue(q: JobQueue): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO job_queues (arn, name, doc) VALUES (?, ?, ?) ON CONFLICT (arn) DO UPDATE SET doc = excluded.doc',
      )
      .run(q.jobQueueArn, q.jobQueueName, JSON.stringify(q));
  }

  async deleteJobQueue(arn: string): Promise<void> {
    this.db.prepare('DELETE FROM job_queues WHERE arn = ?').run(arn);
  }

  async putJobDefinition(d: JobDefinition): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO job_definitions (arn, name, revision, status, doc) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (arn) DO UPDATE SET status = excluded.status, doc = excluded.doc`,
      )
      .run(d.jobDefinitionArn, d.jobDefinitionName, d.revision, d.status, JSON.stringify(d));
  }

  async putSchedulingPolicy(p: SchedulingPolicy): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO scheduling_policies (arn, name, doc) VALUES (?, ?, ?) ON CONFLICT (arn) DO UPDATE SET doc = excluded.doc',
      )
      .run(p.arn, p.name, JSON.stringify(p));
  }

  async deleteSchedulingPolicy(arn: string): Promise<void> {
    this.db.prepare('DELETE FROM scheduling_policies WHERE arn = ?').run(arn);
  }

  async writeJobs(jobs: readonly Job[]): Promise<void> {
    if (!jobs.length) return;
    const w = this.writer;
    if (!w) return this.writeJobsTx(jobs);
    const id = this.nextWrite++;
    const done = new Promise<void>((resolve, reject) => this.writes.set(id, { resolve, reject }));
    w.ref();
    w.postMessage({ id, rows: jobRows(jobs) } satisfies WriterRequest);
    return done;
  }

  async getJobs(ids: readonly string[]): Promise<Job[]> {
    const out: Job[] = [];
    for (const id of ids) {
      const row = this.getJob.get(id) as { doc: string } | undefined;
      if (row) out.push(JSON.parse(row.doc) as Job);
    }
    return out;
  }

  async listJobs(q: JobListQuery): Promise<JobPage> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.jobQueueArn !== undefined) {
      where.push('queue_arn = ?');
      args.push(q.jobQueueArn);
    }
    if (q.arrayJobId !== undefined) {
      where.push('array_parent = ?');
      args.push(q.arrayJobId);
    } else if (!q.includeChildren) {
      // As AWS: a queue's listing shows array parents; their children are listed by arrayJobId.
      where.push('array_parent IS NULL');
    }
    if (q.statuses) {
      where.push(`status IN (${q.statuses.map(() => '?').join(',')})`);
      args.push(...q.statuses);
    }
    if (q.jobName) {
      const v = q.jobName.value.toLowerCase();
      if (q.jobName.prefix) {
        where.push('name_lc >= ? AND name_lc < ?');
        args.push(v, v + PREFIX_END);
      } else {
        where.push('name_lc = ?');
        args.push(v);
      }
    }
    if (q.jobDefinition) {
      const v = q.jobDefinition.value;
      if (v.startsWith('arn:')) {
        where.push(q.jobDefinition.prefix ? 'job_def_arn >= ? AND job_def_arn < ?' : 'job_def_arn = ?');
        args.push(v, ...(q.jobDefinition.prefix ? [v + PREFIX_END] : []));
      } else if (!q.jobDefinition.prefix && v.includes(':')) {
        where.push('job_def_arn LIKE ?');
        args.push(`%:job-definition/${v.replace(/[%_]/g, '')}`);
      } else if (q.jobDefinition.prefix) {
        where.push('job_def_name >= ? AND job_def_name < ?');
        args.push(v, v + PREFIX_END);
      } else {
        where.push('job_def_name = ?');
        args.push(v);
      }
    }
    if (q.search) {
      const s = q.search;
      where.push('((id >= ? AND id < ?) OR (name_lc >= ? AND name_lc < ?))');
      args.push(s, s + PREFIX_END, s.toLowerCase(), s.toLowerCase() + PREFIX_END);
    }
    if (q.createdAfter !== undefined) {
      where.push('created_at > ?');
      args.push(q.createdAfter);
    }
    if (q.createdBefore !== undefined) {
      where.push('created_at < ?');
      args.push(q.createdBefore);
    }
    if (q.pi !== undefined) {
      where.push('pi = ?');
      args.push(q.pi);
    }
    if (q.user !== undefined) {
      where.push("json_extract(doc, '$.owner.user') = ?");
      args.push(q.user);
    }
    if (q.after) {
      where.push('(created_at < ? OR (created_at = ? AND id < ?))');
      args.push(q.after.createdAt, q.after.createdAt, q.after.jobId);
    }
    const byIndex = q.arrayJobId !== undefined;
    if (byIndex && q.afterIndex !== undefined) {
      where.push('array_index > ?');
      args.push(q.afterIndex);
    }
    const order = byIndex ? 'array_index ASC' : 'created_at DESC, id DESC';
    const sql = `SELECT doc FROM jobs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${order} LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, q.limit + 1) as { doc: string }[];
    const jobs = rows.slice(0, q.limit).map((r) => JSON.parse(r.doc) as Job);
    const lastJob = jobs[jobs.length - 1];
    return rows.length > q.limit && lastJob
      ? { jobs, last: { createdAt: lastJob.createdAt, jobId: lastJob.jobId } }
      : { jobs };
  }

  async loadActiveJobs(): Promise<Job[]> {
    const rows = this.db
      .prepare("SELECT doc FROM jobs WHERE status NOT IN ('SUCCEEDED', 'FAILED') ORDER BY created_at, id")
      .all() as { doc: string }[];
    return rows.map((r) => JSON.parse(r.doc) as Job);
  }

  async purgeJobs(before: number): Promise<string[]> {
    const rows = this.db
      .prepare('DELETE FROM jobs WHERE stopped_at IS NOT NULL AND stopped_at < ? RETURNING id')
      .all(before) as {
      id: string;
    }[];
    return rows.map((r) => r.id);
  }

  async countJobsByQueueAndStatus(pi?: string): Promise<{ jobQueueArn: string; status: JobStatus; count: number }[]> {
    // The (queue_arn, status, ...) index covers the unfiltered form, so it reads no documents.
    const rows = (
      pi === undefined
        ? this.db.prepare('SELECT queue_arn, status, COUNT(*) AS n FROM jobs GROUP BY queue_arn, status').all()
        : this.db
            .prepare('SELECT queue_arn, status, COUNT(*) AS n FROM jobs WHERE pi = ? GROUP BY queue_arn, status')
            .all(pi)
    ) as { queue_arn: string; status: JobStatus; n: number }[];
    return rows.map((r) => ({ jobQueueArn: r.queue_arn, status: r.status, count: r.n }));
  }

  async usageByOwner(q: { from: number; to: number; pi?: string }): Promise<UsageRow[]> {
    const rows = this.db
      .prepare(
        `SELECT COALESCE(j.pi, '') AS pi, COALESCE(json_extract(j.doc, '$.owner.user'), '') AS user,
                COUNT(DISTINCT j.id) AS jobs,
                COALESCE(SUM(CASE WHEN json_extract(a.value, '$.startedAt') IS NOT NULL
                  THEN json_extract(j.doc, '$.resources.vcpus')
                       * (json_extract(a.value, '$.stoppedAt') - json_extract(a.value, '$.startedAt'))
                  ELSE 0 END), 0) / 3600000.0 AS vcpu_hours
         FROM jobs j LEFT JOIN json_each(j.doc, '$.attempts') a
         WHERE j.stopped_at >= ? AND j.stopped_at < ? ${q.pi !== undefined ? 'AND j.pi = ?' : ''}
         GROUP BY 1, 2 ORDER BY vcpu_hours DESC, 1, 2`,
      )
      .all(q.from, q.to, ...(q.pi !== undefined ? [q.pi] : [])) as {
      pi: string;
      user: string;
      jobs: number;
      vcpu_hours: number;
    }[];
    return rows.map((r) => ({ pi: r.pi, user: r.user, jobs: r.jobs, vcpuHours: r.vcpu_hours }));
  }
}
