/**
 * Finding a Docker-compatible engine (Docker or Podman's Docker API service): an explicit `--docker-host`, then
 * DOCKER_HOST, then the usual socket paths. The first that answers a ping is used.
 */
import Docker from 'dockerode';
import { existsSync } from 'node:fs';

/** Where to look, in order, with where each candidate came from (for messages). */
export function engineCandidates(explicit: string | undefined): { url: string; from: string }[] {
  if (explicit) return [{ url: explicit, from: '--docker-host' }];
  const out: { url: string; from: string }[] = [];
  if (process.env.DOCKER_HOST) out.push({ url: process.env.DOCKER_HOST, from: 'DOCKER_HOST' });
  const sockets = ['/var/run/docker.sock', '/run/podman/podman.sock'];
  if (process.env.XDG_RUNTIME_DIR) sockets.push(`${process.env.XDG_RUNTIME_DIR}/podman/podman.sock`);
  for (const s of sockets) out.push({ url: `unix://${s}`, from: 'default socket' });
  return out;
}

/** dockerode options for `unix:///path`, a bare socket path, `tcp://host:port`, `http(s)://host:port`. */
export function dockerOptions(url: string): Docker.DockerOptions {
  if (url.startsWith('/')) return { socketPath: url };
  const u = new URL(url);
  if (u.protocol === 'unix:') return { socketPath: u.pathname };
  if (u.protocol === 'tcp:' || u.protocol === 'http:' || u.protocol === 'https:')
    return {
      host: u.hostname,
      port: u.port || (u.protocol === 'https:' ? 2376 : 2375),
      protocol: u.protocol === 'https:' ? 'https' : 'http',
    };
  throw new Error(`docker host ${JSON.stringify(url)}: use unix:///path/to/docker.sock or tcp://host:port`);
}

export interface FoundEngine {
  docker: Docker;
  url: string;
  /** e.g. "Docker Engine 20.10.24" or "Podman Engine 4.3.1". */
  version: string;
}

/** Pings each candidate (2 s each at most); returns the first engine that answers and what was tried. */
export async function findEngine(explicit: string | undefined): Promise<{ engine?: FoundEngine; tried: string[] }> {
  const tried: string[] = [];
  for (const c of engineCandidates(explicit)) {
    let opts: Docker.DockerOptions;
    try {
      opts = dockerOptions(c.url);
    } catch (err) {
      tried.push(`${c.url} (${c.from}): ${(err as Error).message}`);
      continue;
    }
    if (opts.socketPath && !existsSync(opts.socketPath)) {
      tried.push(`${c.url} (${c.from}): no such socket`);
      continue;
    }
    const docker = new Docker({ ...opts, timeout: 2000 });
    try {
      await docker.ping();
      const v = await docker.version();
      const name = v.Components?.[0]?.Name ?? 'Docker Engine';
      // A fresh client without the ping timeout: waits and log streams of running containers last long.
      return { engine: { docker: new Docker(opts), url: c.url, version: `${name} ${v.Version}` }, tried };
    } catch (err) {
      tried.push(`${c.url} (${c.from}): ${(err as Error).message}`);
    }
  }
  return { tried };
}
