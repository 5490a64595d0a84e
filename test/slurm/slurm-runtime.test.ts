/**
 * The Slurm runtime against a real cluster (slurmctld + three slurmd nodes in their own network namespaces):
 * placement over the nodes, Slurm's pending reason, live output, terminate, Slurm's time limit, a node failure, one
 * array job per batch of starts, and a restart that re-attaches without losing or re-running anything.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ExitReport, RunSpec, RuntimeEvents } from '../../src/core/ports.js';
import { SlurmRuntime } from '../../src/runtime/slurm/slurm-runtime.js';
import { waitFor } from '../helpers/clients.js';
import { startTestSlurm, type TestSlurm } from '../helpers/slurm.js';

interface Seen {
  started?: string;
  out: string;
  err: string;
  exit?: ExitReport;
  outAtExit?: string;
}

class Recorder implements RuntimeEvents {
  readonly jobs = new Map<string, Seen>();
  of(jobId: string): Seen {
    let s = this.jobs.get(jobId);
    if (!s) this.jobs.set(jobId, (s = { out: '', err: '' }));
    return s;
  }
  started(jobId: string, _attempt: number, info: { taskArn?: string }): void {
    this.of(jobId).started = info.taskArn ?? '?';
  }
  output(jobId: string, _attempt: number, stream: 'stdout' | 'stderr', data: Buffer): void {
    const s = this.of(jobId);
    if (stream === 'stdout') s.out += data.toString();
    else s.err += data.toString();
  }
  exited(jobId: string, _attempt: number, report: ExitReport, durable?: () => void): void {
    const s = this.of(jobId);
    assert.equal(s.exit, undefined, `${jobId} exited twice`);
    s.exit = report;
    durable?.();
  }
  exit(jobId: string, ms = 30_000): Promise<ExitReport> {
    return waitFor(
      `${jobId} to exit`,
      () => this.of(jobId).exit,
      (e) => e !== undefined,
      ms,
    ) as Promise<ExitReport>;
  }
}

let n = 0;
function spec(command: string[], o: Partial<RunSpec> = {}): RunSpec {
  const jobId = `job-${process.pid}-${n++}`;
  return {
    jobId,
    attempt: 1,
    command,
    environment: { AWS_BATCH_JOB_ID: jobId, AWS_BATCH_JOB_ATTEMPT: '1' },
    containerProperties: { image: 'busybox' },
    resources: { vcpus: 1, memoryMiB: 64, gpus: 0 },
    logStreamName: `d/default/${jobId}`,
    owner: { user: 'alice', pi: 'smith' },
    ...o,
  };
}

describe('Slurm runtime on a three-node cluster', () => {
  let slurm: TestSlurm;
  let events: Recorder;
  let runtime: SlurmRuntime;
  /** The time-limit test's jobs, started by the second test, checked by the last. */
  const timed: {
    live?: RunSpec;
    across?: RunSpec;
    liveEvents?: Recorder;
    liveRuntime?: SlurmRuntime;
    acrossSlurmId?: string;
  } = {};
  const make = (ev: RuntimeEvents, stateDir = `${slurm.dir}/runtime`) =>
    new SlurmRuntime(
      {
        partition: 'batch',
        stateDir,
        env: slurm.env,
        accounts: { default: 'nobody', byPi: { root: 'root' } },
        pollMs: 150,
        tailMs: 100,
      },
      ev,
    );

  before(async () => {
    slurm = await startTestSlurm();
    events = new Recorder();
    runtime = make(events);
  });
  after(async () => {
    await runtime?.close();
    await timed.liveRuntime?.close();
    await slurm?.stop();
  });

  it('places whole-node attempts on three different nodes, as the mapped account, and says why a fourth waits', async () => {
    const cmd = [
      'sh',
      '-c',
      'echo "node=$SLURMD_NODENAME user=$(id -un) job=$AWS_BATCH_JOB_ID"; echo to-stderr >&2; sleep 2',
    ];
    const specs = [1, 2, 3, 4].map(() => spec(cmd, { resources: { vcpus: 4, memoryMiB: 64, gpus: 0 } }));
    for (const s of specs) runtime.start(s);
    const fourth = specs[3]!.jobId;
    const reason = await waitFor(
      'a pending reason',
      () => runtime.pendingReason(fourth),
      (r) => r === 'Resources',
    );
    assert.equal(reason, 'Resources');
    const exits = await Promise.all(specs.map((s) => events.exit(s.jobId, 60_000)));
    for (const e of exits) assert.deepEqual(e, { exitCode: 0 });
    const nodes = specs.slice(0, 3).map((s) => /node=(\S+)/.exec(events.of(s.jobId).out)?.[1]);
    assert.deepEqual([...new Set(nodes)].sort(), ['n1', 'n2', 'n3'], `first three spread over the nodes: ${nodes}`);
    for (const s of specs) {
      const seen = events.of(s.jobId);
      assert.match(seen.out, new RegExp(`user=nobody job=${s.jobId}\\n`));
      assert.equal(seen.err, 'to-stderr\n');
      assert.match(seen.started ?? '', /^slurm\/\d+_\d$/);
    }
    // Four starts within the batching window went out as one Slurm array job.
    assert.equal(new Set(specs.map((s) => events.of(s.jobId).started!.split('_')[0])).size, 1);
  });

  // Slurm's time limit is a minute at least, so the time-limit test's two jobs start here and run while the tests
  // after this one do; the last test checks how they ended. They start after the placement test (which needs every
  // node free) and take one CPU each, which leaves a free node to the node-failure test's whole-node job. Each has a
  // state directory of its own: a recover() over another directory (the restart test's) would cancel them.
  it("starts two jobs under Slurm's time limit, one of whose owners then closes (checked by the last test)", async () => {
    const cmd = ['sh', '-c', 'trap "echo caught; exit 0" TERM; echo up; while :; do sleep 1; done'];
    timed.live = spec(cmd, { timeoutSeconds: 60 });
    timed.across = spec(cmd, { timeoutSeconds: 60 });
    timed.liveEvents = new Recorder();
    timed.liveRuntime = make(timed.liveEvents, `${slurm.dir}/time-limit-live`);
    timed.liveRuntime.start(timed.live);
    const first = new Recorder();
    const a = make(first, `${slurm.dir}/time-limit-across`);
    try {
      a.start(timed.across);
      await waitFor(
        'both to run',
        () => [timed.liveEvents!.of(timed.live!.jobId).out, first.of(timed.across!.jobId).out],
        (o) => o.every((x) => x === 'up\n'),
        30_000,
      );
      timed.acrossSlurmId = first.of(timed.across.jobId).started!.replace('slurm/', '');
    } finally {
      await a.close();
    }
  });

  it('streams output while the job runs, and reports the exit code', async () => {
    const s = spec(['sh', '-c', 'echo first; sleep 3; echo second; exit 3']);
    runtime.start(s);
    await waitFor(
      'first line',
      () => events.of(s.jobId).out,
      (o) => o === 'first\n',
      20_000,
    );
    assert.equal(events.of(s.jobId).exit, undefined, 'the first line arrived before the job ended');
    assert.deepEqual(await events.exit(s.jobId), { exitCode: 3 });
    assert.equal(events.of(s.jobId).out, 'first\nsecond\n');
  });

  it("keeps a job's state directory until the job service has made its end durable, then removes it", async () => {
    let confirm: (() => void) | undefined;
    const unconfirmed = new (class extends Recorder {
      override exited(jobId: string, attempt: number, report: ExitReport, durable?: () => void): void {
        super.exited(jobId, attempt, report);
        confirm = durable;
      }
    })();
    const stateDir = `${slurm.dir}/durable`;
    const r = make(unconfirmed, stateDir);
    try {
      const s = spec(['sh', '-c', 'exit 4']);
      r.start(s);
      assert.deepEqual(await unconfirmed.exit(s.jobId, 60_000), { exitCode: 4 });
      const groups = () => readdirSync(join(stateDir, 'groups'));
      await new Promise((res) => setTimeout(res, 1500));
      assert.equal(groups().length, 1, 'a crash now would find the exit code again on recover()');
      assert.ok(confirm, 'the runtime asked to hear when the end is durable');
      confirm();
      await waitFor('the state directory removed', groups, (g) => g.length === 0, 5_000);
    } finally {
      await r.close();
    }
  });

  it('reports starts, output and clean exits from the batch script files and markers alone, without squeue', async () => {
    // The first squeue poll is an hour away (and nothing exits non-zero, which would ask for one at once): a task is
    // looked at only once its marker in the array's ev directory names it.
    const quiet = new Recorder();
    const r = new SlurmRuntime(
      {
        partition: 'batch',
        stateDir: `${slurm.dir}/quiet`,
        env: slurm.env,
        accounts: { default: 'nobody' },
        pollMs: 3_600_000,
        tailMs: 100,
      },
      quiet,
    );
    try {
      const specs = [0, 1, 2, 3, 4, 5].map((i) => spec(['sh', '-c', `echo task-${i}`]));
      for (const s of specs) r.start(s);
      for (const s of specs) assert.deepEqual(await quiet.exit(s.jobId, 60_000), { exitCode: 0 });
      specs.forEach((s, i) => {
        assert.equal(quiet.of(s.jobId).out, `task-${i}\n`);
        assert.match(quiet.of(s.jobId).started ?? '', /^slurm\/\d+_\d$/);
      });
    } finally {
      await r.close();
    }
  });

  it('stop() cancels the Slurm job; the command gets SIGTERM', async () => {
    const s = spec(['sh', '-c', 'trap "echo got-term; exit 143" TERM; echo up; while :; do sleep 0.2; done']);
    runtime.start(s);
    await waitFor(
      'the job to run',
      () => events.of(s.jobId).out,
      (o) => o.includes('up'),
      20_000,
    );
    await runtime.stop(s.jobId, 1, 'Terminated by test');
    const exit = await events.exit(s.jobId, 20_000);
    assert.equal(exit.reason, 'Slurm job cancelled (scancel) at openbatch request');
    assert.equal(exit.exitCode, 143);
    assert.match(events.of(s.jobId).out, /got-term/);
  });

  it('a node that dies under a job is reported as a terminated host (NODE_FAIL)', async () => {
    const s = spec(['sh', '-c', 'echo "on=$SLURMD_NODENAME"; sleep 300'], {
      resources: { vcpus: 4, memoryMiB: 64, gpus: 0 },
    });
    runtime.start(s);
    const out = await waitFor(
      'the job to run',
      () => events.of(s.jobId).out,
      (o) => o.includes('on='),
      20_000,
    );
    const node = /on=(\S+)/.exec(out)![1]!;
    slurm.killNode(node);
    const exit = await events.exit(s.jobId, 60_000);
    assert.deepEqual(exit, { statusReason: `Host EC2 (instance ${node}) terminated.` });
    await slurm.restartNode(node);
  });

  it('refuses to run a job as root unless allowed, and reports a missing account', async () => {
    const asRoot = spec(['true'], { owner: { user: 'r', pi: 'root' } });
    runtime.start(asRoot);
    assert.match((await events.exit(asRoot.jobId)).reason ?? '', /CannotStartContainerError: jobs would run as root/);
  });

  it('re-attaches after a restart: output resumes where it stopped, orphans are cancelled, nothing runs twice', async () => {
    const first = new Recorder();
    const a = make(first);
    const kept = spec(['sh', '-c', 'echo before; sleep 3; echo after']);
    const orphan = spec(['sh', '-c', 'echo orphan-ran; sleep 300']);
    a.start(kept);
    a.start(orphan);
    await waitFor(
      'kept to print',
      () => first.of(kept.jobId).out,
      (o) => o === 'before\n',
      20_000,
    );
    await waitFor(
      'orphan to run',
      () => first.of(orphan.jobId).started,
      (x) => x !== undefined,
      20_000,
    );
    const orphanId = first.of(orphan.jobId).started!.replace('slurm/', '');
    await a.close();

    const second = new Recorder();
    const b = make(second);
    try {
      const gone = await b.recover([{ jobId: kept.jobId, attempt: 1 }]);
      assert.deepEqual(gone, []);
      assert.deepEqual(await second.exit(kept.jobId), { exitCode: 0 });
      assert.equal(second.of(kept.jobId).out, 'after\n', 'output resumed after what was already delivered');
      const state = await waitFor(
        'the orphan to be cancelled',
        () => slurm.cmd('squeue', ['-h', '-t', 'all', '-j', orphanId, '-o', '%T']).trim(),
        (st) => st === 'CANCELLED',
        20_000,
      );
      assert.equal(state, 'CANCELLED');
      assert.equal(second.jobs.has(orphan.jobId), false, 'the orphan is not reported to the new owner');
      const lost = await b.recover([{ jobId: 'never-started', attempt: 1 }]);
      assert.deepEqual(lost, [{ jobId: 'never-started', attempt: 1 }]);
    } finally {
      await b.close();
    }
  });

  // Last: its jobs started in the second test and have run meanwhile.
  it("Slurm's time limit is a timeout even when the command catches SIGTERM and exits 0, live and across a restart", async () => {
    // --time=1: Slurm stops them a minute (and up to its next time-limit check) after they start.
    const { live, across, liveEvents, acrossSlurmId } = timed;
    assert.ok(
      live && across && liveEvents && acrossSlurmId,
      'the jobs of this test did not start (see the second test)',
    );
    // The first owner is gone when Slurm's limit stops its job; the next one finds it ended, exit code 0.
    await waitFor(
      'Slurm to time it out',
      () => slurm.cmd('squeue', ['-h', '-t', 'all', '-j', acrossSlurmId, '-o', '%T']).trim(),
      (st) => st === 'TIMEOUT',
      180_000,
    );
    const second = new Recorder();
    const b = make(second, `${slurm.dir}/time-limit-across`);
    try {
      assert.deepEqual(await b.recover([{ jobId: across.jobId, attempt: 1 }]), []);
      for (const [rec, s] of [
        [liveEvents, live],
        [second, across],
      ] as const) {
        const exit = await rec.exit(s.jobId, 180_000);
        // The reason is what matters. The exit code is 0 when the batch script recorded the command's exit before
        // Slurm's kill grace ran out, and absent when it did not (a loaded machine): both are a timeout.
        assert.equal(exit.statusReason, 'Job attempt duration exceeded timeout', s.jobId);
        assert.ok(exit.exitCode === 0 || exit.exitCode === undefined, `${s.jobId}: exit code ${exit.exitCode}`);
        // `live` shows all its output; `across` only what came after the restart (its `up` went to the first owner).
        assert.match(rec.of(s.jobId).out, /(up|caught)\n$/, 'the output reached the log');
      }
    } finally {
      await b.close();
    }
  });
});
