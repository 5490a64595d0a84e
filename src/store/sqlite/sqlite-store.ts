/**
 * The SQLite store (better-sqlite3, WAL). Documents are kept whole as JSON next to the columns that queries use.
 * better-sqlite3 is synchronous; the async Store contract is kept so that networked backends fit the same port.
 */
import Database from 'better-sqlite3';
import { applyMigrations } from './migrate.js';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { EventEmitter } from 'node:events';
import { FencedError } from '../../core/errors.js';
import type {
  ChangeChannel,
  Fence,
  JobIntent,
  JobListQuery,
  JobPage,
  LeaderLease,
  ReplicaRecord,
  ResourceSnapshot,
  Store,
  UsageRow,
} from '../../core/ports.js';
import type {
  CompactRunnable,
  ComputeEnvironment,
  Job,
  JobDefinition,
  JobQueue,
  JobStatus,
  SchedulingPolicy,
  ConsumableResource,
} from '../../core/types.js';
import { WAL_SIZE_LIMIT_BYTES } from './wal-policy.js';
import { CompactRowReader, type CompactRow } from '../compact-runnable-rows.js';
import { JOB_READ_COLUMNS, jobFromRow, type JobReadRow } from '../job-doc.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { checkFence, FENCED_PREFIX, jobRows, upsertJobRows, UPSERT_JOB_SQL } from './job-rows.js';
import type { WriterReply, WriterRequest, WriterStatement } from './sqlite-writer.js';
import { WriterThread } from './writer-thread.js';
import { CheckpointerThread } from './checkpointer-thread.js';
import { acquireLeaseIn, type LeaseResult } from './lease.js';
import { submittedSignal } from '../../core/submitted-signal.js';

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

/** Prepared statements kept at most (see SqliteStore.prepared). */
const STATEMENT_CACHE_MAX = 256;

/**
 * The page cache of this connection, which serves the API's reads (KiB). better-sqlite3 builds SQLite with a 16 MB
 * default; under a steady stream of submits every commit of the writer thread adds pages this connection then reads,
 * so its cache filled towards 16 MB over minutes (RSS +10% in a 60 s soak, the other half of it in the writer's cache).
 * Reads that miss come from the OS's file cache; the hot pages (index roots and inner pages) stay.
 */
const READ_CACHE_KIB = 2048;

/** How often the in-memory engine state is also written to the table (and at close). */
const ENGINE_STATE_SAVE_MS = 30_000;

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;
  private readonly upsertJob: Database.Statement;
  private readonly getJob: Database.Statement;
  private readonly writeJobsTx: Database.Transaction<(jobs: readonly Job[], epoch: number | undefined) => void>;
  private readonly events = new EventEmitter();
  private readonly leaseEpoch: Database.Statement<[]>;
  private engineState: { json: string; at: number } | undefined;
  private engineStateSavedAt = 0;
  private writerThread: WriterThread | undefined;
  private checkpointer: CheckpointerThread | undefined;
  private readonly statements = new Map<string, Database.Statement>();
  /**
   * A prepared statement by its text, kept for the next call: preparing costs more than running a small query, and
   * listings and intents run many times a second under load. Bounded: listings build their text from the filters.
   */
  private readonly prepared = (sql: string): Database.Statement => {
    let st = this.statements.get(sql);
    if (!st) {
      if (this.statements.size >= STATEMENT_CACHE_MAX) this.statements.clear();
      this.statements.set(sql, (st = this.db.prepare(sql)));
    }
    return st;
  };

  constructor(opts: SqliteStoreOptions) {
    if (opts.file !== ':memory:') mkdirSync(dirname(opts.file), { recursive: true });
    this.db = new Database(opts.file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${opts.durable === false ? 'NORMAL' : 'FULL'}`);
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma(`cache_size = -${READ_CACHE_KIB}`);
    this.db.pragma('foreign_keys = ON');
    this.migrateSync();
    this.upsertJob = this.db.prepare(UPSERT_JOB_SQL);
    this.getJob = this.db.prepare(`SELECT ${JOB_READ_COLUMNS} FROM jobs WHERE id = ?`);
    const leaseEpoch = (this.leaseEpoch = this.db.prepare('SELECT epoch FROM leader_lease WHERE id = 1'));
    this.writeJobsTx = this.db.transaction((jobs: readonly Job[], epoch: number | undefined) => {
      if (epoch !== undefined) checkFence(leaseEpoch, epoch);
      upsertJobRows(this.upsertJob, jobRows(jobs));
    });
    if (opts.file !== ':memory:' && opts.writerThread !== false) this.startWriter(opts.file, opts.durable !== false);
  }

  private startWriter(file: string, durable: boolean): void {
    this.db.pragma('wal_autocheckpoint = 0'); // the checkpointer thread does it (see sqlite-writer.ts)
    this.db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    this.checkpointer = new CheckpointerThread(file, { durable });
    this.writerThread = new WriterThread(file, { durable, autocheckpoint: false });
  }

  deliverCommitted(): void {
    this.writerThread?.deliverAnswers();
  }

  /** The writer thread while it runs. */
  private get writer(): WriterThread | undefined {
    return this.writerThread?.alive ? this.writerThread : undefined;
  }

  private migrateSync(): void {
    applyMigrations(this.db, SQLITE_MIGRATIONS);
  }

  async migrate(): Promise<void> {
    this.migrateSync();
  }

  async close(): Promise<void> {
    this.saveEngineState();
    await this.writerThread?.close();
    await this.checkpointer?.close();
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
      consumableResources: docs<ConsumableResource>('consumable_resources'),
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

  async putConsumableResource(r: ConsumableResource): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO consumable_resources (arn, name, doc) VALUES (?, ?, ?) ON CONFLICT (arn) DO UPDATE SET doc = excluded.doc',
      )
      .run(r.consumableResourceArn, r.consumableResourceName, JSON.stringify(r));
  }

  async deleteConsumableResource(arn: string): Promise<void> {
    this.db.prepare('DELETE FROM consumable_resources WHERE arn = ?').run(arn);
  }

  async writeJobs(jobs: readonly Job[], fence?: Fence): Promise<void> {
    if (!jobs.length) return;
    if (!this.writer) {
      try {
        return this.writeJobsTx.immediate(jobs, fence?.epoch);
      } catch (err) {
        throw this.fencedOr(err, fence);
      }
    }
    await this.onWriter({ rows: jobRows(jobs), ...(fence ? { epoch: fence.epoch } : {}) }, fence);
  }

  /** Sends a write to the writer thread; resolves with its answer once committed. */
  private onWriter(req: Omit<WriterRequest, 'id'>, fence?: Fence): Promise<WriterReply> {
    return this.writer!.send(req).catch((err: unknown) => {
      throw this.fencedOr(err, fence);
    });
  }

  /**
   * Durable writes other than jobs' documents: on the writer thread when there is one, so that their fsync never
   * stalls the main thread (a TagResource or CancelJob would otherwise hold up every request in flight).
   */
  private async writeStatements(statements: WriterStatement[], fence?: Fence): Promise<void> {
    if (this.writer) {
      await this.onWriter({ statements, ...(fence ? { epoch: fence.epoch } : {}) }, fence);
      return;
    }
    try {
      this.db
        .transaction(() => {
          if (fence) checkFence(this.leaseEpoch, fence.epoch);
          for (const [sql, params] of statements) this.prepared(sql).run(params);
        })
        .immediate();
    } catch (err) {
      throw this.fencedOr(err, fence);
    }
  }

  private fencedOr(err: unknown, fence: Fence | undefined): unknown {
    const m = new RegExp(`${FENCED_PREFIX}(\\d*)`).exec((err as Error).message);
    return m && fence ? new FencedError(fence.epoch, m[1] ? Number(m[1]) : undefined) : err;
  }

  async insertJobs(jobs: readonly Job[]): Promise<void> {
    await this.writeJobs(jobs);
    this.events.emit('jobs-submitted', submittedSignal(jobs));
  }

  async listSubmittedJobs(limit: number): Promise<Job[]> {
    const rows = this.prepared(
      `SELECT ${JOB_READ_COLUMNS} FROM jobs WHERE status = 'SUBMITTED' ORDER BY created_at LIMIT ?`,
    ).all(limit) as JobReadRow[];
    return rows.map(jobFromRow);
  }

  async listRunnableJobIds(since: number): Promise<string[]> {
    const rows = this.prepared("SELECT id FROM jobs WHERE created_at >= ? AND status = 'RUNNABLE'").all(since) as {
      id: string;
    }[];
    return rows.map((r) => r.id);
  }

  async setJobTags(jobId: string, tags: Record<string, string>): Promise<void> {
    await this.writeStatements([['UPDATE jobs SET tags = ? WHERE id = ?', [JSON.stringify(tags), jobId]]]);
  }

  async getJobs(ids: readonly string[]): Promise<Job[]> {
    const out: Job[] = [];
    for (const id of ids) {
      const row = this.getJob.get(id) as JobReadRow | undefined;
      if (row) out.push(jobFromRow(row));
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
    if (q.consumableResource !== undefined) {
      where.push(
        "EXISTS (SELECT 1 FROM json_each(doc, '$.consumableResourceProperties.consumableResourceList') WHERE json_extract(value, '$.consumableResource') = ?)",
      );
      args.push(q.consumableResource);
    }
    if (q.shareIdentifier !== undefined) {
      where.push("json_extract(doc, '$.shareIdentifier') = ?");
      args.push(q.shareIdentifier);
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
    const sql = `SELECT ${JOB_READ_COLUMNS} FROM jobs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${order} LIMIT ?`;
    const rows = this.prepared(sql).all(...args, q.limit + 1) as JobReadRow[];
    const jobs = rows.slice(0, q.limit).map(jobFromRow);
    const lastJob = jobs[jobs.length - 1];
    return rows.length > q.limit && lastJob
      ? { jobs, last: { createdAt: lastJob.createdAt, jobId: lastJob.jobId } }
      : { jobs };
  }

  async loadActiveJobs(opts: { exceptCompact?: boolean } = {}): Promise<Job[]> {
    const out: Job[] = [];
    const where = `status NOT IN ('SUCCEEDED', 'FAILED')${opts.exceptCompact ? ' AND sched IS NULL' : ''}`;
    await this.pagedActive(JOB_READ_COLUMNS, where, (r: JobReadRow) => out.push(jobFromRow(r)));
    return out;
  }

  async loadCompactRunnable(): Promise<CompactRunnable[]> {
    const out: CompactRunnable[] = [];
    const reader = new CompactRowReader();
    await this.pagedActive('id, queue_arn, created_at, sched', COMPACT_RUNNABLE, (r: CompactRow) =>
      out.push(reader.read(r)),
    );
    return out;
  }

  /**
   * Active rows in pages (keyset on the created index), yielding to the event loop between them: with 1,000,000
   * queued, one statement would hold a gigabyte of text and block the server (and its API, which serves during the
   * load) for seconds; an open iterator would also keep this connection busy for every other query meanwhile.
   */
  private async pagedActive<R>(columns: string, where: string, each: (row: R) => void): Promise<void> {
    const PAGE = 5000;
    const sql = (after: string) =>
      `SELECT ${columns}, created_at AS k_created, id AS k_id FROM jobs WHERE ${where} ${after} ORDER BY created_at, id LIMIT ${PAGE}`;
    const first = this.db.prepare(sql(''));
    const next = this.db.prepare(sql('AND (created_at, id) > (?, ?)'));
    let rows = first.all() as (R & { k_created: number; k_id: string })[];
    for (;;) {
      for (const r of rows) each(r);
      const last = rows[rows.length - 1];
      if (rows.length < PAGE || !last) return;
      await new Promise((r) => setImmediate(r));
      rows = next.all(last.k_created, last.k_id) as typeof rows;
    }
  }

  async listJobsStoppedSince(since: number): Promise<Job[]> {
    const rows = this.db
      .prepare(
        `SELECT ${JOB_READ_COLUMNS} FROM jobs WHERE stopped_at IS NOT NULL AND stopped_at >= ? ORDER BY stopped_at`,
      )
      .all(since) as JobReadRow[];
    return rows.map(jobFromRow);
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
    // Kept by triggers (migration 4): a few rows per queue, whatever the number of jobs.
    const rows = (
      pi === undefined
        ? this.db
            .prepare(
              'SELECT queue_arn, status, SUM(n) AS n FROM job_counts GROUP BY queue_arn, status HAVING SUM(n) > 0',
            )
            .all()
        : this.db
            .prepare('SELECT queue_arn, status, n FROM job_counts WHERE pi = ? AND n > 0 ORDER BY queue_arn, status')
            .all(pi)
    ) as { queue_arn: string; status: JobStatus; n: number }[];
    return rows.map((r) => ({ jobQueueArn: r.queue_arn, status: r.status, count: r.n }));
  }

  async usageByOwner(q: { from: number; to: number; pi?: string }): Promise<UsageRow[]> {
    // One row per job, streamed and summed here. A GROUP BY over the jobs of the window (with COUNT(DISTINCT) over
    // their attempts) made SQLite sort all of them in memory at every /metrics scrape: on the main thread, a buffer
    // doubled to 8 MB and more for 50,000 jobs, which glibc then kept (docs/decisions/0012-usage-without-a-sort.md).
    const st = this.prepared(
      `SELECT COALESCE(pi, ''), COALESCE(json_extract(doc, '$.owner.user'), ''),
              json_extract(doc, '$.resources.vcpus')
                * (SELECT SUM(json_extract(value, '$.stoppedAt') - json_extract(value, '$.startedAt'))
                   FROM json_each(doc, '$.attempts') WHERE json_extract(value, '$.startedAt') IS NOT NULL)
       FROM jobs WHERE stopped_at >= ? AND stopped_at < ? ${q.pi !== undefined ? 'AND pi = ?' : ''}`,
    );
    const byOwner = new Map<string, UsageRow>();
    const rows = st.raw(true).iterate(q.from, q.to, ...(q.pi !== undefined ? [q.pi] : [])) as IterableIterator<
      [string, string, number | null]
    >;
    for (const [pi, user, vcpuMs] of rows) {
      const key = `${pi}\u0000${user}`;
      let u = byOwner.get(key);
      if (!u) byOwner.set(key, (u = { pi, user, jobs: 0, vcpuHours: 0 }));
      u.jobs++;
      u.vcpuHours += vcpuMs ?? 0;
    }
    const out = [...byOwner.values()];
    for (const u of out) u.vcpuHours /= 3_600_000;
    // As the SQL did: most vCPU-hours first, then by PI group and user (code point order, as SQLite's BINARY).
    const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    return out.sort((a, b) => b.vcpuHours - a.vcpuHours || cmp(a.pi, b.pi) || cmp(a.user, b.user));
  }

  async addJobIntent(intent: Omit<JobIntent, 'seq'>): Promise<void> {
    await this.writeStatements([
      [
        'INSERT INTO job_intents (job_id, action, reason, at) VALUES (?, ?, ?, ?)',
        [intent.jobId, intent.action, intent.reason, intent.at],
      ],
    ]);
    this.events.emit('job-intents', intent.jobId);
  }

  async listJobIntents(limit: number): Promise<JobIntent[]> {
    const rows = this.prepared('SELECT * FROM job_intents ORDER BY seq LIMIT ?').all(limit) as {
      seq: number;
      job_id: string;
      action: JobIntent['action'];
      reason: string;
      at: number;
    }[];
    return rows.map((r) => ({ seq: r.seq, jobId: r.job_id, action: r.action, reason: r.reason, at: r.at }));
  }

  async deleteJobIntents(seqs: readonly number[], fence: Fence): Promise<void> {
    await this.writeStatements(
      seqs.map((seq) => ['DELETE FROM job_intents WHERE seq = ?', [seq]]),
      fence,
    );
  }

  async acquireLease(holder: string, ttlMs: number): Promise<{ epoch: number; expiresAt: number } | undefined> {
    const got: LeaseResult = this.writer
      ? ((await this.onWriter({ lease: { holder, ttlMs } })).lease ?? null)
      : this.db.transaction(() => acquireLeaseIn(this.prepared, holder, ttlMs)).immediate();
    return got ?? undefined;
  }

  async releaseLease(holder: string, epoch: number): Promise<void> {
    await this.writeStatements([
      ['UPDATE leader_lease SET expires_at = 0 WHERE id = 1 AND holder = ? AND epoch = ?', [holder, epoch]],
    ]);
  }

  async readLease(): Promise<LeaderLease | undefined> {
    const r = this.prepared('SELECT holder, epoch, expires_at FROM leader_lease WHERE id = 1').get() as
      { holder: string; epoch: number; expires_at: number } | undefined;
    return r && { holder: r.holder, epoch: r.epoch, expiresAt: r.expires_at };
  }

  async heartbeatReplica(r: ReplicaRecord): Promise<void> {
    await this.writeStatements([
      [
        'INSERT INTO replicas (id, seen_at, doc) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, doc = excluded.doc',
        [r.id, r.seenAt, JSON.stringify(r)],
      ],
    ]);
  }

  async listReplicas(): Promise<ReplicaRecord[]> {
    const rows = this.db.prepare('SELECT doc FROM replicas ORDER BY seen_at DESC').all() as { doc: string }[];
    return rows.map((r) => JSON.parse(r.doc) as ReplicaRecord);
  }

  /**
   * One process owns a SQLite store, so the engine state lives in memory (it is published every 100 ms while jobs
   * move; a durable write each time would only cost fsyncs). The fence is still checked. It is written to the table
   * at most every 30 s and at close, so that a restarted server starts from it (the dashboard's last hour).
   */
  async putEngineState(json: string, fence: Fence): Promise<void> {
    const row = this.leaseEpoch.get() as { epoch: number } | undefined;
    if (row?.epoch !== fence.epoch) throw new FencedError(fence.epoch, row?.epoch);
    this.engineState = { json, at: Date.now() };
    if (this.engineState.at - this.engineStateSavedAt >= ENGINE_STATE_SAVE_MS) this.saveEngineState();
  }

  async getEngineState(): Promise<{ json: string; at: number } | undefined> {
    if (this.engineState) return this.engineState;
    const r = this.db.prepare('SELECT json, at FROM engine_state WHERE id = 1').get() as
      { json: string; at: number } | undefined;
    return r ? { json: r.json, at: r.at } : undefined;
  }

  private saveEngineState(): void {
    const st = this.engineState;
    if (!st) return;
    this.engineStateSavedAt = st.at;
    try {
      this.db
        .prepare(
          'INSERT INTO engine_state (id, json, at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET json = excluded.json, at = excluded.at',
        )
        .run(st.json, st.at);
    } catch {
      // Only the chart's past depends on it; a busy or full disk must not fail the engine's publish.
    }
  }

  subscribe(channel: ChangeChannel, listener: (payload: string) => void): () => void {
    this.events.on(channel, listener);
    return () => this.events.off(channel, listener);
  }

  async notify(channel: ChangeChannel, payload: string): Promise<void> {
    this.events.emit(channel, payload);
  }
}

/** The jobs Store.loadCompactRunnable returns (the sched column, compact-runnable-rows.ts). */
const COMPACT_RUNNABLE = 'sched IS NOT NULL';
