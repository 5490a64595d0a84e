/**
 * The jobs table's row for a job: shared by the store and its writer thread so both write the same columns.
 * Rows travel to the writer thread as one flat array of JOB_COLUMNS.length values per job: structured-cloning
 * primitives in one array costs a fraction of cloning an object (with its keys) per job.
 */
import type { Job } from '../../core/types.js';
import { jobDefinitionNameOfArn } from '../../core/arn.js';
import { schedColumn } from '../compact-runnable-rows.js';
import { jobDoc } from '../job-doc.js';

export const JOB_COLUMNS = [
  'id',
  'name_lc',
  'queue_arn',
  'status',
  'created_at',
  'stopped_at',
  'job_def_arn',
  'job_def_name',
  'array_parent',
  'array_index',
  'pi',
  'doc',
  'sched',
] as const;

export const UPSERT_JOB_SQL = `INSERT INTO jobs (${JOB_COLUMNS.join(', ')})
  VALUES (${JOB_COLUMNS.map(() => '?').join(', ')})
  ON CONFLICT (id) DO UPDATE SET status = excluded.status, stopped_at = excluded.stopped_at, doc = excluded.doc,
    sched = excluded.sched`;

/** One job's values in JOB_COLUMNS order. */
export type JobRowValues = (string | number | null)[];

/** Appends the job's values (JOB_COLUMNS order) to `out`. */
export function pushJobRow(out: JobRowValues, j: Job): void {
  const colon = j.jobId.indexOf(':');
  out.push(
    j.jobId,
    j.jobName.toLowerCase(),
    j.jobQueueArn,
    j.status,
    j.createdAt,
    j.stoppedAt ?? null,
    j.jobDefinitionArn,
    jobDefinitionNameOfArn(j.jobDefinitionArn),
    colon > 0 ? j.jobId.slice(0, colon) : null,
    colon > 0 ? Number(j.jobId.slice(colon + 1)) : null,
    j.owner?.pi ?? null,
    jobDoc(j),
    schedColumn(j),
  );
}

/** The jobs' rows as one flat array. */
export function jobRows(jobs: readonly Job[]): JobRowValues {
  const out: JobRowValues = [];
  for (const j of jobs) pushJobRow(out, j);
  return out;
}

/** Runs `upsert` (a statement of UPSERT_JOB_SQL) once per job of a flat row array. */
export function upsertJobRows(upsert: { run(values: JobRowValues): unknown }, flat: JobRowValues): void {
  const n = JOB_COLUMNS.length;
  for (let i = 0; i < flat.length; i += n) upsert.run(flat.slice(i, i + n));
}

/** Marks a writer error as a fenced write (the message crosses the thread boundary as text). */
export const FENCED_PREFIX = 'FENCED:';

/** Inside a write transaction: throws unless the leader lease is at `epoch` (see Store.writeJobs). */
export function checkFence(leaseEpoch: { get(): unknown }, epoch: number): void {
  const row = leaseEpoch.get() as { epoch: number } | undefined;
  if (row?.epoch !== epoch) throw new Error(`${FENCED_PREFIX}${row?.epoch ?? ''}`);
}
