/**
 * A job's stored document (the jobs table's `doc`, both stores): the job as JSON without what the row's own columns
 * already hold (id, queue, definition, status, creation and stop times), without an ARN derived from the id, and
 * without empty attempts, container, dependencies and parameters. With 1,000,000 jobs queued that is about 400 bytes
 * a job less on disk (issue 12). Reading puts them back; documents written whole (before SQLite migration 6 /
 * PostgreSQL migration 7) keep their own values and read as before.
 */
import type { Job } from '../core/types.js';

/** The columns every read of a whole job selects: the document and what it leaves out. */
export const JOB_READ_COLUMNS = 'id, queue_arn, job_def_arn, status, created_at, stopped_at, doc, tags';

/** One row of JOB_READ_COLUMNS (PostgreSQL's int8 comes back as a string). */
export interface JobReadRow {
  id: string;
  queue_arn: string;
  job_def_arn: string;
  status: string;
  created_at: number | string;
  stopped_at: number | string | null;
  doc: string;
  tags: string | null;
}

/** The ARN a job of this queue gets for this id (core/arn.ts: same partition, region and account as its queue). */
function jobArnOf(jobId: string, jobQueueArn: string): string | undefined {
  const at = jobQueueArn.indexOf(':job-queue/');
  return at < 0 ? undefined : `${jobQueueArn.slice(0, at)}:job/${jobId}`;
}

/** Whether `v` is an empty array or an object without keys (anything else is kept as written). */
function isEmpty(v: unknown): boolean {
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v !== 'object' || v === null) return false;
  for (const _ in v) return false;
  return true;
}

/** The job's `doc` value. */
export function jobDoc(j: Job): string {
  const {
    jobId,
    jobArn,
    jobQueueArn,
    jobDefinitionArn: _def,
    status: _status,
    createdAt: _created,
    stoppedAt: _stopped,
    attempts,
    container,
    dependsOn,
    parameters,
    ...rest
  } = j;
  const doc: Partial<Job> = rest;
  if (jobArn !== jobArnOf(jobId, jobQueueArn)) doc.jobArn = jobArn;
  if (!isEmpty(attempts)) doc.attempts = attempts;
  if (!isEmpty(container)) doc.container = container;
  if (!isEmpty(dependsOn)) doc.dependsOn = dependsOn;
  if (!isEmpty(parameters)) doc.parameters = parameters;
  return JSON.stringify(doc);
}

/** A stored job: its document with what it leaves out put back from the row, and the tags (kept apart) laid over it. */
export function jobFromRow(r: JobReadRow): Job {
  const j = JSON.parse(r.doc) as Job;
  j.jobId ??= r.id;
  j.jobQueueArn ??= r.queue_arn;
  j.jobArn ??= jobArnOf(r.id, r.queue_arn) ?? r.id;
  j.jobDefinitionArn ??= r.job_def_arn;
  j.status ??= r.status as Job['status'];
  j.createdAt ??= Number(r.created_at);
  if (r.stopped_at !== null) j.stoppedAt ??= Number(r.stopped_at);
  j.attempts ??= [];
  j.container ??= {};
  j.dependsOn ??= [];
  j.parameters ??= {};
  if (r.tags !== null) j.tags = JSON.parse(r.tags) as Record<string, string>;
  return j;
}
