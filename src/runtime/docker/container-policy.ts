/**
 * The admin's policy on what a job definition may ask of the host: privileged containers (off unless
 * `--allow-privileged`), host devices (only with `--allow-privileged`: a raw device is as strong as root on the host),
 * and host paths of volumes (only under `--volume-allowlist`). Checked when a job definition is registered, so a
 * refused definition never reaches a queue.
 */
import { resolve, sep } from 'node:path';
import { ClientException } from '../../core/errors.js';
import type { ContainerProperties } from '../../core/types.js';

export interface ContainerPolicyOptions {
  allowPrivileged: boolean;
  /** Host directories whose subtrees volumes may mount; empty = no host paths at all. */
  volumeAllowlist: readonly string[];
}

/** Whether `path` is `root` or inside it (after resolving `..`). */
function isUnder(path: string, root: string): boolean {
  const p = resolve(path);
  const r = resolve(root);
  return p === r || p.startsWith(r.endsWith(sep) ? r : r + sep);
}

export class ContainerPolicy {
  constructor(private readonly opts: ContainerPolicyOptions) {}

  /** Throws a ClientException naming the field, the rule and the fix when `cp` asks for more than the admin allows. */
  checkContainerProperties(cp: ContainerProperties, field = 'containerProperties'): void {
    if (cp.privileged === true && !this.opts.allowPrivileged)
      throw new ClientException(
        `${field}.privileged is true, but this openbatch server does not allow privileged containers: remove "privileged" or ask the admin to start the server with --allow-privileged`,
      );
    const devices = (cp.linuxParameters?.devices as unknown[] | undefined) ?? [];
    if (devices.length > 0 && !this.opts.allowPrivileged)
      throw new ClientException(
        `${field}.linuxParameters.devices gives the container host devices, which this openbatch server allows only with --allow-privileged: remove "devices" or ask the admin`,
      );
    (cp.volumes ?? []).forEach((v, i) => {
      const src = v.host?.sourcePath;
      if (src === undefined) return;
      if (!src.startsWith('/'))
        throw new ClientException(
          `${field}.volumes[${i}].host.sourcePath must be an absolute path; got ${JSON.stringify(src)}`,
        );
      if (!this.opts.volumeAllowlist.some((root) => isUnder(src, root)))
        throw new ClientException(
          `${field}.volumes[${i}].host.sourcePath ${JSON.stringify(src)} is outside the host paths this server allows (${
            this.opts.volumeAllowlist.length ? this.opts.volumeAllowlist.join(', ') : 'none'
          }): use a path under one of them, or ask the admin to add it with --volume-allowlist`,
        );
    });
  }
}
