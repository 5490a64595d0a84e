/**
 * Processes a test file started (servers, dockerd) that must not outlive it. A file that the test runner stops at its
 * timeout gets SIGTERM and never runs its `after` hooks: without this, its servers kept running, orphaned, beside the
 * rest of the suite.
 */
import type { ChildProcess } from 'node:child_process';

const live = new Map<ChildProcess, NodeJS.Signals>();
let installed = false;

/** Sends `signal` to `proc` if this process exits (or is stopped by SIGTERM or SIGINT) while `proc` still runs. */
export function reapOnExit(proc: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  live.set(proc, signal);
  proc.once('exit', () => live.delete(proc));
  if (installed) return;
  installed = true;
  process.once('exit', () => {
    for (const [p, sig] of live) if (p.exitCode === null && p.signalCode === null) p.kill(sig);
  });
  // The default action of these signals ends the process without 'exit' handlers: exit instead, which runs them.
  process.once('SIGTERM', () => process.exit(143));
  process.once('SIGINT', () => process.exit(130));
}
