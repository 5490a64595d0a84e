/**
 * The Docker runtime: runs each attempt in its own container on a Docker-compatible engine (Docker, or Podman's
 * Docker API service), through dockerode.
 *
 * Lifecycle of one attempt (the job is STARTING until the container runs):
 *   scratch dir -> image present? else pull (CannotPullContainerError) -> create (labels: job id, attempt, server)
 *   -> attach -> start (CannotStartContainerError) -> started -> output as produced -> wait -> inspect (exit code,
 *   OOM) -> remove container and scratch -> exited.
 * Containers are never auto-removed: the exit code and the OOM flag are read first. When the server stops, running
 * containers are left running; the next server re-attaches to them by label (recover()).
 */
import type Docker from 'dockerode';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { RunSpec, Runtime, RuntimeEvents, RuntimeStatus, ExitReport } from '../../core/ports.js';
import { containerOptions, LABEL } from './container-config.js';
import { GpuPool } from './gpu-pool.js';
import { ImagePuller } from './image-puller.js';

export interface DockerRuntimeOptions {
  docker: Docker;
  /** What the engine is, for status notes (e.g. "Docker Engine 20.10.24 at unix:///var/run/docker.sock"). */
  engine: string;
  /** The server's data directory: labels this server's containers. */
  server: string;
  /** Parent of the per-attempt scratch directories (mounted at /tmp). */
  scratchRoot: string;
  /** Where the output cursors of running attempts are kept across restarts. */
  stateDir: string;
  /** Time between SIGTERM and SIGKILL on stop. */
  stopGraceMs?: number;
  /** GPUs of this host (indices 0..gpus-1). */
  gpus?: number;
  /** A Docker config.json (`{"auths": {...}}`) with registry credentials. */
  registryAuthFile?: string;
}

interface Attempt {
  jobId: string;
  attempt: number;
  scratch: string;
  gpus: number[];
  container?: Docker.Container;
  running: boolean;
  stopRequested: boolean;
  done: boolean;
}

const FAILED_TO_START = 'Task failed to start';
const OOM_REASON = 'OutOfMemoryError: Container killed due to memory usage';
const key = (jobId: string, attempt: number): string => `${jobId}#${attempt}`;
const safeName = (jobId: string, attempt: number): string =>
  `openbatch-${jobId.replace(/[^A-Za-z0-9_.-]/g, '_')}-${attempt}`;

/** The engine's own words for a failed call (dockerode wraps them in "(HTTP code 404) ..."). */
export function engineMessage(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return (e.json?.message ?? e.message ?? String(err)).trim();
}

/** RFC 3339 timestamp with nanoseconds (the engine's log timestamps) -> nanoseconds since the epoch. */
export function timestampNs(ts: string): bigint | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return undefined;
  const secs = Date.parse(`${m[1]}${m[3]}`) / 1000;
  if (!Number.isFinite(secs)) return undefined;
  return BigInt(secs) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** The logs API's `since`: "seconds.nanoseconds". */
function sinceParam(ts: string): number {
  const ns = timestampNs(ts) ?? 0n;
  // The engine parses the text as given; a string keeps all nine digits.
  return `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}` as unknown as number;
}

export class DockerRuntime implements Runtime {
  readonly name = 'docker';
  private readonly docker: Docker;
  private readonly attempts = new Map<string, Attempt>();
  private readonly gpus: GpuPool;
  private readonly graceSeconds: number;
  private readonly puller: ImagePuller;
  /** The engine's timestamp of the last output record reported per attempt: where a re-attach resumes. */
  private cursors: Record<string, string> = {};
  private cursorTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly opts: DockerRuntimeOptions,
    private readonly events: RuntimeEvents,
  ) {
    this.docker = opts.docker;
    this.graceSeconds = Math.ceil((opts.stopGraceMs ?? 30_000) / 1000);
    this.gpus = new GpuPool(opts.gpus ?? 0);
    this.puller = new ImagePuller(opts.docker, opts.registryAuthFile);
    mkdirSync(opts.scratchRoot, { recursive: true });
    mkdirSync(opts.stateDir, { recursive: true });
    try {
      this.cursors = JSON.parse(readFileSync(this.cursorFile, 'utf8')) as Record<string, string>;
    } catch {
      this.cursors = {};
    }
  }

  status(): RuntimeStatus {
    return { name: this.name, notes: [`jobs run in containers on ${this.opts.engine}`] };
  }

  start(spec: RunSpec): void {
    const a: Attempt = {
      jobId: spec.jobId,
      attempt: spec.attempt,
      scratch: join(this.opts.scratchRoot, safeName(spec.jobId, spec.attempt)),
      gpus: [],
      running: false,
      stopRequested: false,
      done: false,
    };
    this.attempts.set(key(a.jobId, a.attempt), a);
    this.run(a, spec).catch((err: unknown) =>
      this.finish(a, { reason: `CannotStartContainerError: ${engineMessage(err)}`, statusReason: FAILED_TO_START }),
    );
  }

  private async run(a: Attempt, spec: RunSpec): Promise<void> {
    const image = spec.containerProperties.image;
    if (!image) {
      this.finish(a, {
        reason: 'CannotStartContainerError: the job definition names no image (containerProperties.image)',
        statusReason: FAILED_TO_START,
      });
      return;
    }
    const gpus = this.gpus.take(spec.resources.gpus);
    if (!gpus) {
      this.finish(a, {
        reason: `CannotStartContainerError: ${spec.resources.gpus} GPUs asked for, fewer are free on this host`,
        statusReason: FAILED_TO_START,
      });
      return;
    }
    a.gpus = gpus;
    mkdirSync(a.scratch, { recursive: true });
    // Any user the image runs as may write its scratch /tmp, as on a normal /tmp.
    chmodSync(a.scratch, 0o1777);
    try {
      await this.puller.ensure(image);
    } catch (err) {
      this.finish(a, { reason: `CannotPullContainerError: ${engineMessage(err)}`, statusReason: FAILED_TO_START });
      return;
    }
    if (a.stopRequested) return this.finish(a, { statusReason: 'Job stopped before its container started' });
    const options = containerOptions(spec, { server: this.opts.server, scratchDir: a.scratch, gpus });
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer({ name: safeName(a.jobId, a.attempt), ...options });
    } catch (err) {
      this.finish(a, { reason: `CannotStartContainerError: ${engineMessage(err)}`, statusReason: FAILED_TO_START });
      return;
    }
    a.container = container;
    try {
      await container.start();
    } catch (err) {
      await this.remove(container);
      this.finish(a, { reason: `CannotStartContainerError: ${engineMessage(err)}`, statusReason: FAILED_TO_START });
      return;
    }
    a.running = true;
    this.events.started(a.jobId, a.attempt, { taskArn: `docker/${container.id.slice(0, 12)}` });
    if (a.stopRequested) this.sendStop(container);
    await this.follow(a, container);
  }

  /**
   * Follows the container's output from the engine's log (so nothing is lost however fast the container exits, and
   * a later server can resume from the same place), then collects the exit.
   */
  private async follow(a: Attempt, container: Docker.Container): Promise<void> {
    const cursor = this.cursors[key(a.jobId, a.attempt)];
    const stream = await container.logs({
      follow: true,
      stdout: true,
      stderr: true,
      timestamps: true,
      ...(cursor ? { since: sinceParam(cursor) } : {}),
    });
    // Listen for the end now: for a quick job the log ends before wait() returns.
    const ended = new Promise((r) => {
      stream.once('end', r);
      stream.once('close', r);
    });
    this.pipe(a, stream, cursor ? timestampNs(cursor) : undefined);
    await this.collect(a, container, ended);
  }

  /**
   * Demultiplexes the engine's stdout/stderr log stream into output events, one per log record as produced. Each
   * record starts with the engine's timestamp: it becomes the cursor, and records up to `after` (already reported
   * by an earlier server) are skipped.
   */
  private pipe(a: Attempt, stream: NodeJS.ReadableStream, after?: bigint): void {
    const k = key(a.jobId, a.attempt);
    const sink = (source: 'stdout' | 'stderr') =>
      new Writable({
        write: (chunk: Buffer, _enc, done) => {
          const space = chunk.indexOf(0x20);
          const ts = space > 0 ? chunk.subarray(0, space).toString() : '';
          const ns = timestampNs(ts);
          if (!this.closed && (after === undefined || ns === undefined || ns > after)) {
            this.events.output(a.jobId, a.attempt, source, ns === undefined ? chunk : chunk.subarray(space + 1));
            if (ns !== undefined) {
              this.cursors[k] = ts;
              this.saveCursorsSoon();
            }
          }
          done();
        },
      });
    this.docker.modem.demuxStream(stream, sink('stdout'), sink('stderr'));
  }

  /** Waits for the container to exit, reads its exit code and OOM flag, removes it and reports. */
  private async collect(a: Attempt, container: Docker.Container, ended: Promise<unknown>): Promise<void> {
    const waited = (await container.wait()) as { StatusCode?: number };
    // The output stream ends right after the exit; give it a moment so the last lines are reported first.
    await Promise.race([ended, new Promise((r) => setTimeout(r, 2000).unref())]);
    // A stopping server leaves the container for the next one to collect.
    if (this.closed) return;
    const info = await container.inspect();
    const exitCode = info.State.ExitCode ?? waited.StatusCode ?? -1;
    // Some engines (cgroup v2 setups, Podman) do not set OOMKilled: a SIGKILL we did not send, with a memory limit
    // set, is the kernel's OOM killer.
    const memoryLimited = (info.HostConfig.Memory ?? 0) > 0;
    const oom = info.State.OOMKilled || (exitCode === 137 && memoryLimited && !a.stopRequested);
    await this.remove(container);
    this.finish(a, { exitCode, ...(oom ? { reason: OOM_REASON } : {}) });
  }

  private async remove(container: Docker.Container): Promise<void> {
    try {
      await container.remove({ force: true, v: true });
    } catch {
      // already gone
    }
  }

  private finish(a: Attempt, report: ExitReport): void {
    if (a.done || this.closed) return;
    a.done = true;
    const k = key(a.jobId, a.attempt);
    this.attempts.delete(k);
    this.gpus.release(a.gpus);
    rmSync(a.scratch, { recursive: true, force: true });
    if (k in this.cursors) {
      delete this.cursors[k];
      this.saveCursorsSoon();
    }
    this.events.exited(a.jobId, a.attempt, report);
  }

  async stop(jobId: string, attempt: number, _reason: string): Promise<void> {
    const a = this.attempts.get(key(jobId, attempt));
    if (!a || a.stopRequested) return;
    a.stopRequested = true;
    // Not running yet: run() sees the flag after the pull or right after the start.
    if (a.running && a.container) this.sendStop(a.container);
  }

  /** SIGTERM now, SIGKILL after the grace period: the engine's own stop does both. */
  private sendStop(container: Docker.Container): void {
    container.stop({ t: this.graceSeconds }).catch(() => {
      // already stopped
    });
  }

  async recover(running: readonly { jobId: string; attempt: number }[]): Promise<{ jobId: string; attempt: number }[]> {
    const wanted = new Set(running.map((r) => key(r.jobId, r.attempt)));
    const found = new Set<string>();
    const list = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABEL.server}=${this.opts.server}`] },
    });
    const resume: Attempt[] = [];
    for (const c of list) {
      const jobId = c.Labels[LABEL.jobId] ?? '';
      const attempt = Number(c.Labels[LABEL.attempt]);
      const k = key(jobId, attempt);
      const container = this.docker.getContainer(c.Id);
      // Never started (the server stopped in between) or no longer wanted: remove; the job service decides.
      if (!wanted.has(k) || c.State === 'created') {
        await this.remove(container);
        rmSync(join(this.opts.scratchRoot, safeName(jobId, attempt)), { recursive: true, force: true });
        continue;
      }
      found.add(k);
      const gpus = (c.Labels[LABEL.gpus] ?? '').split(',').filter(Boolean).map(Number);
      this.gpus.mark(gpus);
      const a: Attempt = {
        jobId,
        attempt,
        scratch: join(this.opts.scratchRoot, safeName(jobId, attempt)),
        gpus,
        container,
        running: true,
        stopRequested: false,
        done: false,
      };
      this.attempts.set(k, a);
      resume.push(a);
    }
    // Report only after the job service has taken the recovered attempts back.
    setImmediate(() => {
      for (const a of resume)
        this.reattach(a).catch((err: unknown) =>
          this.finish(a, { statusReason: `lost the container after a restart: ${engineMessage(err)}` }),
        );
    });
    const gone = running.filter((r) => !found.has(key(r.jobId, r.attempt)));
    for (const g of gone)
      rmSync(join(this.opts.scratchRoot, safeName(g.jobId, g.attempt)), { recursive: true, force: true });
    return gone;
  }

  /** Takes a container found after a restart back: reports it started (if not yet), follows it, collects it. */
  private async reattach(a: Attempt): Promise<void> {
    const container = a.container!;
    this.events.started(a.jobId, a.attempt, { taskArn: `docker/${container.id.slice(0, 12)}` });
    await this.follow(a, container);
  }

  private get cursorFile(): string {
    return join(this.opts.stateDir, 'output-cursors.json');
  }

  /** Cursors are saved at most once a second: after a hard kill, at most that much output is reported twice. */
  private saveCursorsSoon(): void {
    if (this.cursorTimer) return;
    this.cursorTimer = setTimeout(() => {
      this.cursorTimer = undefined;
      this.saveCursors();
    }, 1000);
    this.cursorTimer.unref();
  }

  private saveCursors(): void {
    writeFileSync(this.cursorFile, JSON.stringify(this.cursors));
  }

  /** Leaves running containers running: the next server re-attaches to them. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.cursorTimer) clearTimeout(this.cursorTimer);
    this.saveCursors();
  }
}
