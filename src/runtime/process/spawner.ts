/**
 * The spawner helper of the process runtime: a small, long-lived process that the server starts once and that
 * starts the attempts' processes for it. Why: child_process.spawn forks the calling process, and forking the large
 * server process costs several ms of its event loop per attempt (page tables); forking a small process costs less,
 * and runs on the other core. This is the Node flavour, used when perl is missing (spawner-pl.ts: a fork of Perl
 * costs a quarter of the CPU of a fork of Node).
 *
 * Protocol: each field hex-encoded, fields separated by spaces, one request or event a line.
 * stdin:  id cwd pidFile cgroupProcs file nargs arg... key value key value...
 * stdout: S id pid | O id 1|2 size | X id code|- signal|- | C id code|- signal|- | E id m|s message  (E: mkdir (m)
 * or spawn (s) failed; a spawn failure's message is `errno:<number>`. X: the main process exited; C: and its output
 * pipes closed, or DRAIN_MS passed since X while something that escaped the runtime's tracking still holds them).
 * With a cgroupProcs path the child is born in that cgroup: Node has no hook between fork and exec, so this helper
 * moves itself into the attempt's cgroup for the synchronous spawn() call and back out right after. An O line (output of the attempt's stdout or stderr) is followed by
 * `size` (a decimal number, hex-encoded like every field) raw bytes: hex-encoding megabytes of output was slow. The scratch directory (cwd) is created before the spawn and
 * removed, with the pid file, before C or E is reported. On EOF of stdin (the server ended, even by kill -9) it kills
 * the attempts still running (their process groups and cgroups) and exits: processes cannot be re-attached, and the
 * next leader may be another replica that settles and retries them, so none may run on unwatched.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rm, rmdir, rmSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

const hx = (v: string | number | Buffer): string => (Buffer.isBuffer(v) ? v : Buffer.from(String(v))).toString('hex');
const emit = (...fields: string[]): void => {
  process.stdout.write(`${fields.join(' ')}\n`);
};
const errnoOf = (err: NodeJS.ErrnoException): number =>
  (constants.errno as Record<string, number>)[err.code ?? ''] ?? 0;

const DRAIN_MS = 3000;

function joinCgroup(procs: string): void {
  try {
    writeFileSync(procs, String(process.pid));
  } catch {
    // no cgroup for this attempt: the runtime still signals its main process
  }
}

// Mostly synchronous fs calls on purpose: the promise versions cost a file handle, a thread-pool round trip and
// several allocations per call, which showed as this process's largest cost after fork itself.
function start(fields: string[]): void {
  const [id = '', cwd = '', pidFile = '', cgroupProcs = '', file = '', nargs = '0', ...rest] = fields;
  const args = rest.splice(0, Number(nargs));
  const env: Record<string, string> = {};
  for (let i = 0; i + 1 < rest.length; i += 2) env[rest[i]!] = rest[i + 1]!;
  try {
    mkdirSync(cwd, { recursive: true });
  } catch (err) {
    emit('E', hx(id), hx('m'), hx(`cannot create scratch directory ${cwd}: ${(err as Error).message}`));
    return;
  }
  const home = cgroupProcs ? join(dirname(dirname(dirname(cgroupProcs))), 'cgroup.procs') : '';
  if (cgroupProcs) joinCgroup(cgroupProcs);
  const child = (() => {
    try {
      return spawn(file, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } finally {
      if (home) joinCgroup(home);
    }
  })();
  let spawnError: NodeJS.ErrnoException | undefined;
  child.once('spawn', () => {
    running.set(child.pid!, cgroupProcs);
    emit('S', hx(id), hx(child.pid!));
    try {
      writeFileSync(pidFile, String(child.pid));
    } catch {
      // the pid file only serves the clean-up after a crash of the server
    }
  });
  child.once('error', (err) => {
    spawnError = err;
  });
  const output = (source: string, d: Buffer): void => {
    process.stdout.write(`O ${hx(id)} ${hx(source)} ${hx(d.length)}\n`);
    process.stdout.write(d);
  };
  child.stdout.on('data', (d: Buffer) => output('1', d));
  child.stderr.on('data', (d: Buffer) => output('2', d));
  child.once('exit', (code, signal) => {
    if (child.pid === undefined) return;
    running.delete(child.pid);
    emit('X', hx(id), code === null ? '-' : hx(code), signal ? hx(signal) : '-');
    setTimeout(() => {
      child.stdout.destroy();
      child.stderr.destroy();
    }, DRAIN_MS).unref();
  });
  child.once('close', (code, signal) => {
    rmSync(pidFile, { force: true });
    const done = (): void => {
      if (spawnError && child.pid === undefined) emit('E', hx(id), hx('s'), hx(`errno:${errnoOf(spawnError)}`));
      else emit('C', hx(id), code === null ? '-' : hx(code), signal ? hx(signal) : '-');
    };
    // The scratch directory is removed on the thread pool (rmdir is slow on busy file systems), still before the
    // end is reported; most are empty, so a plain rmdir comes first and the recursive removal only when needed.
    rmdir(cwd, (err) => {
      if (!err || err.code === 'ENOENT') done();
      else rm(cwd, { recursive: true, force: true }, done);
    });
  });
}

/** Main process id -> its cgroup.procs path ('' without a cgroup), while it runs. */
const running = new Map<number, string>();

/** Every process below `roots` by parent (read from /proc before anything is killed, so none is re-parented yet). */
function descendants(roots: Iterable<number>): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // ended meanwhile
    }
  }
  const out: number[] = [];
  const todo = [...roots];
  while (todo.length)
    for (const c of children.get(todo.pop()!) ?? []) {
      out.push(c);
      todo.push(c);
    }
  return out;
}

/** The server is gone: end every attempt still running, with whatever it started (also in sessions of its own). */
function killRunning(): void {
  let below: number[] = [];
  try {
    below = descendants(running.keys());
  } catch {
    // no /proc: process groups and cgroups only
  }
  for (const pid of below)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  for (const [pid, procs] of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
    if (procs)
      try {
        writeFileSync(join(dirname(procs), 'cgroup.kill'), '1');
      } catch {
        // no cgroup.kill (kernel before 5.14): the process group is what we have
      }
  }
}

createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line) start(line.split(' ').map((f) => Buffer.from(f, 'hex').toString()));
  })
  .on('close', () => {
    killRunning();
    process.exit(0);
  });
