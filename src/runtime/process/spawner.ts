/**
 * The spawner helper of the process runtime: a small, long-lived Node process that the server starts once and that
 * starts the attempts' processes for it. Why: child_process.spawn forks the calling process, and forking the large
 * server process costs several ms of its event loop per attempt (page tables); forking this small process costs less,
 * and runs on the other core.
 *
 * Protocol, JSON lines. stdin: {id, file, args, cwd, env, pidFile}. stdout: {id, ev:'spawn', pid},
 * {id, ev:'out', s:'stdout'|'stderr', d:<base64>}, {id, ev:'close', code, signal, error?, mkdir?}. The scratch
 * directory (cwd) is created before the spawn and removed, with the pid file, before 'close' is reported.
 * It imports nothing of ours and is dependency-free so that it stays small. On EOF of stdin it exits; the attempts'
 * processes are detached and outlive it (the runtime's recover() kills them after a server crash).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rm, rmdir, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

interface StartRequest {
  id: number;
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  pidFile: string;
}

const send = (msg: object): void => {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
};

// Mostly synchronous fs calls on purpose: the promise versions cost a file handle, a thread-pool round trip and
// several allocations per call, which showed as this process's largest cost after fork itself.
function start(req: StartRequest): void {
  const { id, cwd, pidFile } = req;
  try {
    mkdirSync(cwd, { recursive: true });
  } catch (err) {
    send({ id, ev: 'close', error: `cannot create scratch directory ${cwd}: ${(err as Error).message}`, mkdir: true });
    return;
  }
  const child = spawn(req.file, req.args, { cwd, env: req.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let spawnError: Error | undefined;
  child.once('spawn', () => {
    send({ id, ev: 'spawn', pid: child.pid });
    try {
      if (child.pid) writeFileSync(pidFile, String(child.pid));
    } catch {
      // the pid file only serves the clean-up after a crash of the server
    }
  });
  child.once('error', (err) => {
    spawnError = err;
  });
  child.stdout.on('data', (d: Buffer) => send({ id, ev: 'out', s: 'stdout', d: d.toString('base64') }));
  child.stderr.on('data', (d: Buffer) => send({ id, ev: 'out', s: 'stderr', d: d.toString('base64') }));
  child.once('close', (code, signal) => {
    rmSync(pidFile, { force: true });
    const error = spawnError && child.pid === undefined ? { error: spawnError.message } : {};
    // The scratch directory is removed on the thread pool (rmdir is slow on busy file systems), still before 'close'
    // is reported; most are empty, so a plain rmdir comes first and the recursive removal only when needed.
    rmdir(cwd, (err) => {
      if (!err || err.code === 'ENOENT') send({ id, ev: 'close', code, signal, ...error });
      else rm(cwd, { recursive: true, force: true }, () => send({ id, ev: 'close', code, signal, ...error }));
    });
  });
}

createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line) start(JSON.parse(line) as StartRequest);
  })
  .on('close', () => process.exit(0));
