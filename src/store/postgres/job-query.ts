/** ListJobs as one PostgreSQL statement: SqliteStore.listJobs's filters, keyset order and limit, with $n parameters. */
import type { JobListQuery } from '../../core/ports.js';
import { JOB_READ_COLUMNS } from '../job-doc.js';

/** The highest code point, appended to a prefix to make an index range scan (columns are COLLATE "C"). */
const PREFIX_END = '\u{10FFFF}';

export function listJobsSql(q: JobListQuery): { sql: string; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  const p = (v: unknown): string => {
    args.push(v);
    return `$${args.length}`;
  };
  if (q.jobQueueArn !== undefined) where.push(`queue_arn = ${p(q.jobQueueArn)}`);
  if (q.arrayJobId !== undefined) where.push(`array_parent = ${p(q.arrayJobId)}`);
  // As AWS: a queue's listing shows array parents; their children are listed by arrayJobId.
  else if (!q.includeChildren) where.push('array_parent IS NULL');
  if (q.statuses) where.push(`status = ANY(${p(q.statuses)}::text[])`);
  if (q.jobName) {
    const v = q.jobName.value.toLowerCase();
    where.push(q.jobName.prefix ? `name_lc >= ${p(v)} AND name_lc < ${p(v + PREFIX_END)}` : `name_lc = ${p(v)}`);
  }
  if (q.jobDefinition) {
    const v = q.jobDefinition.value;
    if (v.startsWith('arn:'))
      where.push(
        q.jobDefinition.prefix
          ? `job_def_arn >= ${p(v)} AND job_def_arn < ${p(v + PREFIX_END)}`
          : `job_def_arn = ${p(v)}`,
      );
    else if (!q.jobDefinition.prefix && v.includes(':'))
      where.push(`job_def_arn LIKE ${p(`%:job-definition/${v.replace(/[%_\\]/g, '')}`)}`);
    else if (q.jobDefinition.prefix) where.push(`job_def_name >= ${p(v)} AND job_def_name < ${p(v + PREFIX_END)}`);
    else where.push(`job_def_name = ${p(v)}`);
  }
  if (q.search) {
    const s = q.search;
    const lc = s.toLowerCase();
    where.push(
      `((id >= ${p(s)} AND id < ${p(s + PREFIX_END)}) OR (name_lc >= ${p(lc)} AND name_lc < ${p(lc + PREFIX_END)}))`,
    );
  }
  if (q.createdAfter !== undefined) where.push(`created_at > ${p(q.createdAfter)}`);
  if (q.createdBefore !== undefined) where.push(`created_at < ${p(q.createdBefore)}`);
  if (q.pi !== undefined) where.push(`pi = ${p(q.pi)}`);
  if (q.consumableResource !== undefined)
    where.push(
      `EXISTS (SELECT 1 FROM jsonb_array_elements((doc::jsonb)->'consumableResourceProperties'->'consumableResourceList') c WHERE c->>'consumableResource' = ${p(q.consumableResource)})`,
    );
  if (q.shareIdentifier !== undefined) where.push(`(doc::jsonb)->>'shareIdentifier' = ${p(q.shareIdentifier)}`);
  if (q.user !== undefined) where.push(`(doc::jsonb)->'owner'->>'user' = ${p(q.user)}`);
  if (q.after) {
    const at = p(q.after.createdAt);
    where.push(`(created_at < ${at} OR (created_at = ${at} AND id < ${p(q.after.jobId)}))`);
  }
  const byIndex = q.arrayJobId !== undefined;
  if (byIndex && q.afterIndex !== undefined) where.push(`array_index > ${p(q.afterIndex)}`);
  const order = byIndex ? 'array_index ASC' : 'created_at DESC, id DESC';
  const sql = `SELECT ${JOB_READ_COLUMNS} FROM jobs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${order} LIMIT ${p(q.limit + 1)}`;
  return { sql, args };
}
