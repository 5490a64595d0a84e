/**
 * The spawner helper of the process runtime: a small, long-lived process that the server starts once and that
 * starts the attempts' processes for it. Why: child_process.spawn forks the calling process, and forking the large
 * server process costs several ms of its event loop per attempt (page tables); forking a small process costs less,
 * and runs on the other core. This is the Node flavour, used when perl is missing (spawner-pl.ts: a fork of Perl
 * costs a quarter of the CPU of a fork of Node).
 *
 * Protocol: each field hex-encoded, fields separated by spaces, one request or event a line.
 * stdin:  id cwd pidFile file nargs arg... key value key value...
 * stdout: S id pid | O id 1|2 size | C id code|- signal|- | E id m|s message  (E: mkdir (m) or spawn (s) failed;
 * a spawn failure's message is `errno:<number>`). An O line (output of the attempt's stdout or stderr) is followed by
 * `size` (a decimal number, hex-encoded like every field) raw bytes: hex-encoding megabytes of output was slow. The scratch directory (cwd) is created before the spawn and
 * removed, with the pid file, before C or E is reported. On EOF of stdin it exits; the attempts' processes are
 * detached and outlive it (the runtime's recover() kills them after a server crash).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rm, rmdir, rmSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';

const hx = (v: string | number | Buffer): string => (Buffer.isBuffer(v) ? v : Buffer.from(String(v))).toString('hex');
const emit = (...fields: string[]): void => {
  process.stdout.write(`${fields.join(' ')}\n`);
};
const errnoOf = (err: NodeJS.ErrnoException): number =>
  (constants.errno as Record<string, number>)[err.code ?? ''] ?? 0;

// Mostly synchronous fs calls on purpose: the promise versions cost a file handle, a thread-pool round trip and
// several allocations per call, which showed as this process's largest cost after fork itself.
function start(fields: string[]): void {
  const [id = '', cwd = '', pidFile = '', file = '', nargs = '0', ...rest] = fields;
  const args = rest.splice(0, Number(nargs));
  const env: Record<string, string> = {};
  for (let i = 0; i + 1 < rest.length; i += 2) env[rest[i]!] = rest[i + 1]!;
  try {
    mkdirSync(cwd, { recursive: true });
  } catch (err) {
    emit('E', hx(id), hx('m'), hx(`cannot create scratch directory ${cwd}: ${(err as Error).message}`));
    return;
  }
  const child = spawn(file, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let spawnError: NodeJS.ErrnoException | undefined;
  child.once('spawn', () => {
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

createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line) start(line.split(' ').map((f) => Buffer.from(f, 'hex').toString()));
  })
  .on('close', () => process.exit(0));
