/**
 * A batch of jobs as one statement: per column an array, unnested server-side (`INSERT ... SELECT * FROM unnest(...)`),
 * so one prepared statement serves every batch size (a multi-row VALUES list would be a new statement per size).
 */
import type { Job } from '../../core/types.js';
import { JOB_COLUMNS, pushJobRow, type JobRowValues } from '../sqlite/job-rows.js';

const COLUMN_TYPES: Record<(typeof JOB_COLUMNS)[number], string> = {
  id: 'text',
  name_lc: 'text',
  queue_arn: 'text',
  status: 'text',
  created_at: 'int8',
  stopped_at: 'int8',
  job_def_arn: 'text',
  job_def_name: 'text',
  array_parent: 'text',
  array_index: 'int4',
  pi: 'text',
  doc: 'text',
  sched: 'text',
};

const UNNEST = `SELECT * FROM unnest(${JOB_COLUMNS.map((c, i) => `$${i + 1}::${COLUMN_TYPES[c]}[]`).join(', ')})`;

/** Inserts or replaces (SqliteStore's UPSERT_JOB_SQL: tags are never touched). */
export const UPSERT_JOBS_SQL = `INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) ${UNNEST}
  ON CONFLICT (id) DO UPDATE SET status = excluded.status, stopped_at = excluded.stopped_at, doc = excluded.doc,
    sched = excluded.sched`;

/** Parameter count of UPSERT_JOBS_SQL; what follows is free for the statement that embeds it. */
export const JOB_PARAMS = JOB_COLUMNS.length;

/**
 * UPSERT_JOBS_SQL fenced, in one statement (one round trip, its own transaction): the lease row is locked FOR SHARE
 * (a lease change waits for this commit), and the rows are written only if its epoch is the writer's
 * ($JOB_PARAMS + 1). Returns the lease's epoch: another one means nothing was written.
 */
export const FENCED_UPSERT_JOBS_SQL = `WITH lease AS (SELECT epoch FROM leader_lease WHERE id = 1 FOR SHARE),
  written AS (INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) ${UNNEST}
    WHERE (SELECT epoch FROM lease) = $${JOB_PARAMS + 1}::int8
    ON CONFLICT (id) DO UPDATE SET status = excluded.status, stopped_at = excluded.stopped_at, doc = excluded.doc,
      sched = excluded.sched
    RETURNING 1)
  SELECT (SELECT epoch FROM lease) AS epoch, (SELECT count(*) FROM written) AS n`;

/**
 * The batch's column arrays. A job written twice in one batch keeps its last version (PostgreSQL refuses to update a
 * row twice in one statement); rows go in id order, so concurrent batches lock rows in the same order (no deadlock).
 */
export function jobColumns(jobs: readonly Job[]): JobRowValues[] {
  const last = new Map<string, Job>();
  for (const j of jobs) last.set(j.jobId, j);
  const ids = [...last.keys()].sort();
  const cols: JobRowValues[] = JOB_COLUMNS.map(() => []);
  const row: JobRowValues = [];
  for (const id of ids) {
    row.length = 0;
    pushJobRow(row, last.get(id)!);
    for (let c = 0; c < row.length; c++) cols[c]!.push(row[c]!);
  }
  return cols;
}
