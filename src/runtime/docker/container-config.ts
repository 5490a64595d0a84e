/**
 * Translates one attempt (RunSpec) into the Docker Engine's container-create options, the way AWS Batch on ECS does:
 * VCPU -> CPU quota and shares, MEMORY -> hard memory limit, GPU -> device requests for the assigned GPUs,
 * linuxParameters -> init, shm, tmpfs, devices, swap; volumes + mountPoints -> bind mounts; the attempt's scratch
 * directory -> /tmp (unless the job mounts something else there).
 */
import type Docker from 'dockerode';
import type { RunSpec } from '../../core/ports.js';

export const LABEL = {
  jobId: 'openbatch.job-id',
  attempt: 'openbatch.attempt',
  server: 'openbatch.server',
  gpus: 'openbatch.gpus',
  /** On a pod's init container: its name (recover() removes these; the attempt is then reported lost). */
  init: 'openbatch.init',
  /** On a multi-node attempt's network: the job id (recover() removes these; the attempt is then reported lost). */
  network: 'openbatch.network',
} as const;

interface LinuxParameters {
  initProcessEnabled?: boolean;
  sharedMemorySize?: number;
  maxSwap?: number;
  swappiness?: number;
  tmpfs?: { containerPath?: string; size?: number; mountOptions?: string[] }[];
  devices?: { hostPath?: string; containerPath?: string; permissions?: string[] }[];
}

const MiB = 1024 * 1024;

export interface ContainerContext {
  /** The server's data directory: tells this server's containers from others' on a shared engine. */
  server: string;
  scratchDir: string;
  /** GPU indices assigned to this attempt. */
  gpus: number[];
}

/** The create options for one attempt. */
export function containerOptions(spec: RunSpec, ctx: ContainerContext): Docker.ContainerCreateOptions {
  const cp = spec.containerProperties;
  const lp = (cp.linuxParameters ?? {}) as LinuxParameters;
  const memory = Math.round(spec.resources.memoryMiB * MiB);
  const host: Docker.HostConfig = {
    Memory: memory,
    NanoCpus: Math.round(spec.resources.vcpus * 1e9),
    CpuShares: Math.max(2, Math.round(spec.resources.vcpus * 1024)),
    Privileged: cp.privileged === true,
    ReadonlyRootfs: cp.readonlyRootFilesystem === true,
    Binds: [],
    Mounts: [],
  };
  if (lp.initProcessEnabled) host.Init = true;
  // The credentials endpoint listens on the host's loopback; a container's own network cannot reach it.
  if (spec.reachesHostLoopback) host.NetworkMode = 'host';
  // A multi-node attempt's nodes share a network made for the attempt (runtime/local-multi-node.ts).
  else if (spec.network) host.NetworkMode = spec.network;
  if (lp.sharedMemorySize) host.ShmSize = lp.sharedMemorySize * MiB;
  // AWS: maxSwap is the swap on top of memory; 0 means none; unset leaves the host's default.
  if (lp.maxSwap !== undefined) host.MemorySwap = memory + lp.maxSwap * MiB;
  if (lp.swappiness !== undefined) host.MemorySwappiness = lp.swappiness;
  if (cp.ulimits?.length)
    host.Ulimits = cp.ulimits.map((u) => ({ Name: u.name, Soft: u.softLimit, Hard: u.hardLimit }));
  if (lp.tmpfs?.length) {
    host.Tmpfs = {};
    for (const t of lp.tmpfs)
      if (t.containerPath) host.Tmpfs[t.containerPath] = [`size=${t.size ?? 64}m`, ...(t.mountOptions ?? [])].join(',');
  }
  if (lp.devices?.length)
    host.Devices = lp.devices.map((d) => ({
      PathOnHost: d.hostPath ?? '',
      PathInContainer: d.containerPath ?? d.hostPath ?? '',
      CgroupPermissions: (d.permissions ?? ['READ', 'WRITE', 'MKNOD'])
        .map((p) => ({ READ: 'r', WRITE: 'w', MKNOD: 'm' })[p] ?? '')
        .join(''),
    }));
  if (ctx.gpus.length)
    host.DeviceRequests = [{ Driver: 'nvidia', DeviceIDs: ctx.gpus.map(String), Capabilities: [['gpu']] }];

  const volumes = new Map((cp.volumes ?? []).map((v) => [v.name, v]));
  const targets = new Set<string>();
  for (const m of cp.mountPoints ?? []) {
    if (!m.containerPath) continue;
    targets.add(m.containerPath);
    const src = volumes.get(m.sourceVolume)?.host?.sourcePath;
    if (src) host.Binds!.push(`${src}:${m.containerPath}:${m.readOnly ? 'ro' : 'rw'}`);
    // A volume without a host path is scratch of its own (AWS: a Docker volume); removed with the container.
    else host.Mounts!.push({ Type: 'volume', Source: '', Target: m.containerPath, ReadOnly: m.readOnly === true });
  }
  if (!targets.has('/tmp') && !host.Tmpfs?.['/tmp']) host.Binds!.push(`${ctx.scratchDir}:/tmp:rw`);

  const opts: Docker.ContainerCreateOptions = {
    Image: cp.image ?? '',
    Env: Object.entries(spec.environment).map(([k, v]) => `${k}=${v}`),
    Labels: {
      [LABEL.jobId]: spec.jobId,
      [LABEL.attempt]: String(spec.attempt),
      [LABEL.server]: ctx.server,
      [LABEL.gpus]: ctx.gpus.join(','),
    },
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: host,
  };
  // A pod container's command replaces the image's entrypoint, and then the image's command is not used either
  // (Kubernetes' rule); args alone keep the entrypoint.
  if (spec.entrypoint) {
    opts.Entrypoint = spec.entrypoint;
    opts.Cmd = spec.command;
  } else if (spec.command.length) opts.Cmd = spec.command;
  if (cp.user) opts.User = cp.user;
  return opts;
}

/** Registry host of an image reference (`docker.io` when it names none), for picking credentials. */
export function registryOf(image: string): string {
  const first = image.split('/')[0]!;
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')
    ? first
    : 'docker.io';
}
