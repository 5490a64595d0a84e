/** The composition root: picks the store, runtime and log sink, wires the services and the HTTP edge. */
import type { FastifyInstance } from 'fastify';
import { join } from 'node:path';
import { buildHttpServer, type JsonTargetApi } from './api/http.js';
import { loadRootCredentials, type RootCredentials } from './api/auth/root-credentials.js';
import type { ServerConfig } from './config.js';
import {
  discardLogs,
  type JobChange,
  type LogSink,
  type LogStore,
  type Runtime,
  type RuntimeEvents,
  type ReplicaRecord,
  type Store,
} from './core/ports.js';
import { dashboardPlugin, type DashboardLogReader } from './api/web/dashboard.js';
import { ContainerPolicy } from './runtime/docker/container-policy.js';
import { DockerRuntime } from './runtime/docker/docker-runtime.js';
import { findEngine } from './runtime/docker/engine.js';
import { ProcessRuntime } from './runtime/process/process-runtime.js';
import { LocalMultiNode } from './runtime/local-multi-node.js';
import { PooledRuntime } from './runtime/pooled-runtime.js';
import { SlurmRuntime } from './runtime/slurm/slurm-runtime.js';
import { slurmPartitionOfPool } from './core/pools.js';
import { JobService } from './service/jobs/job-service.js';
import { ResourceRegistry } from './service/resources.js';
import { openStores } from './store/open-stores.js';
import { setUpUsers } from './users-setup.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { edgeOptions } from './edge-setup.js';
import { OpenbatchMetrics } from './api/metrics/openbatch-metrics.js';
import { metricsAllowList, metricsPlugin } from './api/metrics/metrics-endpoint.js';
import { startCredentialsEndpoint } from './api/credentials/credentials-endpoint.js';
import { secretStoreApis } from './api/secrets/secret-apis.js';
import { limitHeapGrowth } from './heap-growth.js';

/** How long a starting server waits for its engine to load the active jobs before it serves anyway. */
const ENGINE_LOAD_WAIT_MS = 5000;

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  root: RootCredentials;
  jobs: JobService;
  registry: ResourceRegistry;
  store: Store;
  runtime: Runtime;
  close(): Promise<void>;
}

export interface ServerParts {
  /** Build a log sink for this server (the logs feature plugs in here). */
  logs?: (
    cfg: ServerConfig,
    store: Store,
    logStore: LogStore,
  ) => {
    sink: LogSink;
    api?: JsonTargetApi;
    reader?: DashboardLogReader;
    /** Deletes the logs of streams closed before `before` (history retention). */
    purge?: (before: number) => Promise<unknown>;
    /** Log events and bytes stored so far (metrics). */
    ingested?: () => { events: number; bytes: number };
    close?: () => Promise<void>;
  };
}

/**
 * `owner` labels the containers this deployment starts: the data directory of a single server, or the cluster id of
 * a shared database, so that after a failover the new leader finds the containers the old one started.
 */
async function makeRuntime(
  cfg: ServerConfig,
  events: RuntimeEvents,
  owner: string,
): Promise<{ runtime: Runtime; notes: string[] }> {
  const notes: string[] = [];
  if (cfg.runtime !== 'process') {
    const { engine, tried } = await findEngine(cfg.dockerHost);
    if (engine) {
      const runtime = new DockerRuntime(
        {
          docker: engine.docker,
          engine: `${engine.version} at ${engine.url}`,
          server: owner,
          scratchRoot: cfg.scratchDir,
          stateDir: join(cfg.dataDir, 'docker-runtime'),
          stopGraceMs: cfg.stopGraceSeconds * 1000,
          gpus: cfg.gpus,
          ...(cfg.registryAuthFile ? { registryAuthFile: cfg.registryAuthFile } : {}),
        },
        events,
      );
      return { runtime, notes };
    }
    if (cfg.runtime === 'docker')
      throw new Error(
        `--runtime docker: no Docker-compatible engine answered (tried ${tried.join('; ')}). Start one (dockerd, or \`systemctl --user start podman.socket\`), point --docker-host at it, or use --runtime process`,
      );
    notes.push(
      `WARNING: no Docker-compatible engine answered (tried ${tried.join('; ')}): jobs run as HOST PROCESSES with no isolation and their images are ignored. Start an engine or pass --docker-host, then restart`,
    );
    // Loud on purpose: an admin expecting containers must not miss this.
    console.error(`openbatch: ${notes[0]}`);
  }
  const runtime = new ProcessRuntime(
    {
      scratchRoot: cfg.scratchDir,
      stateDir: join(cfg.dataDir, 'process-runtime'),
      stopGraceMs: cfg.stopGraceSeconds * 1000,
    },
    events,
  );
  return { runtime, notes };
}

/** The runtime of an attached pool: a Slurm partition (core/pools.ts). */
function slurmPool(cfg: ServerConfig, pool: string, events: RuntimeEvents): Runtime {
  const partition = slurmPartitionOfPool(pool);
  if (partition === undefined) throw new Error(`unknown capacity pool ${pool}`);
  return new SlurmRuntime(
    {
      partition,
      stateDir: join(cfg.slurm.stateDir ?? join(cfg.dataDir, 'slurm-runtime'), partition),
      ...(cfg.slurm.conf ? { env: { SLURM_CONF: cfg.slurm.conf } } : {}),
      accounts: { default: cfg.slurm.account, byPi: cfg.slurm.accountByPi, allowRoot: cfg.slurm.allowRoot },
      ...(cfg.slurm.dockerHost ? { docker: { host: cfg.slurm.dockerHost } } : {}),
    },
    events,
  );
}

/** Starts a server; resolves once it listens. */
export async function startServer(cfg: ServerConfig, parts: ServerParts = {}): Promise<RunningServer> {
  const edge = edgeOptions(cfg); // first: a wrong TLS file fails before anything starts
  limitHeapGrowth(cfg.heapGrowthPercent);
  const metricsAllow = metricsAllowList(cfg.metricsAllow);
  const root = loadRootCredentials(cfg.dataDir);
  const stores = await openStores(cfg);
  const store = stores.store;
  const clock = () => Date.now();
  const arn = { region: cfg.region, accountId: cfg.accountId };
  const registry = new ResourceRegistry(store, arn, clock);
  await registry.load();
  const replica = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const jobs = new JobService(store, registry, {
    arn,
    host: { vcpus: cfg.vcpus, memoryMiB: cfg.memoryMiB, gpus: cfg.gpus },
    clock,
    // One process owns a SQLite data directory: after a crash it takes its own lease back at once.
    replicaId: store.kind === 'sqlite' ? 'local' : replica,
    lease: { ttlMs: cfg.leaderLeaseMs, renewMs: Math.max(100, Math.round(cfg.leaderLeaseMs / 5)) },
    ...(cfg.logLevel === 'info' ? { log: (line: string) => console.log(`openbatch: ${line}`) } : {}),
  });
  const unshare = shareResourceChanges(store, registry, replica, () => jobs.kick());
  registry.containerPolicy = new ContainerPolicy({
    allowPrivileged: cfg.allowPrivileged === true,
    volumeAllowlist: cfg.volumeAllowlist ?? [],
  });
  const owner = store.clusterId ? `openbatch-cluster:${await store.clusterId()}` : cfg.dataDir;
  // Multi-node jobs on this host: one host attempt per node, folded back into the job (processes share the host's
  // network; containers get a network per attempt).
  const local = new LocalMultiNode(jobs.host);
  const { runtime: hostRuntime, notes } = await makeRuntime(cfg, local.events, owner);
  local.attach(
    hostRuntime,
    hostRuntime instanceof ProcessRuntime ? 'host' : hostRuntime instanceof DockerRuntime ? hostRuntime : undefined,
  );
  const runtime = new PooledRuntime(local, (pool, events) => slurmPool(cfg, pool, events), jobs.host);
  jobs.runtime = runtime;
  const logs = parts.logs?.(cfg, store, stores.logStore);
  jobs.logs = logs?.sink ?? discardLogs;
  const users = await setUpUsers(
    cfg,
    root,
    stores.identityStore,
    store,
    () => jobs.runtime.name,
    (jobId, attempt) => jobs.liveAttempt(jobId, attempt),
    { listreplicas: async () => ({ replicas: await replicaList(store) }) },
  );
  const credentialsEndpoint = await startCredentialsEndpoint(
    users.credentials,
    cfg.credentialsHost,
    cfg.credentialsPort,
    cfg.slurm.credentialsUrl,
  );
  jobs.attemptExtras = (job, attempt, pool) => users.credentials.extras(job, attempt, pool);
  const ingested = logs?.ingested;
  const metrics = new OpenbatchMetrics({
    countJobsByQueueAndStatus: () => store.countJobsByQueueAndStatus(),
    usageByOwner: (q) => store.usageByOwner(q),
    engineState: () => jobs.host.engine()?.engineState(),
    ...(ingested ? { logIngest: ingested } : {}),
  });
  jobs.onTransition = (job) => metrics.transition(job);
  jobs.onSchedulePass = (seconds, starts) => metrics.schedulePass(seconds, starts);
  // A restart with very many active jobs (1,000,000 take over 10 s to load) serves before its engine has loaded them,
  // as a follower does: the API answers from the store, and what is submitted meanwhile is scheduled once it has.
  await jobs.start({ maxLoadWaitMs: ENGINE_LOAD_WAIT_MS });
  if (jobs.host.loading)
    console.log('openbatch: serving while the engine loads the active jobs; scheduling resumes once it has');
  const retention = startRetention(cfg, store, logs?.purge);
  const usersWarning = users.policy.startupWarning();
  if (usersWarning) console.warn(usersWarning);

  const app = buildHttpServer({
    ...edge,
    services: { registry, jobs, access: users.policy },
    identities: users.identities,
    ...users.http,
    onBatchCall: (e) => {
      users.http.onBatchCall?.(e);
      metrics.batchCall(e);
    },
    onApiResponse: (e) => metrics.apiCall(e),
    // Commits that landed while the event loop was busy are answered between requests, not after the whole turn.
    ...(store.deliverCommitted ? { betweenRequests: () => store.deliverCommitted!() } : {}),
    jsonApis: [...(logs?.api ? [logs.api] : []), ...secretStoreApis(users.secrets)],
    plugins: [
      users.plugin,
      metricsPlugin(metrics, metricsAllow),
      dashboardPlugin({
        registry,
        jobs,
        store,
        identities: users.identities,
        sessionKey: users.sessionKey,
        ...(logs?.reader ? { logs: logs.reader } : {}),
        onJobChange: (listener, listening) =>
          store.subscribe('job-changes', (payload) => {
            // Every replica hears every change the leader publishes: parsed only while a dashboard here listens.
            if (!listening()) return;
            for (const c of JSON.parse(payload) as JobChange[]) listener(c);
          }),
      }),
    ],
    health: async () => ({
      status: 'ok',
      store: store.kind,
      ...jobs.role(),
      leader: await store.readLease().then(
        (l) => (l && l.expiresAt > Date.now() ? { replicaId: l.holder, epoch: l.epoch } : null),
        (err: unknown) => ({ error: `store unreachable: ${(err as Error).message}` }),
      ),
      runtime: runtime.name,
      notes: [...notes, ...runtime.status().notes],
      capacity: { vcpus: cfg.vcpus, memoryMiB: cfg.memoryMiB, gpus: cfg.gpus },
      jobs: jobs.stats(),
    }),
  });
  const address = await app.listen({ host: cfg.host, port: cfg.port });
  const port = (app.server.address() as { port: number }).port;
  const url = `${edge.tls ? 'https' : 'http'}://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${port}`;
  jobs.host.url = url;
  void address;
  return {
    app,
    url,
    root,
    jobs,
    registry,
    store,
    runtime,
    async close() {
      clearInterval(retention);
      await app.close();
      await jobs.close();
      await credentialsEndpoint.close();
      unshare();
      await runtime.close();
      await logs?.close?.();
      await users.close();
      await stores.close();
    },
  };
}

/** Deletes finished jobs and their logs older than --retention-days, hourly (never when it is 0). */
function startRetention(
  cfg: ServerConfig,
  store: Store,
  purgeLogs?: (before: number) => Promise<unknown>,
): NodeJS.Timeout | undefined {
  if (!cfg.retentionDays) return undefined;
  const run = () => {
    const before = Date.now() - cfg.retentionDays * 86_400_000;
    void store.purgeJobs(before).then(() => purgeLogs?.(before));
  };
  run();
  const t = setInterval(run, 3_600_000);
  t.unref();
  return t;
}

/**
 * Compute environments, queues, definitions and policies changed on this replica are announced to the others, which
 * reload them (and the leader places onto them at once). Returns the unsubscribe function.
 */
function shareResourceChanges(store: Store, registry: ResourceRegistry, replica: string, kick: () => void): () => void {
  registry.onChange = () => {
    kick();
    void store.notify('resources', replica).catch(() => {});
  };
  const unsubscribe = store.subscribe('resources', (from) => {
    if (from === replica) return;
    void registry.reload().then(kick, () => {});
  });
  // A signal lost with a dropped connection must not leave a replica on old resources for good.
  const resync = setInterval(() => void registry.reload().then(kick, () => {}), RESOURCE_RESYNC_MS);
  resync.unref();
  return () => {
    clearInterval(resync);
    unsubscribe();
  };
}

/** How often every replica reloads resources regardless of signals. */
const RESOURCE_RESYNC_MS = 15_000;

/** Replicas seen in the last 30 s, the leader first (what `openbatch admin replicas` shows). */
async function replicaList(store: Store): Promise<(ReplicaRecord & { alive: boolean })[]> {
  const now = Date.now();
  const lease = await store.readLease();
  return (await store.listReplicas())
    .filter((r) => now - r.seenAt < 3_600_000)
    .map((r) => ({
      ...r,
      alive: now - r.seenAt < 10_000,
      role: lease && lease.holder === r.id && lease.expiresAt > now ? ('leader' as const) : ('follower' as const),
    }))
    .sort((a, b) => Number(b.role === 'leader') - Number(a.role === 'leader') || b.seenAt - a.seenAt);
}
