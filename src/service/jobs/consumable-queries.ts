/**
 * Queries about the jobs that need a consumable resource (any replica, against the store): ListJobsByConsumableResource,
 * and the count DeleteConsumableResource refuses on.
 */
import type { Caller } from '../../core/caller.js';
import { ClientException } from '../../core/errors.js';
import { checkRange } from '../../core/names.js';
import type { Store } from '../../core/ports.js';
import { JOB_STATUSES, type JobStatus } from '../../core/types.js';
import { decodeToken, encodeToken } from '../pagination.js';
import type { ResourceRegistry } from '../resources.js';

type Input = Record<string, any>;

const UNFINISHED: JobStatus[] = ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING'];

/** Jobs not yet SUCCEEDED/FAILED that need the resource (at most 1,000 counted). */
export async function jobsNeeding(store: Store, arn: string): Promise<number> {
  const page = await store.listJobs({
    consumableResource: arn,
    statuses: UNFINISHED,
    includeChildren: true,
    limit: 1000,
  });
  return page.jobs.length;
}

/** ListJobsByConsumableResource: jobs that need the resource, newest first, with JOB_STATUS / JOB_NAME filters. */
export async function listJobsByConsumableResource(
  store: Store,
  registry: ResourceRegistry,
  caller: Caller,
  input: Input,
): Promise<{ jobs: Record<string, unknown>[]; nextToken?: string }> {
  const r = registry.consumables.require(input.consumableResource as string, 'consumableResource');
  checkRange('maxResults', input.maxResults as number | undefined, 1, 1000);
  const query: Parameters<Store['listJobs']>[0] = {
    consumableResource: r.consumableResourceArn,
    includeChildren: true,
    limit: (input.maxResults as number | undefined) ?? 100,
  };
  for (const f of (input.filters as { name?: string; values?: string[] }[] | undefined) ?? []) {
    const v = f.values?.[0];
    if (v === undefined || f.values?.length !== 1)
      throw new ClientException(`filters: each filter needs a name and exactly one value; got ${JSON.stringify(f)}`);
    if (f.name === 'JOB_STATUS') {
      const st = v.toUpperCase();
      if (!(JOB_STATUSES as string[]).includes(st))
        throw new ClientException(
          `filters: JOB_STATUS must be one of ${JOB_STATUSES.join(', ')}; got ${JSON.stringify(v)}`,
        );
      query.statuses = [st as JobStatus];
    } else if (f.name === 'JOB_NAME') {
      query.jobName = { value: v.endsWith('*') ? v.slice(0, -1) : v, prefix: v.endsWith('*') };
    } else
      throw new ClientException(
        `filters: unknown filter name ${JSON.stringify(f.name)}; ListJobsByConsumableResource filters by JOB_STATUS or JOB_NAME`,
      );
  }
  if (!caller.admin) query.pi = caller.pi;
  const cursor = decodeToken<{ c: number; i: string }>('crjobs', input.nextToken as string | undefined);
  if (cursor) query.after = { createdAt: cursor.c, jobId: cursor.i };
  const page = await store.listJobs(query);
  const out: { jobs: Record<string, unknown>[]; nextToken?: string } = {
    jobs: page.jobs.map((j) => {
      const needs = j.consumableResourceProperties?.consumableResourceList;
      const reason =
        j.status === 'RUNNABLE' ? (registry.consumables.shortfall(needs) ?? j.statusReason) : j.statusReason;
      return {
        jobArn: j.jobArn,
        jobQueueArn: j.jobQueueArn,
        jobName: j.jobName,
        jobDefinitionArn: j.jobDefinitionArn,
        ...(j.shareIdentifier !== undefined ? { shareIdentifier: j.shareIdentifier } : {}),
        jobStatus: j.status,
        quantity: needs?.find((c) => c.consumableResource === r.consumableResourceArn)?.quantity ?? 0,
        ...(reason !== undefined ? { statusReason: reason } : {}),
        ...(j.startedAt !== undefined ? { startedAt: j.startedAt } : {}),
        createdAt: j.createdAt,
        consumableResourceProperties: j.consumableResourceProperties ?? { consumableResourceList: [] },
      };
    }),
  };
  if (page.last) out.nextToken = encodeToken('crjobs', { c: page.last.createdAt, i: page.last.jobId });
  return out;
}
