/**
 * RUNNABLE jobs the engine holds without their documents (engine/compact-jobs.ts), on SQLite and on PostgreSQL, with
 * the real service and process runtime and a limit low enough that a few dozen jobs are held compactly: cancel,
 * terminate and a queue time limit reach them, they run first in, first out once capacity comes, and a restarted
 * leader loads RUNNABLE jobs compactly and runs them in the same order.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { discardLogs, type Store } from '../../src/core/ports.js';
import type { Caller } from '../../src/core/caller.js';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { JobService } from '../../src/service/jobs/job-service.js';
import { ResourceRegistry } from '../../src/service/resources.js';
import { forEachBackend, type BackendContext } from '../store/backends.js';

const admin: Caller = { user: 'root', pi: '', admin: true };
const arn = { region: 'us-east-1', accountId: '123456789012' };
const settle = () => new Promise((r) => setTimeout(r, 50));
const LIMIT_REASON = 'Canceled by JobStateTimeLimit action due to reason: MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT';

forEachBackend('Engine: RUNNABLE jobs held compactly', (ctx: BackendContext) => {
  let offset = 0; // the time-limit case moves the clock 11 minutes ahead
  const clock = () => Date.now() + offset;
  let registry: ResourceRegistry;
  let jobs: JobService;
  let n = 0;

  const open = async (store: Store = ctx.stores.store) => {
    registry = new ResourceRegistry(store, arn, clock);
    await registry.load();
    jobs = new JobService(store, registry, {
      arn,
      host: { vcpus: 1, memoryMiB: 1024, gpus: 0 },
      clock,
      wholeJobsLimit: 4,
      replicaId: `r${n++}`,
      lease: { ttlMs: 1000, renewMs: 200 },
    });
    jobs.runtime = new ProcessRuntime(
      { scratchRoot: join(ctx.location.dataDir, 'scratch'), stateDir: join(ctx.location.dataDir, `run${n}`) },
      jobs.host,
    );
    jobs.logs = discardLogs;
    await jobs.start();
    for (let i = 0; i < 100 && jobs.role().role !== 'leader'; i++) await settle();
    assert.equal(jobs.role().role, 'leader');
  };
  const close = async () => {
    await jobs.close();
    await jobs.runtime.close();
  };
  const submit = async (name: string, queue = 'q', vcpus = 1) =>
    (
      await jobs.submit(
        admin,
        { jobName: name, jobQueue: queue, jobDefinition: 'd', containerOverrides: { vcpus } },
        100,
      )
    ).jobId;
  const describe = async (ids: string[]) => {
    const out: Record<string, any>[] = [];
    for (let i = 0; i < ids.length; i += 100)
      out.push(...((await jobs.describe(admin, { jobs: ids.slice(i, i + 100) })).jobs as Record<string, any>[]));
    return new Map(out.map((j) => [j.jobId as string, j]));
  };
  const until = async (ids: string[], done: (j: Record<string, any>) => boolean) => {
    for (let i = 0; i < 600; i++) {
      const m = await describe(ids);
      if (ids.every((id) => m.get(id) && done(m.get(id)!))) return m;
      await settle();
    }
    const m = await describe(ids);
    assert.fail(`not all settled: ${JSON.stringify(ids.map((id) => m.get(id)?.status))}`);
  };
  // The server kicks the engine on every resource change (server.ts); here the test does.
  const setCe = async (state: 'ENABLED' | 'DISABLED') => {
    await registry.updateComputeEnvironment({ computeEnvironment: 'ce', state });
    jobs.kick();
  };
  const finished = (j: Record<string, any>) => j.status === 'SUCCEEDED' || j.status === 'FAILED';
  // First in, first out by creation time. Jobs created in the same millisecond have no order between them: a
  // restarted leader files them by id, as the store lists them.
  const assertRanInOrder = (ids: string[], m: Map<string, Record<string, any>>) => {
    const at = (i: number, f: 'createdAt' | 'startedAt') => m.get(ids[i]!)![f] as number;
    for (let i = 0; i < ids.length; i++)
      for (let k = i + 1; k < ids.length; k++)
        if (at(k, 'createdAt') > at(i, 'createdAt'))
          assert.ok(
            at(k, 'startedAt') >= at(i, 'startedAt'),
            `job ${k} (created ${at(k, 'createdAt')}) started before job ${i} (created ${at(i, 'createdAt')}): ${ids.map((_, j) => at(j, 'startedAt')).join(', ')}`,
          );
  };

  ctx.it('cancel and terminate reach compact jobs; the rest run first in, first out', async () => {
    await open();
    await registry.createComputeEnvironment({
      computeEnvironmentName: 'ce',
      type: 'MANAGED',
      state: 'DISABLED',
      computeResources: { type: 'EC2', maxvCpus: 1 },
    });
    for (const [name, limits] of [
      ['q', undefined],
      [
        'limited',
        [
          {
            reason: 'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT',
            state: 'RUNNABLE',
            maxTimeSeconds: 600,
            action: 'CANCEL',
          },
        ],
      ],
    ] as const)
      await registry.createJobQueue({
        jobQueueName: name,
        priority: 1,
        computeEnvironmentOrder: [{ order: 1, computeEnvironment: 'ce' }],
        ...(limits ? { jobStateTimeLimitActions: limits } : {}),
      });
    await registry.registerJobDefinition(
      {
        jobDefinitionName: 'd',
        type: 'container',
        containerProperties: { image: 'x', command: ['true'], vcpus: 1, memory: 16 },
      },
      undefined,
    );
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await submit(`deep-${i}`));
    assert.ok(jobs.stats()!.heldCompact >= 20, `held compactly: ${jobs.stats()!.heldCompact}`);
    assert.equal(jobs.stats()!.active, 40);

    const [cancelled, terminated] = [ids[30]!, ids[31]!];
    await jobs.cancel(admin, { jobId: cancelled, reason: 'not needed' });
    await jobs.terminate(admin, { jobId: terminated, reason: 'stop it' });
    const stopped = await until([cancelled, terminated], finished);
    assert.equal(stopped.get(cancelled)!.status, 'FAILED');
    assert.equal(stopped.get(cancelled)!.statusReason, 'not needed');
    assert.equal(stopped.get(terminated)!.status, 'FAILED');
    assert.equal(stopped.get(terminated)!.statusReason, 'stop it');
    // What DescribeJobs shows of a job still held compactly is its whole document.
    const deep = (await describe([ids[35]!])).get(ids[35]!)!;
    assert.equal(deep.status, 'RUNNABLE');
    assert.equal(deep.jobName, 'deep-35');
    assert.deepEqual(deep.container.command, ['true']);

    await setCe('ENABLED');
    const rest = ids.filter((id) => id !== cancelled && id !== terminated);
    const ran = await until(rest, finished);
    for (const id of rest) assert.equal(ran.get(id)!.status, 'SUCCEEDED', id);
    assertRanInOrder(rest, ran);
    assert.equal(jobs.stats()!.heldCompact, 0);

    // A queue time limit cancels jobs that can never fit, compact ones included.
    const big: string[] = [];
    for (let i = 0; i < 24; i++) big.push(await submit(`big-${i}`, 'limited', 4));
    assert.ok(jobs.stats()!.heldCompact > 0);
    offset += 11 * 60_000;
    assert.equal(jobs.applyTimeLimits(), 24);
    const limited = await until(big, finished);
    for (const id of big) {
      assert.equal(limited.get(id)!.status, 'FAILED');
      assert.equal(limited.get(id)!.statusReason, LIMIT_REASON);
    }
  });

  ctx.it('a restarted leader loads RUNNABLE jobs compactly and runs them in order', async () => {
    await setCe('DISABLED');
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(await submit(`again-${i}`));
    await close();
    await open();
    try {
      assert.equal(jobs.stats()!.active, 30);
      // All loaded compactly, and none read back while no job could start (the environment is disabled), however
      // often the engine passes.
      for (let i = 0; i < 6; i++) {
        jobs.kick();
        await settle();
      }
      assert.equal(jobs.stats()!.heldCompact, 30, 'compact jobs read back while no job could start');
      await setCe('ENABLED');
      const ran = await until(ids, finished);
      for (const id of ids) assert.equal(ran.get(id)!.status, 'SUCCEEDED', id);
      assertRanInOrder(ids, ran);
    } finally {
      // Also after a failure: an open engine and runtime would keep the test process alive.
      await close();
    }
  });

  ctx.it(
    "the leader files a follower's RUNNABLE jobs from its signal without reading them, and runs them in order",
    async () => {
      // The leader's reads of jobs by id, counted.
      const read = new Set<string>();
      const base = ctx.stores.store;
      const counted = new Proxy(base, {
        get(target, prop, receiver) {
          if (prop === 'getJobs')
            return (ids: readonly string[]) => {
              for (const id of ids) read.add(id);
              return target.getJobs(ids);
            };
          const v = Reflect.get(target, prop, receiver) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
      await open(counted);
      await registry.registerJobDefinition(
        {
          jobDefinitionName: 'sleeper',
          type: 'container',
          containerProperties: { image: 'x', command: ['sleep', '60'], vcpus: 1, memory: 16 },
        },
        undefined,
      );
      await setCe('ENABLED');
      // The one vCPU is taken: what the follower submits waits RUNNABLE, with no reason (it fits, later).
      const blocker = (await jobs.submit(admin, { jobName: 'blocker', jobQueue: 'q', jobDefinition: 'sleeper' }, 100))
        .jobId;
      await until([blocker], (j) => j.status === 'RUNNING');

      const other = ctx.backend === 'postgres' ? (await ctx.openAnother()).store : base;
      const followerRegistry = new ResourceRegistry(other, arn, clock);
      await followerRegistry.load();
      const follower = new JobService(other, followerRegistry, {
        arn,
        host: { vcpus: 1, memoryMiB: 1024, gpus: 0 },
        clock,
        replicaId: 'follower',
        lease: { ttlMs: 1000, renewMs: 200 },
      });
      follower.runtime = new ProcessRuntime(
        { scratchRoot: join(ctx.location.dataDir, 'scratch'), stateDir: join(ctx.location.dataDir, 'follower') },
        follower.host,
      );
      follower.logs = discardLogs;
      await follower.start();
      try {
        assert.equal(follower.role().role, 'follower');
        const before = jobs.stats()!.active;
        const ids: string[] = [];
        for (let i = 0; i < 40; i++)
          ids.push(
            (await follower.submit(admin, { jobName: `via-follower-${i}`, jobQueue: 'q', jobDefinition: 'd' }, 100))
              .jobId,
          );
        for (let i = 0; i < 200 && jobs.stats()!.active < before + 40; i++) await settle();
        assert.equal(jobs.stats()!.active, before + 40, 'the leader took up every job the follower submitted');
        // Only the front of the queue is read back (ahead of its start, FRONT_WHOLE = 16); the rest stay compact.
        const readBack = ids.filter((id) => read.has(id));
        assert.ok(readBack.length <= 16, `read back: ${readBack.length} of 40`);
        assert.ok(jobs.stats()!.heldCompact >= 24, `held compactly: ${jobs.stats()!.heldCompact}`);

        await jobs.terminate(admin, { jobId: blocker, reason: 'make room' });
        const ran = await until(ids, finished);
        for (const id of ids) assert.equal(ran.get(id)!.status, 'SUCCEEDED', id);
        assertRanInOrder(ids, ran);
      } finally {
        await follower.close();
        await follower.runtime.close();
        await close();
      }
    },
  );
});
