/** The composition root: picks the store, runtime and log sink, wires the services and the HTTP edge. */
import type { FastifyInstance } from 'fastify';
import { join } from 'node:path';
import { buildHttpServer, type JsonTargetApi } from './api/http.js';
import { loadRootCredentials, type RootCredentials } from './api/auth/root-credentials.js';
import type { ServerConfig } from './config.js';
import { discardLogs, type LogSink, type Runtime, type RuntimeEvents, type Store } from './core/ports.js';
import { dashboardPlugin, type DashboardLogReader } from './api/web/dashboard.js';
import { ContainerPolicy } from './runtime/docker/container-policy.js';
import { DockerRuntime } from './runtime/docker/docker-runtime.js';
import { findEngine } from './runtime/docker/engine.js';
import { ProcessRuntime } from './runtime/process/process-runtime.js';
import { JobService } from './service/job-service.js';
import { ResourceRegistry } from './service/resources.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';
import { setUpUsers } from './users-setup.js';

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
  ) => {
    sink: LogSink;
    api?: JsonTargetApi;
    reader?: DashboardLogReader;
    /** Deletes the logs of streams closed before `before` (history retention). */
    purge?: (before: number) => Promise<unknown>;
    close?: () => Promise<void>;
  };
}

async function makeRuntime(cfg: ServerConfig, events: RuntimeEvents): Promise<{ runtime: Runtime; notes: string[] }> {
  const notes: string[] = [];
  if (cfg.runtime !== 'process') {
    const { engine, tried } = await findEngine(cfg.dockerHost);
    if (engine) {
      const runtime = new DockerRuntime(
        {
          docker: engine.docker,
          engine: `${engine.version} at ${engine.url}`,
          server: cfg.dataDir,
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

/** Starts a server; resolves once it listens. */
export async function startServer(cfg: ServerConfig, parts: ServerParts = {}): Promise<RunningServer> {
  const root = loadRootCredentials(cfg.dataDir);
  const store = new SqliteStore({ file: join(cfg.dataDir, 'openbatch.db') });
  await store.migrate();
  const clock = () => Date.now();
  const arn = { region: cfg.region, accountId: cfg.accountId };
  const registry = new ResourceRegistry(store, arn, clock);
  await registry.load();
  const jobs = new JobService(store, registry, {
    arn,
    host: { vcpus: cfg.vcpus, memoryMiB: cfg.memoryMiB, gpus: cfg.gpus },
    clock,
  });
  registry.containerPolicy = new ContainerPolicy({
    allowPrivileged: cfg.allowPrivileged === true,
    volumeAllowlist: cfg.volumeAllowlist ?? [],
  });
  const { runtime, notes } = await makeRuntime(cfg, jobs);
  jobs.runtime = runtime;
  const logs = parts.logs?.(cfg, store);
  jobs.logs = logs?.sink ?? discardLogs;
  const users = setUpUsers(cfg, root, () => jobs.runtime.name);
  jobs.extraEnvironment = users.extraEnvironment;
  await jobs.start();
  const retention = startRetention(cfg, store, logs?.purge);
  const usersWarning = users.policy.startupWarning();
  if (usersWarning) console.warn(usersWarning);

  const app = buildHttpServer({
    services: { registry, jobs, access: users.policy },
    identities: users.identities,
    ...users.http,
    ...(logs?.api ? { jsonApis: [logs.api] } : {}),
    plugins: [
      users.plugin,
      dashboardPlugin({
        registry,
        jobs,
        store,
        identities: users.identities,
        ...(logs?.reader ? { logs: logs.reader } : {}),
        onJobChange: (listener) => (jobs.onTransition = listener),
      }),
    ],
    health: () => ({
      status: 'ok',
      store: store.kind,
      runtime: runtime.name,
      notes: [...notes, ...runtime.status().notes],
      capacity: { vcpus: cfg.vcpus, memoryMiB: cfg.memoryMiB, gpus: cfg.gpus },
      jobs: jobs.stats(),
    }),
  });
  const address = await app.listen({ host: cfg.host, port: cfg.port });
  const port = (app.server.address() as { port: number }).port;
  const url = `http://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${port}`;
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
      await runtime.close();
      await logs?.close?.();
      users.close();
      await store.close();
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
