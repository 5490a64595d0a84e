/**
 * Multi-node parallel jobs on this host: each node of an attempt (RunSpec.nodes) runs as its own attempt of the host
 * runtime under the node-child id `<jobId>#<index>`. This wrapper sits between the host runtime and the engine: it
 * turns the nodes' events back into the job's (output with its node index; started when the main node started; one
 * exit once every node ended), and stops the other nodes when the main node exits, as AWS Batch does. Attempts that
 * are not multi-node pass through.
 *
 * How the nodes reach the main node depends on the host runtime:
 * - processes (and containers on the host's network) share the host's network: all nodes start together and the
 *   main node's address is 127.0.0.1;
 * - containers (NodeNetworks): the attempt gets a network of its own, made for it and removed after it; the main
 *   node's container starts first on it, and once it runs the other nodes start on the same network with its
 *   address, as on AWS Batch (the main node starts before the others).
 */
import { parseNodeId } from '../core/multinode.js';
import type { ExitReport, RunSpec, Runtime, RuntimeEvents, RuntimeStatus } from '../core/ports.js';

/** A host runtime whose attempts each have a network of their own, and which makes networks they can share. */
export interface NodeNetworks {
  /** Makes a network for one multi-node attempt; resolves to its name, for RunSpec.network. */
  createNetwork(jobId: string, attempt: number): Promise<string>;
  /** Removes it; rejects while containers are still attached. */
  removeNetwork(name: string): Promise<void>;
}

interface NodeGroup {
  spec: RunSpec;
  main: number;
  /** The nodes handed to the host runtime. */
  launched: Set<number>;
  exits: Map<number, ExitReport>;
  started: boolean;
  mainExited: boolean;
  stopRequested: boolean;
  /** The attempt's own network (containers). */
  network?: string;
  timer?: NodeJS.Timeout;
}

const key = (jobId: string, attempt: number): string => `${jobId}@${attempt}`;

/** How long after the main node exited the job's exit waits for the other nodes to report theirs. */
const NODES_SETTLE_MS = 30_000;
/** A network that still has a container attached is tried again this often, this many times. */
const NETWORK_RETRY_MS = 5000;
const NETWORK_RETRIES = 24;

export class LocalMultiNode implements Runtime {
  /** The events the host runtime reports to (node-child ids are folded into their job here). */
  readonly events: RuntimeEvents;
  private inner!: Runtime;
  private networking: 'host' | NodeNetworks | undefined;
  private readonly groups = new Map<string, NodeGroup>();

  constructor(private readonly outer: RuntimeEvents) {
    this.events = {
      started: (id, attempt, info) => {
        const p = parseNodeId(id);
        if (!p) return outer.started(id, attempt, info);
        const g = this.groups.get(key(p.parentId, attempt));
        if (!g || g.started || p.node !== g.main) return;
        g.started = true;
        const { privateIpv4Address: address, ...rest } = info;
        outer.started(p.parentId, attempt, rest);
        // On a network of its own the main node ran first; the others follow, pointed at its address.
        if (g.network && !g.mainExited && !g.stopRequested)
          for (const n of g.spec.nodes!) if (n.index !== g.main) this.launch(g, n.index, address ?? '');
      },
      output: (id, attempt, stream, data, node) => {
        const p = parseNodeId(id);
        if (!p) return outer.output(id, attempt, stream, data, node);
        outer.output(p.parentId, attempt, stream, data, p.node);
      },
      exited: (id, attempt, report, durable) => {
        const p = parseNodeId(id);
        if (!p) return outer.exited(id, attempt, report, durable);
        // A node's container may go at once: a multi-node attempt is not re-attached after a restart (it is lost).
        this.nodeExited(p.parentId, attempt, p.node, report);
        durable?.();
      },
    };
  }

  /**
   * The host runtime, made with `events`, and how its attempts reach each other: 'host' when they share the host's
   * network (127.0.0.1), NodeNetworks when they are put on a network made per attempt, undefined when they cannot.
   */
  attach(inner: Runtime, networking: 'host' | NodeNetworks | undefined): void {
    this.inner = inner;
    this.networking = networking;
  }

  get name(): string {
    return this.inner.name;
  }

  get isolatesJobs(): boolean | undefined {
    return this.inner.isolatesJobs;
  }

  get runsMultiNode(): boolean {
    return this.networking !== undefined;
  }

  status(): RuntimeStatus {
    return this.inner.status();
  }

  pendingReason(jobId: string): string | undefined {
    return this.inner.pendingReason?.(jobId);
  }

  start(spec: RunSpec): void {
    if (!spec.nodes) return this.inner.start(spec);
    const g: NodeGroup = {
      spec,
      main: spec.mainNode ?? 0,
      launched: new Set(),
      exits: new Map(),
      started: false,
      mainExited: false,
      stopRequested: false,
    };
    this.groups.set(key(spec.jobId, spec.attempt), g);
    const networks = this.networking;
    // Containers on the host's network (to reach the credentials endpoint) share it as processes do.
    if (networks === undefined || networks === 'host' || spec.reachesHostLoopback) {
      for (const n of spec.nodes) this.launch(g, n.index, '127.0.0.1');
      return;
    }
    networks.createNetwork(spec.jobId, spec.attempt).then(
      (name) => {
        g.network = name;
        if (!g.stopRequested) return this.launch(g, g.main, '');
        this.groups.delete(key(spec.jobId, spec.attempt));
        void this.removeNetwork(name);
        this.outer.exited(spec.jobId, spec.attempt, { statusReason: 'Job stopped before its container started' });
      },
      (err: unknown) => {
        this.groups.delete(key(spec.jobId, spec.attempt));
        this.outer.exited(spec.jobId, spec.attempt, {
          reason: `CannotStartContainerError: could not create the job's network for its nodes: ${(err as Error).message}`,
          statusReason: 'Task failed to start',
        });
      },
    );
  }

  /** Hands node `index` to the host runtime; `mainAddress` is what the other nodes get as the main node's address. */
  private launch(g: NodeGroup, index: number, mainAddress: string): void {
    const { nodes, mainNode: _m, ...rest } = g.spec;
    const n = nodes!.find((x) => x.index === index)!;
    g.launched.add(index);
    this.inner.start({
      ...rest,
      jobId: `${g.spec.jobId}#${index}`,
      command: n.command,
      environment:
        index === g.main
          ? n.environment
          : { ...n.environment, AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS: mainAddress },
      containerProperties: n.containerProperties,
      resources: n.resources,
      logStreamName: n.logStreamName,
      ...(g.network ? { network: g.network } : {}),
    });
  }

  private nodeExited(jobId: string, attempt: number, node: number, report: ExitReport): void {
    const g = this.groups.get(key(jobId, attempt));
    if (!g || g.exits.has(node)) return;
    g.exits.set(node, report);
    if (node === g.main && !g.mainExited) {
      g.mainExited = true;
      for (const n of g.launched)
        if (!g.exits.has(n)) void this.inner.stop(`${jobId}#${n}`, attempt, 'the main node exited');
      g.timer = setTimeout(() => void this.report(jobId, attempt), NODES_SETTLE_MS);
      g.timer.unref();
    }
    if (g.mainExited && [...g.launched].every((n) => g.exits.has(n))) void this.report(jobId, attempt);
  }

  /** The job's exit: its main node's, with every node's that is known; the attempt's network is removed first. */
  private async report(jobId: string, attempt: number): Promise<void> {
    const k = key(jobId, attempt);
    const g = this.groups.get(k);
    if (!g) return;
    this.groups.delete(k);
    if (g.timer) clearTimeout(g.timer);
    if (g.network) await this.removeNetwork(g.network);
    const nodes = [...g.exits].map(([index, r]) => ({
      index,
      ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
      ...(r.reason !== undefined ? { reason: r.reason } : {}),
    }));
    this.outer.exited(jobId, attempt, { ...g.exits.get(g.main)!, nodes });
  }

  /**
   * Removes an attempt's network; when a node's container is still attached (it did not exit in time), tries again
   * in the background until it is gone. Resolves after the first try.
   */
  private async removeNetwork(name: string): Promise<void> {
    const networks = this.networking as NodeNetworks;
    const removed = () =>
      networks.removeNetwork(name).then(
        () => true,
        () => false,
      );
    if (await removed()) return;
    void (async () => {
      for (let i = 1; i < NETWORK_RETRIES; i++) {
        await new Promise((r) => setTimeout(r, NETWORK_RETRY_MS).unref());
        if (await removed()) return;
      }
    })();
  }

  async stop(jobId: string, attempt: number, reason: string): Promise<void> {
    const g = this.groups.get(key(jobId, attempt));
    if (!g) return this.inner.stop(jobId, attempt, reason);
    g.stopRequested = true;
    // Stopping the main node ends the job; the others follow it (nodeExited). Before its network exists there is
    // nothing to stop yet: start() reports the job stopped once it does.
    if (g.launched.has(g.main)) await this.inner.stop(`${jobId}#${g.main}`, attempt, reason);
  }

  /**
   * Multi-node attempts are not re-attached after a restart: they are reported gone, and retried as allowed (the
   * host runtime removes their containers and networks).
   */
  recover(running: readonly { jobId: string; attempt: number }[]): Promise<{ jobId: string; attempt: number }[]> {
    return this.inner.recover(running);
  }

  abandon(): Promise<void> {
    return this.inner.abandon();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
