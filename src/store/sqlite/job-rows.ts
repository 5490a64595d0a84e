/** The jobs table's row for a job: shared by the store and its writer thread so both write the same columns. */
import type { Job } from '../../core/types.js';

export const UPSERT_JOB_SQL = `INSERT INTO jobs (id, name_lc, queue_arn, status, created_at, stopped_at, job_def_arn, job_def_name, array_parent, array_index, pi, doc)
  VALUES (@id, @name_lc, @queue_arn, @status, @created_at, @stopped_at, @job_def_arn, @job_def_name, @array_parent, @array_index, @pi, @doc)
  ON CONFLICT (id) DO UPDATE SET status = excluded.status, stopped_at = excluded.stopped_at, doc = excluded.doc`;

export interface JobRow {
  id: string;
  name_lc: string;
  queue_arn: string;
  status: string;
  created_at: number;
  stopped_at: number | null;
  job_def_arn: string;
  job_def_name: string;
  array_parent: string | null;
  array_index: number | null;
  pi: string | null;
  doc: string;
}

function jobDefName(arn: string): string {
  const slash = arn.lastIndexOf('/');
  const tail = slash >= 0 ? arn.slice(slash + 1) : arn;
  const colon = tail.lastIndexOf(':');
  return colon >= 0 ? tail.slice(0, colon) : tail;
}

export function jobRow(j: Job): JobRow {
  const colon = j.jobId.indexOf(':');
  return {
    id: j.jobId,
    name_lc: j.jobName.toLowerCase(),
    queue_arn: j.jobQueueArn,
    status: j.status,
    created_at: j.createdAt,
    stopped_at: j.stoppedAt ?? null,
    job_def_arn: j.jobDefinitionArn,
    job_def_name: jobDefName(j.jobDefinitionArn),
    array_parent: colon > 0 ? j.jobId.slice(0, colon) : null,
    array_index: colon > 0 ? Number(j.jobId.slice(colon + 1)) : null,
    pi: j.owner?.pi ?? null,
    doc: JSON.stringify(j),
  };
}
