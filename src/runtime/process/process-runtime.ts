/**
 * The process runtime: runs an attempt's command directly (argv, no shell) as a host process in its own session,
 * with only the job's environment (plus PATH and a HOME/TMPDIR pointing at its scratch directory), in a fresh
 * scratch directory that is removed when the attempt ends. The image is recorded but not used. The processes are
 * started by a small helper process (spawner.ts), because forking the large server process per attempt is slow.
 *
 * An attempt ends as a container does: when its main process exits, every process it left behind (in whatever
 * session or group) is killed, and stop/timeout reach them all (attempt-processes.ts: a cgroup per attempt, else
 * tracking through /proc). Init containers of a pod run first, one after the other, each to completion.
 *
 * It gives no isolation between jobs: it is for laptops and hosts without a container engine.
 */
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { constants as osConstants } from 'node:os';
import type { RunSpec, Runtime, RuntimeEvents, RuntimeStatus } from '../../core/ports.js';
import { initContainerSpec } from '../../core/eks-pod.js';
import { attemptProcesses, type AttemptProcesses } from './attempt-processes.js';
import { PERL_SPAWNER } from './spawner-pl.js';
import { SpawnerReader } from './spawner-reader.js';

export interface ProcessRuntimeOptions {
  /** Parent of the per-attempt scratch directories. */
  scratchRoot: string;
  /** Where pid files of running attempts are kept, to clean up after a crash of the server. */
  stateDir: string;
  /** Which spawner helper starts the processes (default: perl when installed, else node; env OPENBATCH_PROCESS_SPAWNER). */
  spawner?: 'perl' | 'node';
  /** Time between SIGTERM and SIGKILL on stop. */
  stopGraceMs?: number;
  /** How the processes of an attempt are found (default: cgroup where the host allows it, else proc). */
  tracking?: 'cgroup' | 'proc';
}

/** One process an attempt runs to completion: an init container of a pod, or the main command. */
interface Phase {
  argv: string[];
  env: Record<string, string>;
  /** The init container's name; undefined for the main command. */
  init?: string;
}

interface Running {
  /** Spawner id of the current phase's process. */
  id: number;
  jobId: string;
  attempt: number;
  /** Tracking name of the attempt (attempt-processes.ts). */
  name: string;
  pidFile: string;
  cgroupProcs: string;
  trackEnv: Record<string, string>;
  /** Phases still to run after the current one. */
  phases: Phase[];
  /** The current phase's init container name. */
  init?: string;
  file: string;
  scratch: string;
  /** Which spawner helper runs it. */
  helper?: number;
  /** Known once the spawner reported the spawn. */
  pid?: number;
  killTimer?: NodeJS.Timeout;
  stopReason?: string;
}

const SPAWNER = fileURLToPath(new URL('./spawner.js', import.meta.url));
/** Perl when it runs here with the modules the spawner needs (its forks are far cheaper), Node otherwise. */
let defaultSpawner: 'perl' | 'node' | undefined;
function pickSpawner(): 'perl' | 'node' {
  const check = ['-e', 'use POSIX; use IO::Select; use File::Path; use Config; exit 0'];
  defaultSpawner ??= spawnSync('perl', check, { stdio: 'ignore' }).status === 0 ? 'perl' : 'node';
  return defaultSpawner;
}
const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([k, v]) => [v, k]));
const unhex = (f: string | undefined): string => Buffer.from(f ?? '', 'hex').toString();
const hx = (v: string): string => Buffer.from(v).toString('hex');
/**
 * Spawner helpers, used in turn: a spawn blocks its helper until the child has exec'd, which on a busy host takes a
 * while; two helpers overlap those waits.
 */
const SPAWNERS = Number(process.env.OPENBATCH_SPAWNERS ?? 2);

const key = (jobId: string, attempt: number): string => `${jobId}#${attempt}`;
const safeName = (jobId: string, attempt: number): string => `${jobId.replace(/[^A-Za-z0-9-]/g, '_')}-${attempt}`;

export class ProcessRuntime implements Runtime {
  readonly name = 'process';
  private readonly running = new Map<string, Running>();
  private readonly byId = new Map<number, Running>();
  private nextId = 1;
  private readonly spawners: (ChildProcessByStdio<Writable, Readable, null> | undefined)[] = [];
  private closing = false;
  readonly spawnerKind: 'perl' | 'node';
  private readonly grace: number;
  readonly processes: AttemptProcesses;

  constructor(
    private readonly opts: ProcessRuntimeOptions,
    private readonly events: RuntimeEvents,
  ) {
    this.grace = opts.stopGraceMs ?? 30_000;
    const env = process.env.OPENBATCH_PROCESS_SPAWNER;
    this.spawnerKind = opts.spawner ?? (env === 'perl' || env === 'node' ? env : pickSpawner());
    mkdirSync(opts.scratchRoot, { recursive: true });
    mkdirSync(opts.stateDir, { recursive: true });
    this.processes = attemptProcesses(opts.stateDir, opts.tracking);
  }

  status(): RuntimeStatus {
    return {
      name: this.name,
      notes: [
        'jobs run as host processes of the server user; the image is not used',
        this.processes.kind === 'cgroup'
          ? 'each attempt runs in its own cgroup: everything it starts ends with it'
          : "no writable cgroup v2 here: an attempt's processes are tracked through /proc (one that clears its environment can escape)",
      ],
    };
  }

  start(spec: RunSpec): void {
    const { jobId, attempt } = spec;
    const name = safeName(jobId, attempt);
    const scratch = join(this.opts.scratchRoot, name);
    const fail = (reason: string) => queueMicrotask(() => this.events.exited(jobId, attempt, { reason }));
    // A pod's init containers run first, one after the other, then the main command. A pod container's command
    // replaces the entrypoint and its args follow (the image itself is not used here).
    const phases: Phase[] = [];
    for (let i = 0; i < (spec.initContainers?.length ?? 0); i++) {
      const s = initContainerSpec(spec, i);
      phases.push({
        argv: [...(s.entrypoint ?? []), ...s.command],
        env: s.environment,
        init: spec.initContainers![i]!.name,
      });
    }
    phases.push({ argv: [...(spec.entrypoint ?? []), ...spec.command], env: spec.environment });
    const empty = phases.find((p) => !p.argv[0]);
    if (empty) {
      fail(
        empty.init === undefined
          ? 'CannotStartContainerError: the job has no command to run'
          : `CannotStartContainerError: init container ${empty.init} has no command to run`,
      );
      return;
    }
    let track: ReturnType<AttemptProcesses['prepare']>;
    try {
      track = this.processes.prepare(name);
    } catch (err) {
      fail(`CannotStartContainerError: cannot set up process tracking: ${(err as Error).message}`);
      return;
    }
    const run: Running = {
      id: 0,
      jobId,
      attempt,
      name,
      file: '',
      scratch,
      pidFile: join(this.opts.stateDir, `${name}.pid`),
      cgroupProcs: track.cgroupProcs,
      trackEnv: track.environment,
      phases,
    };
    this.running.set(key(jobId, attempt), run);
    this.launchNext(run);
  }

  /** Starts the run's next phase (an init container, or the main command) through a spawner helper. */
  private launchNext(run: Running): void {
    const phase = run.phases.shift()!;
    const [file, ...args] = phase.argv as [string, ...string[]];
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: run.scratch,
      TMPDIR: run.scratch,
      ...phase.env,
      ...run.trackEnv,
    };
    if (run.id) this.byId.delete(run.id);
    const id = this.nextId++;
    run.id = id;
    run.file = file;
    run.init = phase.init;
    run.pid = undefined;
    this.byId.set(id, run);
    run.helper = id % SPAWNERS;
    const fields = [
      String(id),
      run.scratch,
      run.pidFile,
      run.cgroupProcs,
      file,
      String(args.length),
      ...args,
      ...Object.entries(env).flat(),
    ];
    this.helper(run.helper).stdin.write(`${fields.map(hx).join(' ')}\n`);
  }

  /** Spawner helper n (spawner.ts), started on first use and again after it died. */
  private helper(n: number): ChildProcessByStdio<Writable, Readable, null> {
    const existing = this.spawners[n];
    if (existing) return existing;
    const argv = this.spawnerKind === 'perl' ? ['perl', '-e', PERL_SPAWNER] : [process.execPath, SPAWNER];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
    this.spawners[n] = child;
    const reader = new SpawnerReader(
      (fields) => this.onMessage(fields),
      (fields, data) => this.onOutput(fields, data),
    );
    child.stdout.on('data', (d: Buffer) => reader.push(d));
    child.stdin.on('error', () => undefined); // reported through 'exit' below
    child.once('exit', (code, signal) => {
      if (this.spawners[n] === child) this.spawners[n] = undefined;
      if (this.closing) return;
      // Its attempts cannot be followed any more: kill them and report them as ended.
      for (const run of [...this.byId.values()]) {
        if (run.helper !== n) continue;
        this.processes.signal(run.name, run.pid, 'SIGKILL');
        this.finish(run, {
          reason: `CannotStartContainerError: the process runtime's spawner helper exited (${signal ?? code})`,
        });
      }
    });
    return child;
  }

  private onMessage([ev, idHex, a, b]: string[]): void {
    const run = this.byId.get(Number(unhex(idHex)));
    if (!run) return;
    const { jobId, attempt } = run;
    if (ev === 'S') {
      run.pid = Number(unhex(a));
      if (run.stopReason !== undefined) this.processes.signal(run.name, run.pid, 'SIGTERM');
      // A pod's job runs once its main container does (it stays STARTING through the init containers).
      if (run.init === undefined) this.events.started(jobId, attempt, { taskArn: `process/${run.pid}` });
    } else if (ev === 'X') {
      // The main process exited: the attempt is over, as a container's is; what it left behind goes with it.
      this.processes.signal(run.name, run.pid, 'SIGKILL');
    } else if (ev === 'E') {
      const msg = unhex(b);
      const errno = /^errno:(\d+)$/.exec(msg);
      this.finish(run, {
        reason: errno
          ? `CannotStartContainerError: ${run.init === undefined ? '' : `init container ${run.init}: `}cannot run ${JSON.stringify(run.file)}: spawn ${run.file} ${ERRNO_NAMES.get(Number(errno[1])) ?? `errno ${errno[1]}`}`
          : `CannotStartContainerError: ${msg}`,
      });
    } else if (ev === 'C') {
      const signal = b === '-' ? undefined : unhex(b);
      const signo = signal ? ((osConstants.signals as Record<string, number>)[signal] ?? 0) : 0;
      const exitCode = a === '-' ? 128 + signo : Number(unhex(a));
      if (run.init !== undefined && exitCode === 0 && run.stopReason === undefined) return this.launchNext(run);
      this.finish(run, {
        exitCode,
        ...(signal
          ? { reason: `Process killed by ${signal}` }
          : run.init !== undefined
            ? { reason: `InitContainerError: init container ${run.init} exited with code ${exitCode}` }
            : {}),
      });
    }
  }

  /** `O id 1|2 size` and its raw payload. */
  private onOutput([, idHex, source]: string[], data: Buffer): void {
    const run = this.byId.get(Number(unhex(idHex)));
    if (run) this.events.output(run.jobId, run.attempt, unhex(source) === '2' ? 'stderr' : 'stdout', data);
  }

  private finish(run: Running, result: { exitCode?: number; reason?: string }): void {
    this.running.delete(key(run.jobId, run.attempt));
    this.byId.delete(run.id);
    if (run.killTimer) clearTimeout(run.killTimer);
    this.processes.release(run.name);
    this.events.exited(run.jobId, run.attempt, result);
  }

  async stop(jobId: string, attempt: number, reason: string): Promise<void> {
    const run = this.running.get(key(jobId, attempt));
    if (!run || run.stopReason !== undefined) return;
    run.stopReason = reason;
    if (run.pid !== undefined) this.processes.signal(run.name, run.pid, 'SIGTERM');
    run.killTimer = setTimeout(() => this.processes.signal(run.name, run.pid, 'SIGKILL'), this.grace);
    run.killTimer.unref();
  }

  private signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
    if (!pid) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  }

  /**
   * Processes cannot be re-attached after the server restarted: kill leftovers and report those attempts as gone.
   * Attempts this runtime still follows (this replica led before, paused while the store was unreachable, and leads
   * again) are kept.
   */
  async recover(running: readonly { jobId: string; attempt: number }[]): Promise<{ jobId: string; attempt: number }[]> {
    const followed = new Set([...this.running.values()].map((r) => `${safeName(r.jobId, r.attempt)}.pid`));
    // Leftovers of an earlier server process; none can exist while this runtime still follows attempts.
    if (followed.size === 0) this.processes.killLeftovers();
    for (const f of readdirSync(this.opts.stateDir)) {
      if (!f.endsWith('.pid') || followed.has(f)) continue;
      const pid = Number(readFileSync(join(this.opts.stateDir, f), 'utf8'));
      if (Number.isInteger(pid) && pid > 1) this.signalGroup(pid, 'SIGKILL');
      rmSync(join(this.opts.stateDir, f), { force: true });
      rmSync(join(this.opts.scratchRoot, f.slice(0, -4)), { recursive: true, force: true });
    }
    return running.filter((r) => !this.running.has(key(r.jobId, r.attempt)));
  }

  async abandon(): Promise<void> {
    for (const run of this.running.values()) this.processes.signal(run.name, run.pid, 'SIGKILL');
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const run of this.running.values()) {
      this.processes.signal(run.name, run.pid, 'SIGKILL');
      this.processes.release(run.name);
    }
    for (const s of this.spawners) s?.stdin.end();
    this.processes.dispose();
  }
}
