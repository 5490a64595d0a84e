/**
 * The job service running for real inside the test process (SQLite store in a temporary directory, process runtime,
 * logs discarded), with one compute environment `ce`, one queue `q` and one job definition `d`: for tests that need
 * to reach past the API (an injected clock, a store that refuses a write).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Caller } from '../../src/core/caller.js';
import { discardLogs } from '../../src/core/ports.js';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { JobService } from '../../src/service/jobs/job-service.js';
import { ResourceRegistry } from '../../src/service/resources.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

export const admin: Caller = { user: 'root', pi: '', admin: true };

export interface LocalService {
  store: SqliteStore;
  registry: ResourceRegistry;
  jobs: JobService;
  close(): Promise<void>;
}

export async function startLocalService(opts: {
  clock: () => number;
  /** The definition's command (1 vCPU, 64 MiB). */
  command: string[];
  /** More of CreateJobQueue's input for `q` (e.g. jobStateTimeLimitActions). */
  queue?: Record<string, unknown>;
  /** Called with the store before the service starts (e.g. to make it refuse a write). */
  beforeStart?: (store: SqliteStore) => void;
}): Promise<LocalService> {
  const dir = mkdtempSync(join(tmpdir(), 'openbatch-service-'));
  const store = new SqliteStore({ file: join(dir, 'db.sqlite'), durable: false });
  const arn = { region: 'us-east-1', accountId: '123456789012' };
  const registry = new ResourceRegistry(store, arn, opts.clock);
  const jobs = new JobService(store, registry, {
    arn,
    host: { vcpus: 2, memoryMiB: 1024, gpus: 0 },
    clock: opts.clock,
  });
  jobs.runtime = new ProcessRuntime({ scratchRoot: join(dir, 'scratch'), stateDir: join(dir, 'run') }, jobs.host);
  jobs.logs = discardLogs;
  opts.beforeStart?.(store);
  await jobs.start();
  await registry.createComputeEnvironment({
    computeEnvironmentName: 'ce',
    type: 'MANAGED',
    computeResources: { type: 'EC2', maxvCpus: 2 },
  });
  await registry.createJobQueue({
    jobQueueName: 'q',
    priority: 1,
    computeEnvironmentOrder: [{ order: 1, computeEnvironment: 'ce' }],
    ...opts.queue,
  });
  await registry.registerJobDefinition(
    {
      jobDefinitionName: 'd',
      type: 'container',
      containerProperties: { image: 'x', command: opts.command, vcpus: 1, memory: 64 },
    },
    undefined,
  );
  return {
    store,
    registry,
    jobs,
    async close() {
      await jobs.close();
      await jobs.runtime.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
