/**
 * The Docker runtime: runs each attempt in its own container on a Docker-compatible engine (Docker, or Podman's
 * Docker API service), through dockerode.
 *
 * Lifecycle of one attempt (the job is STARTING until the container runs):
 *   scratch dir -> image present? else pull (CannotPullContainerError) -> create (labels: job id, attempt, server)
 *   -> attach -> start (CannotStartContainerError) -> started -> output as produced -> wait -> inspect (exit code,
 *   OOM) -> remove scratch -> exited -> once that end is durable, remove the container.
 * Containers are never auto-removed: the exit code and the OOM flag are read first. When the server stops, running
 * containers are left running; the next server re-attaches to them by label (recover()).
 * A multi-node attempt's nodes are attempts of their own here, attached to a network made for the attempt
 * (createNetwork; RunSpec.network); started() then reports the container's address on it.
 */
import type Docker from 'dockerode';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import type { RunSpec, Runtime, RuntimeEvents, RuntimeStatus, ExitReport } from '../../core/ports.js';
import { initContainerSpec } from '../../core/eks-pod.js';
import { parseNodeId } from '../../core/multinode.js';
import { containerOptions, LABEL } from './container-config.js';
import { isEngineTrouble, isEngineUnreachable, untilEngineAnswers } from './engine-outage.js';
import { GpuPool } from './gpu-pool.js';
import { ImagePuller } from './image-puller.js';
import { NodeNetworks } from './node-networks.js';
import { engineMessage, pullFailure } from './engine-words.js';
import { OutputCursors, sinceParam, timestampNs } from './output-cursors.js';

export interface DockerRuntimeOptions {
  docker: Docker;
  /** What the engine is, for status notes (e.g. "Docker Engine 20.10.24 at unix:///var/run/docker.sock"). */
  engine: string;
  /**
   * Labels the containers of this deployment, which recover() re-attaches: the data directory of a single server,
   * or the cluster id of a shared PostgreSQL database (any replica that leads next finds them).
   */
  server: string;
  /** Parent of the per-attempt scratch directories (mounted at /tmp). */
  scratchRoot: string;
  /** Where the output cursors of running attempts are kept across restarts. */
  stateDir: string;
  /** Time between SIGTERM and SIGKILL on stop. */
  stopGraceMs?: number;
  /** How long attempts wait for an engine that stopped answering (restarted, crashed) before they are lost. */
  engineOutageLimitMs?: number;
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
/** How often a running container is looked at besides the engine's wait answer. */
const RECHECK_MS = 5000;
/** How many times an engine call that got a 5xx is made again (after 1, 2, 4 s). */
const TRANSIENT_RETRIES = 3;
const OOM_REASON = 'OutOfMemoryError: Container killed due to memory usage';
const key = (jobId: string, attempt: number): string => `${jobId}#${attempt}`;
const safeName = (jobId: string, attempt: number): string =>
  `openbatch-${jobId.replace(/[^A-Za-z0-9_.-]/g, '_')}-${attempt}`;

export class DockerRuntime implements Runtime {
  readonly name = 'docker';
  private readonly docker: Docker;
  private readonly attempts = new Map<string, Attempt>();
  /** Removals of containers whose ends are durable, still under way (close() waits for them). */
  private readonly removals = new Set<Promise<void>>();
  private readonly gpus: GpuPool;
  private readonly graceSeconds: number;
  private readonly outageLimitMs: number;
  private readonly puller: ImagePuller;
  /** The engine's timestamp of the last output record reported per attempt: where a re-attach resumes. */
  private readonly cursors: OutputCursors;
  private readonly networks: NodeNetworks;
  private closed = false;

  constructor(
    private readonly opts: DockerRuntimeOptions,
    private readonly events: RuntimeEvents,
  ) {
    this.docker = opts.docker;
    this.graceSeconds = Math.ceil((opts.stopGraceMs ?? 30_000) / 1000);
    this.outageLimitMs = opts.engineOutageLimitMs ?? 15 * 60_000;
    this.gpus = new GpuPool(opts.gpus ?? 0);
    this.puller = new ImagePuller(opts.docker, opts.registryAuthFile);
    mkdirSync(opts.scratchRoot, { recursive: true });
    mkdirSync(opts.stateDir, { recursive: true });
    this.cursors = new OutputCursors(join(opts.stateDir, 'output-cursors.json'));
    this.networks = new NodeNetworks(opts.docker, opts.server, (call) => this.withEngine(call), engineMessage);
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
      this.finish(
        a,
        a.running
          ? { statusReason: `lost the container: ${engineMessage(err)}` }
          : { reason: `CannotStartContainerError: ${engineMessage(err)}`, statusReason: FAILED_TO_START },
      ),
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
      // A registry's refusal comes back as a 5xx too: not worth asking again.
      await this.withEngine(() => this.puller.ensure(image, spec.registryAuth), false);
    } catch (err) {
      this.finish(a, {
        reason: pullFailure(image, err, spec.registryAuth !== undefined),
        statusReason: FAILED_TO_START,
      });
      return;
    }
    for (let i = 0; i < (spec.initContainers?.length ?? 0) && !a.stopRequested; i++) {
      const init = spec.initContainers![i]!;
      const code = await this.runInit(a, initContainerSpec(spec, i), init.name, gpus);
      if (code === undefined) return;
      if (code !== 0)
        return this.finish(a, {
          exitCode: code,
          reason: `InitContainerError: init container ${init.name} exited with code ${code}`,
        });
    }
    if (a.stopRequested) return this.finish(a, { statusReason: 'Job stopped before its container started' });
    const options = containerOptions(spec, { server: this.opts.server, scratchDir: a.scratch, gpus });
    let container: Docker.Container;
    try {
      container = await this.createOnce(safeName(a.jobId, a.attempt), options);
    } catch (err) {
      this.finish(a, { reason: `CannotStartContainerError: ${engineMessage(err)}`, statusReason: FAILED_TO_START });
      return;
    }
    a.container = container;
    try {
      await this.withEngine(() => container.start());
    } catch (err) {
      await this.remove(container);
      this.finish(a, { reason: `CannotStartContainerError: ${engineMessage(err)}`, statusReason: FAILED_TO_START });
      return;
    }
    a.running = true;
    const address = spec.network ? await this.networks.addressOn(container, spec.network) : undefined;
    this.events.started(a.jobId, a.attempt, {
      taskArn: `docker/${container.id.slice(0, 12)}`,
      ...(address ? { privateIpv4Address: address } : {}),
    });
    if (a.stopRequested) this.sendStop(container);
    await this.follow(a, container);
  }

  /**
   * A user-defined bridge network for the nodes of one multi-node attempt (runtime/local-multi-node.ts), labelled
   * like its containers. One left by a server that stopped mid-attempt is replaced.
   */
  createNetwork(jobId: string, attempt: number): Promise<string> {
    return this.networks.create(`${safeName(jobId, attempt)}-nodes`, jobId, attempt);
  }

  removeNetwork(name: string): Promise<void> {
    return this.networks.remove(name);
  }

  /**
   * Runs one init container of a pod to completion, its output going to the attempt's log; its exit code, or
   * undefined when the attempt was finished here (it could not be pulled, created or started).
   */
  private async runInit(a: Attempt, spec: RunSpec, name: string, gpus: number[]): Promise<number | undefined> {
    const image = spec.containerProperties.image!;
    const fail = (prefix: string, err: unknown): undefined => {
      this.finish(a, {
        reason: `${prefix}: init container ${name}: ${engineMessage(err)}`,
        statusReason: FAILED_TO_START,
      });
      return undefined;
    };
    try {
      await this.puller.ensure(image);
    } catch (err) {
      return fail('CannotPullContainerError', err);
    }
    const options = containerOptions(spec, { server: this.opts.server, scratchDir: a.scratch, gpus });
    options.Labels = { ...options.Labels, [LABEL.init]: name };
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer({
        name: `${safeName(a.jobId, a.attempt)}-init-${name}`,
        ...options,
      });
    } catch (err) {
      return fail('CannotStartContainerError', err);
    }
    try {
      await container.start();
      a.container = container;
      a.running = true;
      if (a.stopRequested) this.sendStop(container);
      const stream = await container.logs({ follow: true, stdout: true, stderr: true, timestamps: true });
      const ended = new Promise((r) => {
        stream.once('end', r);
        stream.once('close', r);
      });
      // An engine that goes away mid-init ends the attempt below; its broken stream must not end the server.
      stream.once('error', () => undefined);
      this.pipe(a, stream);
      const waited = (await container.wait()) as { StatusCode?: number };
      await Promise.race([ended, new Promise((r) => setTimeout(r, 2000).unref())]);
      return waited.StatusCode ?? -1;
    } catch (err) {
      return fail('CannotStartContainerError', err);
    } finally {
      a.running = false;
      a.container = undefined;
      await this.remove(container);
    }
  }

  /**
   * Follows the container's output from the engine's log (so nothing is lost however fast the container exits, and
   * a later server can resume from the same place), then collects the exit.
   */
  private async follow(a: Attempt, container: Docker.Container): Promise<void> {
    const cursor = this.cursors.get(key(a.jobId, a.attempt));
    const stream = await this.withEngine(() =>
      container.logs({
        follow: true,
        stdout: true,
        stderr: true,
        timestamps: true,
        ...(cursor ? { since: sinceParam(cursor) } : {}),
      }),
    );
    // Listen for the end now: for a quick job the log ends before wait() returns.
    const ended = new Promise((r) => {
      stream.once('end', r);
      stream.once('close', r);
    });
    // A broken stream (the engine restarted or went away) is a reason to look at the container again, not a crash.
    const broken = new Promise<'broken'>((r) => stream.once('error', () => r('broken')));
    this.pipe(a, stream, cursor ? timestampNs(cursor) : undefined);
    await this.collect(a, container, { ended, broken, close: () => (stream as Readable).destroy() });
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
            if (ns !== undefined) this.cursors.set(k, ts);
          }
          done();
        },
      });
    this.docker.modem.demuxStream(stream, sink('stdout'), sink('stderr'));
  }

  /**
   * Waits for the container to exit, reads its exit code and OOM flag, removes it and reports. The engine's wait
   * answer is not trusted alone: when the engine restarts, that connection can die without a word, so the container
   * is also looked at when its output stream breaks and every few seconds. A container still running after the
   * engine came back (live-restore) is followed again from the output cursor.
   */
  private async collect(
    a: Attempt,
    container: Docker.Container,
    output: { ended: Promise<unknown>; broken: Promise<'broken'>; close: () => void },
  ): Promise<void> {
    const waited = container.wait().then(
      () => 'exited' as const,
      () => 'lost' as const,
    );
    for (;;) {
      const event = await Promise.race([
        waited,
        output.broken,
        new Promise<'tick'>((r) => setTimeout(() => r('tick'), RECHECK_MS).unref()),
      ]);
      if (event === 'exited' || this.closed) break;
      let state: Docker.ContainerInspectInfo['State'];
      let engineWasAway = false;
      try {
        state = (await container.inspect()).State;
      } catch (err) {
        if (!isEngineUnreachable(err)) throw err;
        engineWasAway = true;
        await this.untilEngine();
        state = (await this.withEngine(() => container.inspect())).State;
      }
      if (!state.Running) break;
      if (event !== 'tick' || engineWasAway) {
        // A stop sent while the engine was away was lost with it: send it again.
        output.close();
        if (a.stopRequested) this.sendStop(container);
        return this.follow(a, container);
      }
    }
    // The output stream ends right after the exit; give it a moment so the last lines are reported first.
    await Promise.race([output.ended, new Promise((r) => setTimeout(r, 2000).unref())]);
    // A stopping server leaves the container for the next one to collect.
    if (this.closed) return;
    const info = await this.withEngine(() => container.inspect());
    const exitCode = info.State.ExitCode ?? -1;
    // Some engines (cgroup v2 setups, Podman) do not set OOMKilled: a SIGKILL we did not send, with a memory limit
    // set, is the kernel's OOM killer.
    const memoryLimited = (info.HostConfig.Memory ?? 0) > 0;
    const oom = info.State.OOMKilled || (exitCode === 137 && memoryLimited && !a.stopRequested);
    // Removed only once the end is durable: a crash before then leaves the exited container for recover() to
    // collect again, instead of an attempt whose container and exit code are gone. (When this replica stops leading
    // first, that never comes: the next leader collects the container.)
    const report = { exitCode, ...(oom ? { reason: OOM_REASON } : {}) };
    if (parseNodeId(a.jobId)) {
      // A node of a multi-node attempt is never re-attached (recover() removes it): it goes first, so that the
      // attempt's network can be removed once its nodes have exited.
      await this.remove(container);
      return this.finish(a, report);
    }
    this.finish(a, report, () => {
      const removal = this.remove(container).finally(() => this.removals.delete(removal));
      this.removals.add(removal);
    });
  }

  /**
   * Runs an engine call, waiting out an engine that does not answer (restart) and trying again once it does. An
   * engine that answers 5xx (one shutting down says odd things) is asked again a few times, after a pause.
   */
  private async withEngine<T>(call: () => Promise<T>, retryTrouble = true): Promise<T> {
    for (let failures = 0; ; failures++) {
      try {
        return await call();
      } catch (err) {
        if (this.closed) throw err;
        if (retryTrouble && isEngineTrouble(err) && failures < TRANSIENT_RETRIES)
          await new Promise((r) => setTimeout(r, 1000 * 2 ** failures).unref());
        else if (!isEngineUnreachable(err)) throw err;
        await this.untilEngine();
      }
    }
  }

  private untilEngine(): Promise<void> {
    return untilEngineAnswers(this.docker, this.outageLimitMs, () => this.closed);
  }

  /** Creates a container; if the engine went away mid-call and the create did happen, takes the one it made. */
  private async createOnce(name: string, options: Docker.ContainerCreateOptions): Promise<Docker.Container> {
    let retried = false;
    try {
      return await this.withEngine(() => {
        const call = this.docker.createContainer({ name, ...options });
        retried = true;
        return call;
      });
    } catch (err) {
      if (retried && (err as { statusCode?: number }).statusCode === 409) return this.docker.getContainer(name);
      throw err;
    }
  }

  private async remove(container: Docker.Container): Promise<void> {
    try {
      await container.remove({ force: true, v: true });
    } catch {
      // already gone
    }
  }

  /** Reports the attempt's end; `durable` runs once that end is durable (RuntimeEvents.exited). */
  private finish(a: Attempt, report: ExitReport, durable?: () => void): void {
    if (a.done || this.closed) return;
    a.done = true;
    const k = key(a.jobId, a.attempt);
    this.attempts.delete(k);
    this.gpus.release(a.gpus);
    rmSync(a.scratch, { recursive: true, force: true });
    this.cursors.delete(k);
    this.events.exited(a.jobId, a.attempt, report, durable);
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
      // An attempt that was still in its pod's init containers is not resumed: it is reported lost.
      if (c.Labels[LABEL.init]) {
        await this.remove(container);
        continue;
      }
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
    // Multi-node attempts are not re-attached (their node containers were removed above): nor are their networks.
    await this.networks.removeAll();
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

  /** Containers stay on the engine: the next leader re-attaches to them by label (recover()). */
  async abandon(): Promise<void> {
    this.cursors.save();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cursors.save();
    await Promise.all(this.removals); // containers whose ends are durable go before the server does
  }
}
