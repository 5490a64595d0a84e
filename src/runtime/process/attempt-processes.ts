/**
 * Finding every process an attempt started, whatever session or process group it made, so that the attempt can end
 * as a container does: when the main process exits the rest is killed, and stop/timeout reach them all.
 *
 * Two ways, picked once per runtime:
 * - cgroup: a cgroup v2 directory per attempt under `<cgroup2 mount><our cgroup>/openbatch-<instance>/`; the spawner
 *   moves the attempt's process into it before exec, so every descendant is born inside and cannot leave it
 *   (unprivileged). Killing is `cgroup.kill` (Linux 5.14+; else SIGKILL to each member until none is left).
 * - proc: where no writable cgroup v2 hierarchy exists. Every attempt's environment carries
 *   OPENBATCH_ATTEMPT=<instance>/<attempt>; its processes are those whose /proc/<pid>/environ has it, plus the main
 *   process's group. A process that clears its environment escapes this; the cgroup way has no such hole.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const ATTEMPT_MARKER = 'OPENBATCH_ATTEMPT';

export interface AttemptProcesses {
  readonly kind: 'cgroup' | 'proc';
  /** Sets up tracking of one attempt: the cgroup.procs file the spawner joins ('' for none) and env to add. */
  prepare(name: string): { cgroupProcs: string; environment: Record<string, string> };
  /** Sends `signal` to every process of the attempt (the main process `pid` included). */
  signal(name: string, pid: number | undefined, signal: NodeJS.Signals): void;
  /** Removes what prepare() made; the attempt's processes are gone by then. */
  release(name: string): void;
  /** Kills the processes of attempts a previous server left behind and removes their tracking. */
  killLeftovers(): void;
  /** The runtime is closing: remove shared tracking state once the last attempt's is gone. */
  dispose(): void;
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Where this process's own cgroup v2 directory is mounted, if it may create cgroups below it. */
function ownCgroupDir(): string | undefined {
  try {
    const self = /^0::(\/.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
    if (self === undefined) return undefined;
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const [left, right] = line.split(' - ');
      if (!right?.startsWith('cgroup2 ')) continue;
      const fields = left!.split(' ');
      const root = fields[3]!;
      const mount = fields[4]!;
      // Our cgroup as seen below this mount (a cgroup namespace shows its root as /).
      const rel = root === '/' ? self : self.startsWith(root) ? self.slice(root.length) : undefined;
      if (rel === undefined) continue;
      const dir = join(mount, rel);
      if (existsSync(join(dir, 'cgroup.procs'))) return dir;
    }
  } catch {
    // not Linux, or /proc not mounted
  }
  return undefined;
}

class CgroupProcesses implements AttemptProcesses {
  readonly kind = 'cgroup';
  private disposed = false;
  constructor(private readonly root: string) {}

  dispose(): void {
    this.disposed = true;
    this.removeRoot();
  }

  private removeRoot(): void {
    try {
      rmdirSync(this.root);
    } catch {
      // attempts' cgroups are still being removed; the last one retries
    }
  }

  prepare(name: string) {
    const dir = join(this.root, name);
    mkdirSync(dir, { recursive: true });
    return { cgroupProcs: join(dir, 'cgroup.procs'), environment: {} };
  }

  private members(dir: string): number[] {
    try {
      return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  signal(name: string, pid: number | undefined, signal: NodeJS.Signals): void {
    const dir = join(this.root, name);
    if (signal === 'SIGKILL' && existsSync(join(dir, 'cgroup.kill'))) {
      try {
        writeFileSync(join(dir, 'cgroup.kill'), '1');
        return;
      } catch {
        // fall back to signalling each member
      }
    }
    const pids = this.members(dir);
    if (pid !== undefined && !pids.includes(pid)) pids.push(pid);
    for (const p of pids) kill(p, signal);
  }

  release(name: string): void {
    const dir = join(this.root, name);
    // Members killed a moment ago may still be on their way out: rmdir fails with EBUSY until they are reaped.
    const attempt = (left: number): void => {
      try {
        rmdirSync(dir);
        if (this.disposed) this.removeRoot();
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EBUSY' && left > 0) {
          this.signal(name, undefined, 'SIGKILL');
          setTimeout(() => attempt(left - 1), 100).unref();
        }
      }
    };
    attempt(50);
  }

  killLeftovers(): void {
    let names: string[] = [];
    try {
      names = readdirSync(this.root, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch {
      return;
    }
    for (const n of names) {
      this.signal(n, undefined, 'SIGKILL');
      this.release(n);
    }
  }
}

class ProcScanProcesses implements AttemptProcesses {
  readonly kind = 'proc';
  constructor(private readonly instance: string) {}

  private marker(name: string): string {
    return `${this.instance}/${name}`;
  }

  prepare(name: string) {
    return { cgroupProcs: '', environment: { [ATTEMPT_MARKER]: this.marker(name) } };
  }

  /** pid -> marker value of every process carrying one of this instance's markers. */
  private scan(): Map<number, string> {
    const out = new Map<number, string>();
    const prefix = `${ATTEMPT_MARKER}=${this.instance}/`;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let env: string;
      try {
        env = readFileSync(`/proc/${entry}/environ`, 'latin1');
      } catch {
        continue;
      }
      const at = env.indexOf(prefix);
      if (at < 0 || (at > 0 && env[at - 1] !== '\0')) continue;
      const end = env.indexOf('\0', at);
      out.set(Number(entry), env.slice(at + ATTEMPT_MARKER.length + 1, end < 0 ? undefined : end));
    }
    return out;
  }

  signal(name: string, pid: number | undefined, signal: NodeJS.Signals): void {
    if (pid !== undefined) kill(-pid, signal);
    const want = this.marker(name);
    for (const [p, m] of this.scan()) if (m === want) kill(p, signal);
  }

  release(): void {}

  dispose(): void {}

  killLeftovers(): void {
    for (const p of this.scan().keys()) kill(p, 'SIGKILL');
  }
}

/**
 * Removes the empty cgroups of runtimes that are gone (a server killed before its close()). rmdir only succeeds on a
 * cgroup with no processes and no children; a live runtime whose root is removed between attempts makes it again.
 */
function sweepEmptyRoots(own: string): void {
  try {
    for (const d of readdirSync(own, { withFileTypes: true }))
      if (d.isDirectory() && d.name.startsWith('openbatch-'))
        try {
          rmdirSync(join(own, d.name));
        } catch {
          // in use
        }
  } catch {
    // not listable: nothing to sweep
  }
}

/**
 * The tracking for one runtime. `instance` tells this runtime's attempts from another server's on the same host
 * (derived from its state directory); `mode` forces one way (tests), else cgroup where it can be used.
 */
export function attemptProcesses(stateDir: string, mode?: 'cgroup' | 'proc'): AttemptProcesses {
  const instance = createHash('sha256').update(stateDir).digest('hex').slice(0, 12);
  if (mode !== 'proc') {
    const own = ownCgroupDir();
    if (own) {
      sweepEmptyRoots(own);
      const root = join(own, `openbatch-${instance}`);
      try {
        mkdirSync(root, { recursive: true });
        if (existsSync(join(root, 'cgroup.procs'))) return new CgroupProcesses(root);
      } catch {
        // not writable here: track through /proc
      }
    }
    if (mode === 'cgroup') throw new Error('openbatch: no writable cgroup v2 hierarchy for the process runtime');
  }
  return new ProcScanProcesses(instance);
}
