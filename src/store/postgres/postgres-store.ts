/**
 * The PostgreSQL store: the same contract as SqliteStore (store/sqlite/sqlite-store.ts), for any number of replicas
 * on one database. Documents are kept whole as JSON text next to the columns that queries use. Batches of jobs are
 * one prepared statement (job-batch.ts), fenced ones too (one round trip); other fenced writes lock the lease row FOR SHARE in their own transaction, so a
 * lease change waits for them and a deposed leader's write commits nothing; change signals are NOTIFY, sent in the
 * transaction of the change they announce (delivered only if it commits).
 */
import type pg from 'pg';
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
  ConsumableResource,
  Job,
  JobDefinition,
  JobQueue,
  JobStatus,
  SchedulingPolicy,
} from '../../core/types.js';
import type { PgDatabase } from './database.js';
import { FENCED_UPSERT_JOBS_SQL, JOB_PARAMS, jobColumns, UPSERT_JOBS_SQL } from './job-batch.js';
import { splitPayload } from './notify-payload.js';
import { submittedSignal } from '../../core/submitted-signal.js';
import { listJobsSql } from './job-query.js';
import { CompactRowReader, type CompactRow } from '../compact-runnable-rows.js';
import { JOB_READ_COLUMNS, jobFromRow, type JobReadRow } from '../job-doc.js';

/** The database's clock, in epoch milliseconds: leases are measured by it, so replicas' clocks do not matter. */
const NOW_MS = `(extract(epoch from now()) * 1000)::bigint`;

export class PostgresStore implements Store {
  readonly kind = 'postgres';
  /** Batches of new jobs commit side by side: PostgreSQL flushes concurrent commits to its WAL together. */
  readonly writeLanes = 4;

  constructor(private readonly db: PgDatabase) {
    db.hold();
  }

  migrate(): Promise<void> {
    return this.db.migrate();
  }

  close(): Promise<void> {
    return this.db.release();
  }

  async loadResources(): Promise<ResourceSnapshot> {
    const docs = async <T>(table: string): Promise<T[]> =>
      (await this.db.query<{ doc: string }>(`SELECT doc FROM ${table} ORDER BY seq`)).map(
        (r) => JSON.parse(r.doc) as T,
      );
    const [computeEnvironments, jobQueues, jobDefinitions, schedulingPolicies, consumableResources] = await Promise.all(
      [
        docs<ComputeEnvironment>('compute_environments'),
        docs<JobQueue>('job_queues'),
        docs<JobDefinition>('job_definitions'),
        docs<SchedulingPolicy>('scheduling_policies'),
        docs<ConsumableResource>('consumable_resources'),
      ],
    );
    return { computeEnvironments, jobQueues, jobDefinitions, schedulingPolicies, consumableResources };
  }

  private async putDoc(table: string, arn: string, name: string, doc: unknown): Promise<void> {
    await this.db.query(
      `INSERT INTO ${table} (arn, name, doc) VALUES ($1, $2, $3) ON CONFLICT (arn) DO UPDATE SET doc = excluded.doc`,
      [arn, name, JSON.stringify(doc)],
    );
  }

  async putComputeEnvironment(ce: ComputeEnvironment): Promise<void> {
    await this.putDoc('compute_environments', ce.computeEnvironmentArn, ce.computeEnvironmentName, ce);
  }

  async deleteComputeEnvironment(arn: string): Promise<void> {
    await this.db.query('DELETE FROM compute_environments WHERE arn = $1', [arn]);
  }

  async putJobQueue(q: JobQueue): Promise<void> {
    await this.putDoc('job_queues', q.jobQueueArn, q.jobQueueName, q);
  }

  async deleteJobQueue(arn: string): Promise<void> {
    await this.db.query('DELETE FROM job_queues WHERE arn = $1', [arn]);
  }

  async putJobDefinition(d: JobDefinition): Promise<void> {
    await this.db.query(
      `INSERT INTO job_definitions (arn, name, revision, status, doc) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (arn) DO UPDATE SET status = excluded.status, doc = excluded.doc`,
      [d.jobDefinitionArn, d.jobDefinitionName, d.revision, d.status, JSON.stringify(d)],
    );
  }

  async putSchedulingPolicy(p: SchedulingPolicy): Promise<void> {
    await this.putDoc('scheduling_policies', p.arn, p.name, p);
  }

  async putConsumableResource(r: ConsumableResource): Promise<void> {
    await this.putDoc('consumable_resources', r.consumableResourceArn, r.consumableResourceName, r);
  }

  async deleteConsumableResource(arn: string): Promise<void> {
    await this.db.query('DELETE FROM consumable_resources WHERE arn = $1', [arn]);
  }

  async deleteSchedulingPolicy(arn: string): Promise<void> {
    await this.db.query('DELETE FROM scheduling_policies WHERE arn = $1', [arn]);
  }

  async writeJobs(jobs: readonly Job[], fence?: Fence): Promise<void> {
    if (!jobs.length) return;
    if (!fence) {
      await this.db.query(UPSERT_JOBS_SQL, jobColumns(jobs), 'upsert-jobs');
      return;
    }
    const [r] = await this.db.query<{ epoch: number | null }>(
      FENCED_UPSERT_JOBS_SQL,
      [...jobColumns(jobs), fence.epoch],
      'fenced-upsert-jobs',
    );
    const current = r?.epoch ?? undefined;
    if (current !== fence.epoch) throw new FencedError(fence.epoch, current);
  }

  /** Runs `write` in a transaction that first locks the lease row and checks the epoch (see the file comment). */
  private fenced(fence: Fence, write: (c: pg.PoolClient) => Promise<unknown>): Promise<void> {
    return this.db.transaction(async (c) => {
      const r = await c.query<{ epoch: number }>({
        name: 'lease-for-share',
        text: 'SELECT epoch FROM leader_lease WHERE id = 1 FOR SHARE',
      });
      const current = r.rows[0]?.epoch;
      if (current !== fence.epoch) throw new FencedError(fence.epoch, current);
      await write(c);
    });
  }

  async insertJobs(jobs: readonly Job[]): Promise<void> {
    if (!jobs.length) return;
    // One statement: the insert and its signal commit together.
    await this.db.query(
      `WITH inserted AS (${UPSERT_JOBS_SQL}) SELECT pg_notify('jobs-submitted', p) FROM unnest($${JOB_PARAMS + 1}::text[]) p`,
      [...jobColumns(jobs), splitPayload(submittedSignal(jobs))],
      'insert-jobs-notify',
    );
  }

  async listSubmittedJobs(limit: number): Promise<Job[]> {
    const rows = await this.db.query<JobReadRow>(
      `SELECT ${JOB_READ_COLUMNS} FROM jobs WHERE status = 'SUBMITTED' ORDER BY created_at LIMIT $1`,
      [limit],
      'list-submitted',
    );
    return rows.map(jobFromRow);
  }

  async listRunnableJobIds(since: number): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>(
      "SELECT id FROM jobs WHERE created_at >= $1 AND status = 'RUNNABLE'",
      [since],
      'list-runnable-ids',
    );
    return rows.map((r) => r.id);
  }

  async setJobTags(jobId: string, tags: Record<string, string>): Promise<void> {
    await this.db.query('UPDATE jobs SET tags = $1 WHERE id = $2', [JSON.stringify(tags), jobId]);
  }

  async getJobs(ids: readonly string[]): Promise<Job[]> {
    if (!ids.length) return [];
    const rows = await this.db.query<JobReadRow>(
      `SELECT ${JOB_READ_COLUMNS} FROM jobs WHERE id = ANY($1::text[])`,
      [ids],
      'get-jobs',
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    const out: Job[] = [];
    for (const id of ids) {
      const r = byId.get(id);
      if (r) out.push(jobFromRow(r));
    }
    return out;
  }

  async listJobs(q: JobListQuery): Promise<JobPage> {
    const { sql, args } = listJobsSql(q);
    const rows = await this.db.query<JobReadRow>(sql, args);
    const jobs = rows.slice(0, q.limit).map(jobFromRow);
    const lastJob = jobs[jobs.length - 1];
    return rows.length > q.limit && lastJob
      ? { jobs, last: { createdAt: lastJob.createdAt, jobId: lastJob.jobId } }
      : { jobs };
  }

  async loadActiveJobs(opts: { exceptCompact?: boolean } = {}): Promise<Job[]> {
    const rows = await this.db.query<JobReadRow>(
      `SELECT ${JOB_READ_COLUMNS} FROM jobs WHERE status NOT IN ('SUCCEEDED', 'FAILED')${
        opts.exceptCompact ? ' AND sched IS NULL' : ''
      } ORDER BY created_at, id`,
    );
    return rows.map(jobFromRow);
  }

  async loadCompactRunnable(): Promise<CompactRunnable[]> {
    const rows = await this.db.query<CompactRow>(
      'SELECT id, queue_arn, created_at, sched FROM jobs WHERE sched IS NOT NULL ORDER BY created_at, id',
    );
    const reader = new CompactRowReader();
    return rows.map((r) => reader.read(r));
  }

  async listJobsStoppedSince(since: number): Promise<Job[]> {
    const rows = await this.db.query<JobReadRow>(
      `SELECT ${JOB_READ_COLUMNS} FROM jobs WHERE stopped_at IS NOT NULL AND stopped_at >= $1 ORDER BY stopped_at`,
      [since],
    );
    return rows.map(jobFromRow);
  }

  async purgeJobs(before: number): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>(
      'DELETE FROM jobs WHERE stopped_at IS NOT NULL AND stopped_at < $1 RETURNING id',
      [before],
    );
    return rows.map((r) => r.id);
  }

  async countJobsByQueueAndStatus(pi?: string): Promise<{ jobQueueArn: string; status: JobStatus; count: number }[]> {
    const rows = await this.db.query<{ queue_arn: string; status: JobStatus; n: number }>(
      `SELECT queue_arn, status, COUNT(*) AS n FROM jobs ${pi === undefined ? '' : 'WHERE pi = $1'} GROUP BY queue_arn, status`,
      pi === undefined ? [] : [pi],
    );
    return rows.map((r) => ({ jobQueueArn: r.queue_arn, status: r.status, count: r.n }));
  }

  async usageByOwner(q: { from: number; to: number; pi?: string }): Promise<UsageRow[]> {
    const rows = await this.db.query<{ pi: string; user: string; jobs: number; vcpu_hours: number }>(
      `SELECT COALESCE(j.pi, '') AS pi, COALESCE(j.d->'owner'->>'user', '') COLLATE "C" AS "user",
              COUNT(DISTINCT j.id) AS jobs,
              COALESCE(SUM(CASE WHEN a->>'startedAt' IS NOT NULL
                THEN (j.d->'resources'->>'vcpus')::float8 * ((a->>'stoppedAt')::float8 - (a->>'startedAt')::float8)
                ELSE 0 END), 0) / 3600000.0::float8 AS vcpu_hours
       FROM (SELECT id, pi, doc::jsonb AS d FROM jobs
             WHERE stopped_at >= $1 AND stopped_at < $2 ${q.pi !== undefined ? 'AND pi = $3' : ''}) j
       LEFT JOIN LATERAL jsonb_array_elements(j.d->'attempts') a ON true
       GROUP BY 1, 2 ORDER BY vcpu_hours DESC, 1, 2`,
      [q.from, q.to, ...(q.pi !== undefined ? [q.pi] : [])],
    );
    return rows.map((r) => ({ pi: r.pi, user: r.user, jobs: r.jobs, vcpuHours: r.vcpu_hours }));
  }

  async addJobIntent(intent: Omit<JobIntent, 'seq'>): Promise<void> {
    await this.db.query(
      `WITH added AS (INSERT INTO job_intents (job_id, action, reason, at) VALUES ($1, $2, $3, $4))
       SELECT pg_notify('job-intents', $1)`,
      [intent.jobId, intent.action, intent.reason, intent.at],
      'add-intent',
    );
  }

  async listJobIntents(limit: number): Promise<JobIntent[]> {
    const rows = await this.db.query<{
      seq: number;
      job_id: string;
      action: JobIntent['action'];
      reason: string;
      at: number;
    }>('SELECT * FROM job_intents ORDER BY seq LIMIT $1', [limit], 'list-intents');
    return rows.map((r) => ({ seq: r.seq, jobId: r.job_id, action: r.action, reason: r.reason, at: r.at }));
  }

  async deleteJobIntents(seqs: readonly number[], fence: Fence): Promise<void> {
    await this.fenced(fence, (c) => c.query('DELETE FROM job_intents WHERE seq = ANY($1::int8[])', [seqs]));
  }

  async acquireLease(holder: string, ttlMs: number): Promise<{ epoch: number; expiresAt: number } | undefined> {
    // One statement: concurrent takers serialize on the row (or on the insert of the first one); a live lease of
    // another holder matches the WHERE of neither branch and returns no row.
    const rows = await this.db.query<{ epoch: number; expires_at: number }>(
      `INSERT INTO leader_lease AS l (id, holder, epoch, expires_at) VALUES (1, $1, 1, ${NOW_MS} + $2)
       ON CONFLICT (id) DO UPDATE SET
         epoch = CASE WHEN l.holder = excluded.holder AND l.expires_at > ${NOW_MS} THEN l.epoch ELSE l.epoch + 1 END,
         holder = excluded.holder,
         expires_at = excluded.expires_at
       WHERE l.holder = excluded.holder OR l.expires_at <= ${NOW_MS}
       RETURNING epoch, expires_at`,
      [holder, ttlMs],
      'acquire-lease',
    );
    const r = rows[0];
    return r && { epoch: r.epoch, expiresAt: r.expires_at };
  }

  async releaseLease(holder: string, epoch: number): Promise<void> {
    await this.db.query('UPDATE leader_lease SET expires_at = 0 WHERE id = 1 AND holder = $1 AND epoch = $2', [
      holder,
      epoch,
    ]);
  }

  async readLease(): Promise<LeaderLease | undefined> {
    const [r] = await this.db.query<{ holder: string; epoch: number; expires_at: number }>(
      'SELECT holder, epoch, expires_at FROM leader_lease WHERE id = 1',
    );
    return r && { holder: r.holder, epoch: r.epoch, expiresAt: r.expires_at };
  }

  async clusterId(): Promise<string> {
    const [r] = await this.db.query<{ cluster_id: string }>('SELECT cluster_id FROM cluster WHERE id = 1');
    return r!.cluster_id;
  }

  async heartbeatReplica(r: ReplicaRecord): Promise<void> {
    await this.db.query(
      'INSERT INTO replicas (id, seen_at, doc) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, doc = excluded.doc',
      [r.id, r.seenAt, JSON.stringify(r)],
    );
  }

  async listReplicas(): Promise<ReplicaRecord[]> {
    const rows = await this.db.query<{ doc: string }>('SELECT doc FROM replicas ORDER BY seen_at DESC');
    return rows.map((r) => JSON.parse(r.doc) as ReplicaRecord);
  }

  async putEngineState(json: string, fence: Fence): Promise<void> {
    await this.fenced(fence, (c) =>
      c.query(
        'INSERT INTO engine_state (id, json, at) VALUES (1, $1, $2) ON CONFLICT (id) DO UPDATE SET json = excluded.json, at = excluded.at',
        [json, Date.now()],
      ),
    );
  }

  async getEngineState(): Promise<{ json: string; at: number } | undefined> {
    const [r] = await this.db.query<{ json: string; at: number }>('SELECT json, at FROM engine_state WHERE id = 1');
    return r;
  }

  subscribe(channel: ChangeChannel, listener: (payload: string) => void): () => void {
    return this.db.listener.subscribe(channel, listener);
  }

  async notify(channel: ChangeChannel, payload: string): Promise<void> {
    await this.db.query(
      'SELECT pg_notify($1, p) FROM unnest($2::text[]) p',
      [channel, splitPayload(payload)],
      'notify',
    );
  }

  /** Resolves once this replica's LISTEN connection is up (tests). */
  listening(): Promise<void> {
    return this.db.listener.ready();
  }
}
