/**
 * The Slurm runtime: runs attempts as jobs of a Slurm partition, through sbatch/squeue/scancel (docs/decisions).
 *
 * - Submission: start() queues the attempt; a few milliseconds later every queued attempt of the same shape (CPUs,
 *   memory, GPUs, time limit, Unix account) goes out as ONE Slurm array job, so an array of 1,000 children is a
 *   handful of sbatch calls, not 1,000. Files per attempt: see batch-script.ts.
 * - Progress: one `squeue` per poll over the arrays in flight gives each task's state, node and pending reason;
 *   RUNNING reports `started`, a terminal state reports `exited` (slurm-states.ts maps it to AWS's words). Between
 *   polls, the `started` and `rc` files the batch script writes report starts and clean exits sooner (tailAll); a
 *   marker per start and end in the group's `ev` directory says whose files to read, so a thousand pending tasks
 *   cost one stat of that directory per tick, not a thousand.
 * - Time limit: `--time` is the attempt timeout rounded up to minutes; openbatch's own timer usually stops the attempt
 *   first. When Slurm's limit does (e.g. while openbatch was down), the attempt ends `Job attempt duration exceeded
 *   timeout` even if its command caught SIGTERM and exited 0: an exit this close to the limit is squeue's to explain
 *   (atLimit), or, once slurmctld forgot the job, taken for the limit's (endFromFiles).
 * - Output: Slurm writes each task's stdout/stderr to files on the shared disk; the runtime tails them and hands the
 *   new bytes to `output` as they appear. How far it has read is kept beside them, so a restart resumes there.
 * - Restart: the group directories (tasks.json, slurm-id) are the durable map from attempts to Slurm jobs; recover()
 *   re-attaches to the ones the store still runs and cancels those it no longer knows, so none is lost or run twice.
 */
import {
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { RunSpec, Runtime, RuntimeEvents, RuntimeStatus } from '../../core/ports.js';
import { accountFor, type AccountMap, type UnixAccount } from './accounts.js';
import { arrayBatchScript, taskScript, type DockerExecution } from './batch-script.js';
import { writeCredentialFiles } from './credential-files.js';
import { exitCodeIn, newMarkers, ranMsOf, readOffsets, readSmall, tailFiles, wasSignalled } from './task-files.js';
import type { Markers, Offsets } from './task-files.js';
import { multiNodeArgs, multiNodeBatchScript } from './multi-node-script.js';
import { SlurmClient, type QueuedTask } from './slurm-client.js';
import { STARTED_STATES, TERMINAL_STATES, exitReportOf } from './slurm-states.js';

export interface SlurmRuntimeOptions {
  partition: string;
  /** Where group directories live: must be the same path on every node (shared disk) and traversable by the accounts. */
  stateDir: string;
  /** Environment of the Slurm commands (e.g. `SLURM_CONF`). */
  env?: Record<string, string>;
  accounts: AccountMap;
  /** Run each attempt's image with this Docker engine on the node; without it, attempts run as processes. */
  docker?: DockerExecution;
  /**
   * Time between squeue polls. Default 1500 ms: starts and clean exits are read from files sooner (tailAll), which
   * asks for a poll at once when a task exits non-zero; each squeue over a 1,000-task array costs the controller and
   * this host CPU that the jobs would otherwise use, so while polls find nothing but clean exits the gap grows to
   * 4 × pollMs (see pollGap).
   */
  pollMs?: number;
  /** Time between reads of running attempts' output files. Default 200 ms. */
  tailMs?: number;
  /** How long start() waits to gather attempts into one array job. Default 20 ms. */
  batchWindowMs?: number;
  /** Largest array per sbatch (Slurm's MaxArraySize - 1 by default). Default 1000. */
  maxArraySize?: number;
}

interface Group {
  id: string;
  /** One Slurm job (a multi-node attempt), not an array: its tasks are addressed by the job id alone. */
  single?: boolean;
  dir: string;
  slurmId?: string;
  tasks: Task[];
  submittedAt?: number;
  /** Its `--time` in seconds (kept in `time-limit` beside tasks.json). */
  limitSeconds?: number;
  /** The group's `ev` directory (batch-script.ts), when its batch script makes markers there: see newMarkers. */
  markers?: Markers;
}

interface Task {
  spec: Pick<RunSpec, 'jobId' | 'attempt'>;
  group: Group;
  index: number;
  dir: string;
  state?: string;
  reason?: string;
  node?: string;
  started: boolean;
  done: boolean;
  /** Once `done`: resolves when the job service has made the end durable (RuntimeEvents.exited). */
  durable?: Promise<void>;
  stopRequested?: string;
  /** When squeue first said it ended (signalled) while its batch script had not written `rc` yet. */
  endSeenAt?: number;
  offsets: Offsets;
  /** A multi-node attempt: each node's directory and read offsets (index = node index); `main` decides the exit. */
  nodes?: { dir: string; offsets: Offsets }[];
  main?: number;
}

const key = (jobId: string, attempt: number): string => `${jobId}#${attempt}`;
/** Slurm's id of a task: `<array>_<index>`, or the job id of a single (multi-node) job. */
const slurmTaskId = (t: Task): string => (t.group.single ? t.group.slurmId! : `${t.group.slurmId}_${t.index}`);
/** The longest squeue poll gap, in multiples of pollMs (see pollGap). */
const POLL_BACKOFF = 4;
/**
 * How much later than Slurm's start the batch script may write `started`: an exit this close to the time limit or
 * later may be the limit's doing.
 */
const LIMIT_SLACK_SECONDS = 10;
/** Slurm states whose batch script got SIGTERM and may still be writing its last output and `rc`. */
const SIGNALLED_STATES = new Set(['TIMEOUT', 'DEADLINE', 'CANCELLED']);
/** How long an end in one of those states waits for `rc` (the command's last lines and its exit code). */
const RC_GRACE_MS = 5000;

/** `--time` of an attempt (whole minutes, Slurm's unit), in seconds; undefined without a timeout. */
const limitOf = (timeoutSeconds: number | undefined): number | undefined =>
  timeoutSeconds ? Math.ceil(timeoutSeconds / 60) * 60 : undefined;

export class SlurmRuntime implements Runtime {
  readonly name = 'slurm';
  readonly runsMultiNode = true;
  readonly isolatesJobs: boolean;
  private readonly slurm: SlurmClient;
  private readonly tasks = new Map<string, Task>();
  private readonly groups = new Map<string, Group>();
  private queued: { spec: RunSpec; account: UnixAccount }[] = [];
  private flushTimer?: NodeJS.Timeout;
  private readonly pollTimer: NodeJS.Timeout;
  private readonly tailTimer: NodeJS.Timeout;
  private submitting: Promise<unknown> = Promise.resolve();
  private polling = false;
  private lastPollAt = 0;
  /**
   * Time until the next squeue poll: pollMs, doubled after each poll that found no end other than a clean exit (the
   * files tell those) up to POLL_BACKOFF times pollMs; back to pollMs after a poll that found one, when a group goes
   * out or a stop is asked. A non-zero exit code asks for a poll at once (tailAll).
   */
  private pollGap: number;
  private lastError?: string;
  private seq = 0;
  private closed = false;

  constructor(
    private readonly opts: SlurmRuntimeOptions,
    private readonly events: RuntimeEvents,
  ) {
    this.slurm = new SlurmClient(opts.env);
    this.isolatesJobs = opts.docker !== undefined;
    mkdirSync(join(opts.stateDir, 'groups'), { recursive: true, mode: 0o755 });
    this.pollGap = opts.pollMs ?? 1500;
    this.pollTimer = setInterval(() => {
      if (Date.now() - this.lastPollAt >= this.pollGap - 10) void this.poll();
    }, opts.pollMs ?? 1500);
    this.tailTimer = setInterval(() => this.tailAll(), opts.tailMs ?? 200);
    this.pollTimer.unref();
    this.tailTimer.unref();
  }

  status(): RuntimeStatus {
    const notes = [
      `attempts run as jobs of Slurm partition ${this.opts.partition}${this.opts.env?.SLURM_CONF ? ` (SLURM_CONF=${this.opts.env.SLURM_CONF})` : ''}, ${this.opts.docker ? `in their images with the Docker engine at ${this.opts.docker.host} on each node` : 'as processes on the nodes (images are not used)'}`,
      `jobs run as Unix account ${this.opts.accounts.default}${Object.keys(this.opts.accounts.byPi ?? {}).length ? ' unless their PI group is mapped to another' : ''}`,
    ];
    if (this.lastError) notes.push(`last Slurm error: ${this.lastError}`);
    return { name: this.name, notes };
  }

  /** Slurm's reason why the job's current attempt still waits (`Resources`, `Priority`, ...). */
  pendingReason(jobId: string): string | undefined {
    let found: Task | undefined;
    for (const t of this.tasks.values()) if (t.spec.jobId === jobId && !t.done) found = t;
    if (!found) return undefined;
    if (!found.group.slurmId) return 'being submitted to Slurm';
    return found.state === 'PENDING' ? found.reason : undefined;
  }

  start(spec: RunSpec): void {
    const account = accountFor(this.opts.accounts, spec.owner?.pi);
    if ('error' in account) {
      queueMicrotask(() =>
        this.events.exited(spec.jobId, spec.attempt, { reason: `CannotStartContainerError: ${account.error}` }),
      );
      return;
    }
    if (spec.initContainers?.length) {
      queueMicrotask(() =>
        this.events.exited(spec.jobId, spec.attempt, {
          reason:
            "CannotStartContainerError: the Slurm runtime does not run a pod's init containers; submit to a queue on a docker or process compute environment",
        }),
      );
      return;
    }
    if (!spec.command[0] && !spec.entrypoint?.[0]) {
      queueMicrotask(() =>
        this.events.exited(spec.jobId, spec.attempt, {
          reason: 'CannotStartContainerError: the job has no command to run',
        }),
      );
      return;
    }
    if (spec.nodes) {
      this.submitMultiNode(spec, account);
      return;
    }
    this.queued.push({ spec, account });
    this.flushTimer ??= setTimeout(() => this.flush(), this.opts.batchWindowMs ?? 20);
  }

  /** Sends the queued attempts out, one array job per shape. */
  private flush(): void {
    this.flushTimer = undefined;
    const byShape = new Map<string, { spec: RunSpec; account: UnixAccount }[]>();
    for (const q of this.queued) {
      const r = q.spec.resources;
      const shape = [r.vcpus, r.memoryMiB, r.gpus, q.spec.timeoutSeconds ?? 0, q.account.name].join('|');
      const list = byShape.get(shape) ?? [];
      list.push(q);
      byShape.set(shape, list);
    }
    this.queued = [];
    const max = this.opts.maxArraySize ?? 1000;
    for (const list of byShape.values())
      for (let i = 0; i < list.length; i += max) this.submitGroup(list.slice(i, i + max));
  }

  private submitGroup(list: { spec: RunSpec; account: UnixAccount }[]): void {
    const id = `${Date.now().toString(36)}-${process.pid}-${this.seq++}`;
    const dir = join(this.opts.stateDir, 'groups', id);
    const limitSeconds = limitOf(list[0]!.spec.timeoutSeconds);
    const markers = join(dir, 'ev');
    const group: Group = {
      id,
      dir,
      tasks: [],
      ...(limitSeconds ? { limitSeconds } : {}),
      markers: { dir: markers, mtimeMs: -1, listedAt: 0 },
    };
    const { account } = list[0]!;
    const asOther = process.getuid?.() === 0;
    mkdirSync(dir, { mode: 0o755 });
    mkdirSync(markers, { mode: 0o755 });
    if (asOther) chownSync(markers, account.uid, account.gid);
    list.forEach(({ spec }, index) => {
      const taskDir = join(dir, String(index));
      mkdirSync(taskDir, { mode: 0o700 });
      mkdirSync(join(taskDir, 'work'), { mode: 0o700 });
      const creds = this.credentialFiles(spec, taskDir, asOther ? account : undefined);
      writeFileSync(join(taskDir, 'run.sh'), taskScript(creds.spec, taskDir, this.opts.docker, [], creds.mounts), {
        mode: 0o755,
      });
      if (asOther) for (const p of [taskDir, join(taskDir, 'work')]) chownSync(p, account.uid, account.gid);
      const task: Task = { spec, group, index, dir: taskDir, started: false, done: false, offsets: [0, 0] };
      group.tasks.push(task);
      this.tasks.set(key(spec.jobId, spec.attempt), task);
    });
    writeFileSync(join(dir, 'batch.sh'), arrayBatchScript(dir), { mode: 0o755 });
    if (limitSeconds) writeFileSync(join(dir, 'time-limit'), String(limitSeconds));
    writeFileSync(join(dir, 'tasks.json'), JSON.stringify(list.map(({ spec }) => [spec.jobId, spec.attempt])));
    this.groups.set(id, group);
    const spec = list[0]!.spec;
    const r = spec.resources;
    const parent = spec.jobId.includes(':') ? spec.jobId.split(':')[0]! : spec.jobId;
    const args = [
      `--partition=${this.opts.partition}`,
      `--job-name=openbatch-${list.every((l) => l.spec.jobId.startsWith(parent)) ? parent : id}`,
      `--comment=openbatch:${id}`,
      `--array=0-${list.length - 1}`,
      '--nodes=1',
      '--ntasks=1',
      `--cpus-per-task=${Math.max(1, Math.ceil(r.vcpus))}`,
      ...(r.memoryMiB ? [`--mem=${r.memoryMiB}M`] : []),
      ...(r.gpus ? [`--gres=gpu:${r.gpus}`] : []),
      ...(limitSeconds ? [`--time=${limitSeconds / 60}`] : []),
      '--no-requeue',
      `--chdir=${dir}`,
      `--output=${dir}/%a/out`,
      `--error=${dir}/%a/err`,
      ...(asOther ? [`--uid=${account.uid}`, `--gid=${account.gid}`] : []),
    ];
    this.send(group, args);
  }

  /** A multi-node attempt: one Slurm job of N nodes (multi-node-script.ts). */
  private submitMultiNode(spec: RunSpec, account: UnixAccount): void {
    const id = `${Date.now().toString(36)}-${process.pid}-${this.seq++}`;
    const dir = join(this.opts.stateDir, 'groups', id);
    const limitSeconds = limitOf(spec.timeoutSeconds);
    const group: Group = { id, dir, tasks: [], single: true, ...(limitSeconds ? { limitSeconds } : {}) };
    const asOther = process.getuid?.() === 0;
    const taskDir = join(dir, '0');
    const nodes = spec.nodes!;
    const main = spec.mainNode ?? 0;
    mkdirSync(taskDir, { recursive: true, mode: 0o755 });
    if (asOther) chownSync(taskDir, account.uid, account.gid);
    const task: Task = {
      spec,
      group,
      index: 0,
      dir: taskDir,
      started: false,
      done: false,
      offsets: [0, 0],
      nodes: [],
      main,
    };
    for (const n of nodes) {
      const nodeDir = join(taskDir, `node-${n.index}`);
      mkdirSync(join(nodeDir, 'work'), { recursive: true, mode: 0o700 });
      const live: [string, string][] =
        n.index === main ? [] : [['AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS', '$OB_MAIN_ADDR']];
      const nodeSpec = { ...n, jobId: `${spec.jobId}#${n.index}`, attempt: spec.attempt };
      const creds = this.credentialFiles(
        { ...nodeSpec, ...(spec.credentialProcess ? { credentialProcess: spec.credentialProcess } : {}) },
        nodeDir,
        asOther ? account : undefined,
      );
      writeFileSync(join(nodeDir, 'run.sh'), taskScript(creds.spec, nodeDir, this.opts.docker, live, creds.mounts), {
        mode: 0o755,
      });
      if (asOther) for (const p of [nodeDir, join(nodeDir, 'work')]) chownSync(p, account.uid, account.gid);
      task.nodes!.push({ dir: nodeDir, offsets: [0, 0] });
    }
    group.tasks.push(task);
    this.tasks.set(key(spec.jobId, spec.attempt), task);
    writeFileSync(join(dir, 'batch.sh'), multiNodeBatchScript(taskDir, nodes.length, main), { mode: 0o755 });
    writeFileSync(join(dir, 'nodes.json'), JSON.stringify({ numNodes: nodes.length, main }));
    if (limitSeconds) writeFileSync(join(dir, 'time-limit'), String(limitSeconds));
    writeFileSync(join(dir, 'tasks.json'), JSON.stringify([[spec.jobId, spec.attempt]]));
    this.groups.set(id, group);
    this.send(group, [
      `--partition=${this.opts.partition}`,
      `--job-name=openbatch-${spec.jobId}`,
      `--comment=openbatch:${id}`,
      ...multiNodeArgs(spec),
      ...(limitSeconds ? [`--time=${limitSeconds / 60}`] : []),
      '--no-requeue',
      `--chdir=${dir}`,
      `--output=${taskDir}/batch.out`,
      ...(asOther ? [`--uid=${account.uid}`, `--gid=${account.gid}`] : []),
    ]);
  }

  /**
   * A task's job-role credential files (credential-files.ts), when its attempt has a role: the spec with
   * AWS_CONFIG_FILE added, and the directory a container must see.
   */
  private credentialFiles<S extends Pick<RunSpec, 'environment' | 'credentialProcess'>>(
    spec: S,
    taskDir: string,
    owner: UnixAccount | undefined,
  ): { spec: S; mounts: string[] } {
    if (!spec.credentialProcess) return { spec, mounts: [] };
    const files = writeCredentialFiles(taskDir, spec.credentialProcess, owner);
    return {
      spec: { ...spec, environment: { ...spec.environment, ...files.environment } },
      mounts: this.opts.docker ? [files.dir] : [],
    };
  }

  /** Runs sbatch for a group (one at a time) and records the Slurm job id beside it. */
  private send(group: Group, args: string[]): void {
    const { id, dir } = group;
    this.submitting = this.submitting.then(async () => {
      try {
        const slurmId = await this.slurm.submit(args, join(dir, 'batch.sh'));
        writeFileSync(join(dir, 'slurm-id.tmp'), slurmId);
        renameSync(join(dir, 'slurm-id.tmp'), join(dir, 'slurm-id'));
        group.slurmId = slurmId;
        group.submittedAt = Date.now();
        this.pollSoon();
        const stops = group.tasks.filter((t) => t.stopRequested !== undefined && !t.done);
        if (stops.length) await this.cancelTasks(stops);
      } catch (err) {
        this.lastError = (err as Error).message;
        for (const t of group.tasks)
          this.finish(t, { reason: `CannotStartContainerError: ${(err as Error).message}`.slice(0, 1024) });
        rmSync(dir, { recursive: true, force: true });
        this.groups.delete(id);
      }
    });
  }

  async stop(jobId: string, attempt: number, reason: string): Promise<void> {
    const task = this.tasks.get(key(jobId, attempt));
    if (task && !task.done && task.stopRequested === undefined) {
      task.stopRequested = reason;
      this.pollSoon();
      if (task.group.slurmId) await this.cancelTasks([task]);
      return;
    }
    const i = this.queued.findIndex((q) => q.spec.jobId === jobId && q.spec.attempt === attempt);
    if (i >= 0) {
      this.queued.splice(i, 1);
      queueMicrotask(() => this.events.exited(jobId, attempt, { reason: `Stopped before submission: ${reason}` }));
    }
  }

  private async cancelTasks(tasks: Task[]): Promise<void> {
    try {
      await this.slurm.cancel(tasks.map((t) => slurmTaskId(t)));
    } catch (err) {
      this.lastError = (err as Error).message;
    }
  }

  /** One squeue over every array in flight; reports starts and ends. */
  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    const live = [...this.groups.values()].filter((g) => g.slurmId && g.tasks.some((t) => !t.done));
    if (live.length === 0) return;
    this.polling = true;
    this.lastPollAt = Date.now();
    try {
      const seen = await this.slurm.tasks(live.map((g) => g.slurmId!));
      const base = this.opts.pollMs ?? 1500;
      this.pollGap = this.apply(live, seen) ? base : Math.min(this.pollGap * 2, base * POLL_BACKOFF);
      this.lastError = undefined;
    } catch (err) {
      this.lastError = (err as Error).message;
    } finally {
      this.polling = false;
    }
  }

  /** Polls at the base rate again (the current gap, already waited, is not lengthened). */
  private pollSoon(): void {
    this.pollGap = this.opts.pollMs ?? 1500;
  }

  /** Applies squeue's answer; true when it reported an end other than a clean exit (what only squeue can tell). */
  private apply(live: Group[], seen: QueuedTask[]): boolean {
    let news = false;
    const byId = new Map<string, QueuedTask>(seen.map((s) => [`${s.arrayId}_${s.index}`, s]));
    for (const g of live) {
      for (const t of g.tasks) {
        if (t.done) continue;
        const s = byId.get(`${g.slurmId}_${g.single ? -1 : t.index}`);
        if (!s) {
          // slurmctld no longer remembers it (MinJobAge passed, e.g. while openbatch was down): its exit file tells.
          const rc = exitCodeIn(t.dir);
          if (rc !== 0) news = true;
          if (rc !== undefined) this.endFromFiles(t);
          else if (Date.now() - (g.submittedAt ?? 0) > 10_000) this.end(t, 'NODE_FAIL');
          continue;
        }
        t.state = s.state;
        t.reason = s.reason;
        if (s.node) t.node = s.node;
        if (!t.started && (STARTED_STATES.has(s.state) || (TERMINAL_STATES.has(s.state) && s.node))) {
          t.started = true;
          this.events.started(t.spec.jobId, t.spec.attempt, { taskArn: `slurm/${slurmTaskId(t)}` });
        }
        if (TERMINAL_STATES.has(s.state)) {
          const rc = exitCodeIn(t.dir);
          if (s.state !== 'COMPLETED' || rc !== 0) news = true;
          if (rc === undefined && t.started && SIGNALLED_STATES.has(s.state)) {
            t.endSeenAt ??= Date.now();
            if (Date.now() - t.endSeenAt < RC_GRACE_MS) continue;
          }
          this.end(t, s.state, rc);
        } else if (s.state === 'COMPLETING' && exitCodeIn(t.dir) !== undefined) {
          // Slurm ends it: its time limit (squeue says why), or a SIGTERM whose cause the final state will tell.
          if (s.reason === 'TimeLimit') {
            news = true;
            this.end(t, 'TIMEOUT');
          } else if (!wasSignalled(t.dir) && !this.atLimit(t)) this.end(t, 'COMPLETED');
          else news = true;
        }
      }
    }
    return news;
  }

  private end(t: Task, state: string, rc = exitCodeIn(t.dir)): void {
    let slurmState = state;
    // A job whose command exited non-zero ends FAILED; with its exit code known it is an ordinary exit.
    if (state === 'COMPLETED' && rc !== undefined && rc !== 0) slurmState = 'FAILED';
    // An exit seen while our scancel was in flight is that scancel's doing.
    if (t.stopRequested !== undefined && (slurmState === 'COMPLETED' || slurmState === 'FAILED') && rc !== 0)
      slurmState = 'CANCELLED';
    this.tail(t);
    const report = exitReportOf({
      slurmId: slurmTaskId(t),
      state: slurmState,
      ...(t.node ? { node: t.node } : {}),
      ...(rc !== undefined ? { exitCode: rc } : {}),
      stopRequested: t.stopRequested !== undefined,
    });
    if (t.nodes)
      report.nodes = t.nodes.map((n, index) => {
        const code = exitCodeIn(n.dir);
        return code !== undefined ? { index, exitCode: code } : { index };
      });
    this.finish(t, report);
  }

  /**
   * The task exited (`rc`) so close to its time limit, with no stop asked by openbatch, that Slurm's limit may have
   * stopped it (its command may catch SIGTERM and exit 0). Measured from `started` to `rc` (ranMsOf).
   */
  private atLimit(t: Task): boolean {
    const limit = t.group.limitSeconds;
    if (!limit || t.stopRequested !== undefined) return false;
    const ranMs = ranMsOf(t.dir);
    return ranMs !== undefined && ranMs >= (limit - LIMIT_SLACK_SECONDS) * 1000;
  }

  /** Ends a task Slurm no longer tells about, from its files: its exit code, or the time limit when it ran that long. */
  private endFromFiles(t: Task): void {
    this.end(t, this.atLimit(t) ? 'TIMEOUT' : 'COMPLETED');
  }

  private finish(t: Task, report: Parameters<RuntimeEvents['exited']>[2]): void {
    if (t.done) return;
    t.done = true;
    this.tasks.delete(key(t.spec.jobId, t.spec.attempt));
    t.durable = new Promise((durable) => this.events.exited(t.spec.jobId, t.spec.attempt, report, durable));
    const g = t.group;
    if (g.tasks.every((x) => x.done)) {
      this.groups.delete(g.id);
      // Kept until every end is durable: a crash before then finds the exit codes again on recover().
      void Promise.all(g.tasks.map((x) => x.durable ?? Promise.resolve())).then(() =>
        rmSync(g.dir, { recursive: true, force: true }),
      );
    }
  }

  /**
   * Between squeue polls, the files the batch script writes tell starts and clean exits at once: `started` (the
   * node's name) and `rc`. A non-zero rc waits for squeue, whose state says whether Slurm killed the job (TIMEOUT,
   * OUT_OF_MEMORY, a cancel) or the command failed by itself.
   */
  private tailAll(): void {
    let askPoll = false;
    for (const g of [...this.groups.values()]) {
      if (!g.slurmId) continue;
      // Tasks not known to have started are looked at only once the group's markers say they did (or ended).
      const signalled = g.markers ? newMarkers(g.markers) : undefined;
      for (const t of g.tasks) {
        if (t.done || (!t.started && signalled && !signalled.has(t.index))) continue;
        if (this.tailTask(t)) askPoll = true;
      }
    }
    // How it ended (its own failure, TIMEOUT, OUT_OF_MEMORY, a cancel) is squeue's to say: ask now.
    if (askPoll && Date.now() - this.lastPollAt >= 300) void this.poll();
  }

  /** Reports a task's start, output and clean exit from its files; true when squeue must say how it ended. */
  private tailTask(t: Task): boolean {
    if (!t.started) {
      const node = readSmall(join(t.dir, 'started'));
      if (node === undefined) return false;
      t.started = true;
      if (node) t.node = node;
      this.events.started(t.spec.jobId, t.spec.attempt, { taskArn: `slurm/${slurmTaskId(t)}` });
    }
    this.tail(t);
    const rc = exitCodeIn(t.dir);
    if (rc === undefined) return false;
    // A clean exit after a SIGTERM, or near the time limit, may be Slurm's doing: squeue says.
    if (rc !== 0 || t.stopRequested !== undefined || wasSignalled(t.dir) || this.atLimit(t)) return true;
    this.end(t, 'COMPLETED', 0);
    return false;
  }

  /** Hands the bytes appended to the task's out/err files (each node's, for a multi-node task) to `output`. */
  private tail(t: Task): void {
    const { jobId, attempt } = t.spec;
    if (!t.nodes)
      return tailFiles(t.dir, t.offsets, (stream, data) => this.events.output(jobId, attempt, stream, data));
    t.nodes.forEach((n, index) =>
      tailFiles(n.dir, n.offsets, (stream, data) => this.events.output(jobId, attempt, stream, data, index)),
    );
  }

  async recover(running: readonly { jobId: string; attempt: number }[]): Promise<{ jobId: string; attempt: number }[]> {
    const wanted = new Set(running.map((r) => key(r.jobId, r.attempt)));
    const root = join(this.opts.stateDir, 'groups');
    let byComment: Map<string, string> | undefined;
    const orphans: string[] = [];
    for (const id of readdirSync(root)) {
      const dir = join(root, id);
      let list: [string, number][];
      try {
        list = JSON.parse(readFileSync(join(dir, 'tasks.json'), 'utf8'));
      } catch {
        rmSync(dir, { recursive: true, force: true }); // written before sbatch: this group never went out
        continue;
      }
      let slurmId = existsSync(join(dir, 'slurm-id')) ? readFileSync(join(dir, 'slurm-id'), 'utf8').trim() : undefined;
      if (!slurmId) {
        // The server stopped between sbatch and recording its answer: the comment finds the job.
        byComment ??= await this.slurm.idsByComment().catch(() => new Map<string, string>());
        slurmId = byComment.get(`openbatch:${id}`);
      }
      const multi = existsSync(join(dir, 'nodes.json'))
        ? (JSON.parse(readFileSync(join(dir, 'nodes.json'), 'utf8')) as { numNodes: number; main: number })
        : undefined;
      const limit = Number(readSmall(join(dir, 'time-limit')));
      const group: Group = {
        id,
        dir,
        tasks: [],
        submittedAt: Date.now(),
        ...(limit > 0 ? { limitSeconds: limit } : {}),
        ...(slurmId ? { slurmId } : {}),
        ...(multi ? { single: true } : {}),
        ...(existsSync(join(dir, 'ev'))
          ? { markers: { dir: join(dir, 'ev'), mtimeMs: -1, listedAt: 0, scanAll: true } }
          : {}),
      };
      list.forEach(([jobId, attempt], index) => {
        const taskDir = join(dir, String(index));
        const k = key(jobId, attempt);
        const known = wanted.has(k) && (slurmId !== undefined || existsSync(join(taskDir, 'rc')));
        if (!known) {
          if (slurmId) orphans.push(multi ? slurmId : `${slurmId}_${index}`);
          return;
        }
        const offsets = readOffsets(taskDir);
        const task: Task = {
          spec: { jobId, attempt },
          group,
          index,
          dir: taskDir,
          started: false,
          done: false,
          offsets,
          ...(multi
            ? {
                main: multi.main,
                nodes: Array.from({ length: multi.numNodes }, (_, n) => ({
                  dir: join(taskDir, `node-${n}`),
                  offsets: readOffsets(join(taskDir, `node-${n}`)),
                })),
              }
            : {}),
        };
        group.tasks.push(task);
        this.tasks.set(k, task);
      });
      if (group.tasks.length === 0) rmSync(dir, { recursive: true, force: true });
      else this.groups.set(id, group);
    }
    // Jobs the store no longer runs must not keep running (nor be run again).
    if (orphans.length) await this.slurm.cancel(orphans).catch((err: Error) => (this.lastError = err.message));
    // Never submitted, yet its exit file exists: it ran before the crash; report that exit once recover() returned.
    for (const g of this.groups.values())
      if (!g.slurmId) setImmediate(() => g.tasks.forEach((t) => this.endFromFiles(t)));
    return running.filter((r) => !this.tasks.has(key(r.jobId, r.attempt)));
  }

  /** Slurm jobs outlive a change of leader: submit what is queued, keep them running, let the next leader re-attach. */
  async abandon(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.flush();
    await this.submitting;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    clearInterval(this.tailTimer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.flush();
    await this.submitting;
  }
}
