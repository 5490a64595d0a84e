/**
 * The process runtime: runs an attempt's command directly (argv, no shell) as a host process in its own process
 * group, with only the job's environment (plus PATH and a HOME/TMPDIR pointing at its scratch directory), in a fresh
 * scratch directory that is removed when the attempt ends. The image is recorded but not used.
 *
 * It gives no isolation between jobs: it is for laptops and hosts without a container engine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import type { RunSpec, Runtime, RuntimeEvents, RuntimeStatus } from '../../core/ports.js';

export interface ProcessRuntimeOptions {
  /** Parent of the per-attempt scratch directories. */
  scratchRoot: string;
  /** Where pid files of running attempts are kept, to clean up after a crash of the server. */
  stateDir: string;
  /** Time between SIGTERM and SIGKILL on stop. */
  stopGraceMs?: number;
}

interface Running {
  child: ChildProcess;
  scratch: string;
  pidFile: string;
  killTimer?: NodeJS.Timeout;
  stopReason?: string;
}

const key = (jobId: string, attempt: number): string => `${jobId}#${attempt}`;
const safeName = (jobId: string, attempt: number): string => `${jobId.replace(/[^A-Za-z0-9-]/g, '_')}-${attempt}`;

export class ProcessRuntime implements Runtime {
  readonly name = 'process';
  private readonly running = new Map<string, Running>();
  private readonly grace: number;

  constructor(
    private readonly opts: ProcessRuntimeOptions,
    private readonly events: RuntimeEvents,
  ) {
    this.grace = opts.stopGraceMs ?? 30_000;
    mkdirSync(opts.scratchRoot, { recursive: true });
    mkdirSync(opts.stateDir, { recursive: true });
  }

  status(): RuntimeStatus {
    return { name: this.name, notes: ['jobs run as host processes of the server user; the image is not used'] };
  }

  start(spec: RunSpec): void {
    const { jobId, attempt } = spec;
    const name = safeName(jobId, attempt);
    const scratch = join(this.opts.scratchRoot, name);
    const pidFile = join(this.opts.stateDir, `${name}.pid`);
    const [file, ...args] = spec.command;
    if (!file) {
      queueMicrotask(() =>
        this.events.exited(jobId, attempt, { reason: 'CannotStartContainerError: the job has no command to run' }),
      );
      return;
    }
    try {
      mkdirSync(scratch, { recursive: true });
    } catch (err) {
      queueMicrotask(() =>
        this.events.exited(jobId, attempt, {
          reason: `CannotStartContainerError: cannot create scratch directory ${scratch}: ${(err as Error).message}`,
        }),
      );
      return;
    }
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: scratch,
      TMPDIR: scratch,
      ...spec.environment,
    };
    const child = spawn(file, args, { cwd: scratch, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const run: Running = { child, scratch, pidFile };
    this.running.set(key(jobId, attempt), run);
    let spawnError: Error | undefined;
    child.once('spawn', () => {
      if (child.pid) writeFileSync(pidFile, String(child.pid));
      this.events.started(jobId, attempt, { taskArn: `process/${child.pid}` });
    });
    child.once('error', (err) => {
      spawnError = err;
    });
    child.stdout?.on('data', (d: Buffer) => this.events.output(jobId, attempt, 'stdout', d));
    child.stderr?.on('data', (d: Buffer) => this.events.output(jobId, attempt, 'stderr', d));
    child.once('close', (code, signal) => {
      this.running.delete(key(jobId, attempt));
      if (run.killTimer) clearTimeout(run.killTimer);
      rmSync(scratch, { recursive: true, force: true });
      rmSync(pidFile, { force: true });
      if (spawnError && child.pid === undefined) {
        this.events.exited(jobId, attempt, {
          reason: `CannotStartContainerError: cannot run ${JSON.stringify(file)}: ${spawnError.message}`,
        });
        return;
      }
      const signo = signal ? (osConstants.signals[signal] ?? 0) : 0;
      const exitCode = code ?? 128 + signo;
      this.events.exited(jobId, attempt, {
        exitCode,
        ...(signal ? { reason: `Process killed by ${signal}` } : {}),
      });
    });
  }

  async stop(jobId: string, attempt: number, reason: string): Promise<void> {
    const run = this.running.get(key(jobId, attempt));
    if (!run || run.stopReason !== undefined) return;
    run.stopReason = reason;
    this.signalGroup(run.child.pid, 'SIGTERM');
    run.killTimer = setTimeout(() => this.signalGroup(run.child.pid, 'SIGKILL'), this.grace);
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

  /** Processes cannot be re-attached after the server restarted: kill leftovers and report every attempt as gone. */
  async recover(running: readonly { jobId: string; attempt: number }[]): Promise<{ jobId: string; attempt: number }[]> {
    for (const f of readdirSync(this.opts.stateDir)) {
      if (!f.endsWith('.pid')) continue;
      const pid = Number(readFileSync(join(this.opts.stateDir, f), 'utf8'));
      if (Number.isInteger(pid) && pid > 1) this.signalGroup(pid, 'SIGKILL');
      rmSync(join(this.opts.stateDir, f), { force: true });
      rmSync(join(this.opts.scratchRoot, f.slice(0, -4)), { recursive: true, force: true });
    }
    return [...running];
  }

  async close(): Promise<void> {
    for (const run of this.running.values()) this.signalGroup(run.child.pid, 'SIGKILL');
  }
}
