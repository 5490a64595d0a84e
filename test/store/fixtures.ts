/** Jobs and resources for the store contract suites. */
import type { Job } from '../../src/core/types.js';

export const Q = 'arn:aws:batch:us-east-1:123456789012:job-queue/q';
export const Q2 = 'arn:aws:batch:us-east-1:123456789012:job-queue/q2';
export const jd = (name: string, rev: number) => `arn:aws:batch:us-east-1:123456789012:job-definition/${name}:${rev}`;

export function jobId(i: number, prefix = '00000000'): string {
  return `${prefix}-0000-4000-8000-${String(i).padStart(12, '0')}`;
}

export function job(i: number, over: Partial<Job> = {}, prefix?: string): Job {
  const id = jobId(i, prefix);
  return {
    jobId: id,
    jobArn: `arn:aws:batch:us-east-1:123456789012:job/${id}`,
    jobName: `Job-${i % 2 ? 'odd' : 'even'}-${i}`,
    jobQueueArn: Q,
    jobDefinitionArn: jd(i % 3 ? 'alpha' : 'beta', 1 + (i % 2)),
    status: 'RUNNABLE',
    createdAt: 1_000 + Math.floor(i / 2), // pairs share a createdAt: the id breaks ties
    statusChangedAt: 1_000,
    attempts: [],
    container: {},
    dependsOn: [],
    parameters: {},
    containerProperties: { image: 'i', command: ['true'] },
    resources: { vcpus: 1, memoryMiB: 16, gpus: 0 },
    owner: { user: i % 5 ? 'ann' : 'bob', pi: i % 4 ? 'lab-a' : 'lab-b' },
    ...over,
  };
}
