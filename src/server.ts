/** The composition root: picks the store, runtime and log sink, wires the services and the HTTP edge. */
import type { FastifyInstance } from 'fastify';
import { join } from 'node:path';
import { buildHttpServer, type IdentityResolver, type JsonTargetApi } from './api/http.js';
import { loadRootCredentials, type RootCredentials } from './api/auth/root-credentials.js';
import type { ServerConfig } from './config.js';
import { discardLogs, type LogSink, type Runtime, type RuntimeEvents, type Store } from './core/ports.js';
import { ContainerPolicy } from './runtime/docker/container-policy.js';
import { DockerRuntime } from './runtime/docker/docker-runtime.js';
import { findEngine } from './runtime/docker/engine.js';
import { ProcessRuntime } from './runtime/process/process-runtime.js';
import { JobService, type Caller } from './service/job-service.js';
import { ResourceRegistry } from './service/resources.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';

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
  logs?: (cfg: ServerConfig, store: Store) => { sink: LogSink; api?: JsonTargetApi; close?: () => Promise<void> };
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
  await jobs.start();

  const rootCaller: Caller = { user: 'root', pi: '', admin: true };
  const identities: IdentityResolver = {
    lookup: (akid) => (akid === root.accessKeyId ? { secret: root.secretAccessKey, caller: rootCaller } : undefined),
  };
  const app = buildHttpServer({
    services: { registry, jobs },
    identities,
    ...(logs?.api ? { jsonApis: [logs.api] } : {}),
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
      await app.close();
      await jobs.close();
      await runtime.close();
      await logs?.close?.();
      await store.close();
    },
  };
}
