/**
 * The Docker runtime driven directly against a real engine, with a recorder in place of the job service: stop with a
 * short grace period (SIGTERM honoured, SIGTERM ignored -> SIGKILL), re-attach after the runtime is replaced
 * (output resumed where it stopped, exit code collected), orphans removed, start failures explained.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExitReport, RunSpec, RuntimeEvents } from '../../src/core/ports.js';
import { DockerRuntime } from '../../src/runtime/docker/docker-runtime.js';
import { containerOptions } from '../../src/runtime/docker/container-config.js';
import { GpuPool } from '../../src/runtime/docker/gpu-pool.js';
import { waitFor } from '../helpers/clients.js';
import { containersOf, startTestEngine, TEST_IMAGE, type TestEngine } from '../helpers/docker.js';

class Recorder implements RuntimeEvents {
  readonly startedAt = new Map<string, number>();
  readonly out = new Map<string, string>();
  readonly exits = new Map<string, ExitReport>();
  private waiters: (() => void)[] = [];
  started(jobId: string, attempt: number): void {
    this.startedAt.set(`${jobId}#${attempt}`, Date.now());
    this.notify();
  }
  output(jobId: string, attempt: number, stream: 'stdout' | 'stderr', data: Buffer): void {
    const k = `${jobId}#${attempt}`;
    this.out.set(k, (this.out.get(k) ?? '') + `${stream}:${data.toString()}`);
    this.notify();
  }
  exited(jobId: string, attempt: number, report: ExitReport, durable?: () => void): void {
    this.exits.set(`${jobId}#${attempt}`, report);
    this.notify();
    durable?.();
  }
  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  async until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }
}

const spec = (jobId: string, command: string[], extra: Partial<RunSpec> = {}): RunSpec => ({
  jobId,
  attempt: 1,
  command,
  environment: { AWS_BATCH_JOB_ID: jobId },
  containerProperties: { image: TEST_IMAGE },
  resources: { vcpus: 1, memoryMiB: 64, gpus: 0 },
  logStreamName: `t/default/${jobId}`,
  ...extra,
});

void describe('DockerRuntime on a real engine', () => {
  let engine: TestEngine;
  let dir: string;
  const runtime = (events: RuntimeEvents, graceMs = 1000) =>
    new DockerRuntime(
      {
        docker: engine.docker,
        engine: 'test engine',
        server: dir,
        scratchRoot: join(dir, 'scratch'),
        stateDir: join(dir, 'state'),
        stopGraceMs: graceMs,
        gpus: 2,
      },
      events,
    );

  /** Until the test's containers are gone (a container goes after its end is durable, a moment after the exit). */
  const untilNoContainers = () =>
    waitFor(
      'no container of the test left',
      () => containersOf(engine.docker, dir),
      (l) => l.length === 0,
      5_000,
    );

  before(async () => {
    engine = await startTestEngine();
    dir = mkdtempSync(join(tmpdir(), 'openbatch-dockerrt-'));
  });
  after(async () => {
    const left = await containersOf(engine.docker, dir);
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(left, [], 'no container of the test is left behind');
  });

  void it('stop sends SIGTERM, then SIGKILL after the grace period when SIGTERM is ignored', async () => {
    const ev = new Recorder();
    const rt = runtime(ev, 1000);
    rt.start(
      spec('polite', ['sh', '-c', 'trap "echo got-term; exit 143" TERM; echo ready; while true; do sleep 0.1; done']),
    );
    rt.start(spec('stubborn', ['sh', '-c', 'trap "" TERM; echo ready; while true; do sleep 0.1; done']));
    await ev.until('both ready', () => ['polite#1', 'stubborn#1'].every((k) => ev.out.get(k)?.includes('ready')));
    const t0 = Date.now();
    await rt.stop('polite', 1, 'Terminated');
    await rt.stop('stubborn', 1, 'Terminated');
    await ev.until('both exited', () => ev.exits.size === 2);
    assert.equal(ev.exits.get('polite#1')?.exitCode, 143);
    assert.match(ev.out.get('polite#1') ?? '', /got-term/);
    const stubborn = ev.exits.get('stubborn#1')!;
    assert.equal(stubborn.exitCode, 137);
    // A kill we sent is not an out-of-memory kill.
    assert.equal(stubborn.reason, undefined);
    assert.ok(Date.now() - t0 >= 900, 'SIGKILL came only after the grace period');
    await rt.close();
  });

  void it('re-attaches after the runtime is replaced: output resumes where it stopped, the exit code is collected', async () => {
    const ev1 = new Recorder();
    const rt1 = runtime(ev1);
    rt1.start(spec('long', ['sh', '-c', 'echo before; sleep 2; echo after; exit 5']));
    rt1.start(spec('orphan', ['sleep', '30']));
    rt1.start(spec('quick', ['sh', '-c', 'echo early; sleep 0.5; echo late; exit 6']));
    await ev1.until('output before', () => (ev1.out.get('long#1') ?? '').includes('before'));
    await ev1.until('quick early', () => (ev1.out.get('quick#1') ?? '').includes('early'));
    await ev1.until('orphan started', () => ev1.startedAt.has('orphan#1'));
    await rt1.close(); // as a server stop: containers keep running
    await new Promise((r) => setTimeout(r, 1000)); // "quick" exits while no runtime watches
    const ev2 = new Recorder();
    const rt2 = runtime(ev2);
    const gone = await rt2.recover([
      { jobId: 'long', attempt: 1 },
      { jobId: 'quick', attempt: 1 },
      { jobId: 'vanished', attempt: 2 },
    ]);
    assert.deepEqual(gone, [{ jobId: 'vanished', attempt: 2 }]);
    await ev2.until('both exited', () => ev2.exits.has('long#1') && ev2.exits.has('quick#1'));
    assert.equal(ev2.exits.get('long#1')?.exitCode, 5);
    assert.equal(ev2.exits.get('quick#1')?.exitCode, 6);
    assert.equal(ev2.out.get('long#1'), 'stdout:after\n', 'only the output not yet reported');
    assert.equal(ev2.out.get('quick#1'), 'stdout:late\n');
    assert.ok(ev2.startedAt.has('long#1'));
    // The orphan's attempt was not asked for: its container is removed (the others once their ends are durable).
    await untilNoContainers();
    assert.deepEqual(readdirSync(join(dir, 'scratch')), [], 'scratch directories removed');
    await rt2.close();
  });

  void it('keeps an exited container until its end is durable, so a crash before then loses nothing', async () => {
    // The job service never confirms this end (the server dies before its commit): the container must stay.
    const ev1 = new (class extends Recorder {
      override exited(jobId: string, attempt: number, report: ExitReport): void {
        super.exited(jobId, attempt, report); // and never calls `durable`
      }
    })();
    const rt1 = runtime(ev1);
    rt1.start(spec('unsaved', ['sh', '-c', 'echo done; exit 3']));
    await ev1.until('the exit', () => ev1.exits.has('unsaved#1'));
    assert.equal(ev1.exits.get('unsaved#1')?.exitCode, 3);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(
      (await containersOf(engine.docker, dir)).map((c) => c.State),
      ['exited'],
      'the container outlives an end that is not durable',
    );
    await rt1.close(); // the crash
    const ev2 = new Recorder();
    const rt2 = runtime(ev2);
    assert.deepEqual(await rt2.recover([{ jobId: 'unsaved', attempt: 1 }]), [], 'the attempt is not lost');
    await ev2.until('the exit collected again', () => ev2.exits.has('unsaved#1'));
    assert.equal(ev2.exits.get('unsaved#1')?.exitCode, 3);
    // This time the end is durable at once: the container goes.
    await untilNoContainers();
    await rt2.close();
  });

  void it('explains start failures and cleans up after them', async () => {
    const ev = new Recorder();
    const rt = runtime(ev);
    rt.start(spec('nocmd', ['/no/such/program']));
    rt.start(spec('noimage', ['true'], { containerProperties: { image: 'registry.invalid/none/such:1' } }));
    await ev.until('both exited', () => ev.exits.size === 2);
    assert.match(ev.exits.get('nocmd#1')?.reason ?? '', /^CannotStartContainerError: .*no such file or directory/);
    assert.match(ev.exits.get('noimage#1')?.reason ?? '', /^CannotPullContainerError: .*registry\.invalid/);
    assert.equal(ev.startedAt.size, 0, 'neither counts as started');
    assert.ok(!existsSync(join(dir, 'scratch', 'openbatch-nocmd-1')));
    await rt.close();
  });
});

void describe('container options', () => {
  void it('maps resources, linuxParameters, volumes and scratch like AWS Batch on ECS', () => {
    const o = containerOptions(
      {
        ...spec('j', ['echo', 'hi']),
        resources: { vcpus: 0.5, memoryMiB: 100, gpus: 1 },
        containerProperties: {
          image: TEST_IMAGE,
          user: '1000',
          readonlyRootFilesystem: true,
          privileged: false,
          ulimits: [{ name: 'nofile', softLimit: 1024, hardLimit: 2048 }],
          linuxParameters: {
            initProcessEnabled: true,
            sharedMemorySize: 64,
            maxSwap: 0,
            swappiness: 10,
            tmpfs: [{ containerPath: '/run', size: 32, mountOptions: ['noexec'] }],
          },
          volumes: [{ name: 'data', host: { sourcePath: '/srv/data' } }, { name: 'anon' }],
          mountPoints: [
            { sourceVolume: 'data', containerPath: '/data', readOnly: true },
            { sourceVolume: 'anon', containerPath: '/work' },
          ],
        },
      },
      { server: '/srv/ob', scratchDir: '/scratch/a', gpus: [1] },
    );
    const h = o.HostConfig!;
    assert.equal(h.NanoCpus, 500_000_000);
    assert.equal(h.CpuShares, 512);
    assert.equal(h.Memory, 100 * 1024 * 1024);
    assert.equal(h.MemorySwap, 100 * 1024 * 1024, 'maxSwap 0 = no swap');
    assert.equal(h.MemorySwappiness, 10);
    assert.equal(h.ShmSize, 64 * 1024 * 1024);
    assert.equal(h.Init, true);
    assert.equal(h.ReadonlyRootfs, true);
    assert.deepEqual(h.Ulimits, [{ Name: 'nofile', Soft: 1024, Hard: 2048 }]);
    assert.deepEqual(h.Tmpfs, { '/run': 'size=32m,noexec' });
    assert.deepEqual(h.Binds, ['/srv/data:/data:ro', '/scratch/a:/tmp:rw']);
    assert.equal(h.Mounts?.[0]?.Target, '/work');
    assert.deepEqual(h.DeviceRequests, [{ Driver: 'nvidia', DeviceIDs: ['1'], Capabilities: [['gpu']] }]);
    assert.equal(o.User, '1000');
    assert.deepEqual(o.Cmd, ['echo', 'hi']);
    assert.equal(o.Labels?.['openbatch.job-id'], 'j');
    assert.equal(o.Labels?.['openbatch.server'], '/srv/ob');
  });

  void it('never gives one GPU to two running attempts', () => {
    const pool = new GpuPool(3);
    const a = pool.take(2)!;
    const b = pool.take(2);
    assert.equal(b, undefined, 'only one GPU is left');
    const c = pool.take(1)!;
    assert.equal(new Set([...a, ...c]).size, 3);
    pool.release(a);
    assert.deepEqual(pool.take(2)?.sort(), [...a].sort());
  });
});
