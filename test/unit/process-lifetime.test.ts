/**
 * The process runtime ends an attempt as a container ends: when the main process exits, what it left behind is
 * killed; a stop reaches every process the job started, whatever session it made. Real processes, both spawner
 * flavours, both ways of tracking (a cgroup per attempt, and /proc where no cgroup can be made); checked through
 * /proc that nothing survives its attempt, nor the server: after a kill -9 of the server no attempt of it runs on
 * unwatched (another replica on the host settles and retries it).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import type { ExitReport } from '../../src/core/ports.js';

/** Whether pid is a live process (a zombie waiting for its reaper counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

interface Outcome {
  report: ExitReport;
  stdout: string;
}

function harness(spawner: 'perl' | 'node', tracking: 'cgroup' | 'proc') {
  const dir = mkdtempSync(join(tmpdir(), 'openbatch-lifetime-'));
  const stdout = new Map<string, string>();
  const waiting = new Map<string, (o: Outcome) => void>();
  const rt = new ProcessRuntime(
    { scratchRoot: join(dir, 's'), stateDir: join(dir, 'p'), spawner, tracking, stopGraceMs: 1000 },
    {
      started: () => undefined,
      output: (j, _a, s, d) => {
        if (s === 'stdout') stdout.set(j, (stdout.get(j) ?? '') + d.toString());
      },
      exited: (j, _a, report) => waiting.get(j)?.({ report, stdout: stdout.get(j) ?? '' }),
    },
  );
  return {
    rt,
    /** Starts a job and resolves when it ended, or rejects after `limitMs` (a job that outlives its main process). */
    run(jobId: string, command: string[], limitMs = 20_000): { done: Promise<Outcome> } {
      const done = new Promise<Outcome>((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`${jobId} still running after ${limitMs} ms`)), limitMs);
        waiting.set(jobId, (o) => {
          clearTimeout(timer);
          res(o);
        });
      });
      rt.start({ jobId, attempt: 1, command, environment: {} } as unknown as Parameters<ProcessRuntime['start']>[0]);
      return { done };
    },
    /** The pids a job printed so far (one per line). */
    pids: (jobId: string) =>
      (stdout.get(jobId) ?? '')
        .split('\n')
        .filter((l) => /^\d+$/.test(l))
        .map(Number),
    async close() {
      await rt.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

if (!existsSync('/proc/self/stat')) throw new Error('these tests read /proc: run them on Linux');

describe('process runtime: nothing outlives its attempt', () => {
  for (const spawner of ['perl', 'node'] as const)
    for (const tracking of ['cgroup', 'proc'] as const) {
      it(`${spawner}/${tracking}: the attempt ends with its main process; a background child is killed`, async () => {
        const h = harness(spawner, tracking);
        try {
          assert.equal(h.rt.processes.kind, tracking, 'the tracking asked for is in use');
          // The sleep keeps the output pipes open: the attempt must still end when sh exits.
          const { done } = h.run('bg', ['sh', '-c', 'sleep 100 & echo $!; echo done']);
          const o = await done;
          assert.equal(o.report.exitCode, 0);
          const [sleepPid] = h.pids('bg');
          assert.ok(sleepPid, `the job printed its child's pid: ${JSON.stringify(o.stdout)}`);
          await until(`sleep ${sleepPid} to be killed`, () => !alive(sleepPid));
        } finally {
          await h.close();
        }
      });

      it(`${spawner}/${tracking}: a stop reaches a process in its own session (setsid)`, async () => {
        const h = harness(spawner, tracking);
        try {
          const { done } = h.run('sess', ['sh', '-c', 'setsid sleep 100 & echo $!; sleep 100']);
          await until('the job to print its pids', () => h.pids('sess').length === 1);
          const [setsidPid] = h.pids('sess');
          await until('setsid to start its own session', () => {
            try {
              const stat = readFileSync(`/proc/${setsidPid}/stat`, 'utf8');
              const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
              return fields[3] === String(setsidPid); // session id = its own pid
            } catch {
              return false;
            }
          });
          await h.rt.stop('sess', 1, 'test');
          const o = await done;
          assert.notEqual(o.report.exitCode, 0);
          await until(`the setsid'd sleep ${setsidPid} to be killed`, () => !alive(setsidPid!));
        } finally {
          await h.close();
        }
      });
    }

  for (const spawner of ['perl', 'node'] as const)
    for (const tracking of ['cgroup', 'proc'] as const)
      it(`${spawner}/${tracking}: kill -9 of the server ends its attempts, and what they started`, async () => {
        const dir = mkdtempSync(join(tmpdir(), 'openbatch-orphan-'));
        const runtime = new URL('../../src/runtime/process/process-runtime.js', import.meta.url).href;
        // A server stand-in: a process that runs one attempt through the runtime and prints its pids.
        const script = `
          const { ProcessRuntime } = await import(${JSON.stringify(runtime)});
          const rt = new ProcessRuntime(
            { scratchRoot: ${JSON.stringify(join(dir, 's'))}, stateDir: ${JSON.stringify(join(dir, 'p'))},
              spawner: '${spawner}', tracking: '${tracking}', stopGraceMs: 1000 },
            {
              started: (_j, _a, info) => console.log('main ' + info.taskArn.split('/')[1]),
              output: (_j, _a, _s, d) => process.stdout.write(d),
              exited: () => undefined,
            },
          );
          rt.start({ jobId: 'j', attempt: 1, command: ['sh', '-c', 'setsid sleep 100 & echo child $!; exec sleep 100'],
            environment: {} });
          setInterval(() => undefined, 1000);`;
        const server = spawn(process.execPath, ['--input-type=module', '-e', script], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        server.stdout.on('data', (d: Buffer) => (out += d.toString()));
        const pid = (what: string) => Number(new RegExp(`^${what} (\\d+)$`, 'm').exec(out)?.[1]);
        try {
          await until('the attempt and its child to start', () => pid('main') > 0 && pid('child') > 0);
          const [main, child] = [pid('main'), pid('child')];
          assert.ok(alive(main) && alive(child));
          server.kill('SIGKILL');
          await until(
            `the attempt (${main}) and its child (${child}) to end with the server`,
            () => !alive(main) && !alive(child),
          );
        } finally {
          server.kill('SIGKILL');
          for (const p of [pid('main'), pid('child')]) if (p > 0 && alive(p)) process.kill(p, 'SIGKILL');
          rmSync(dir, { recursive: true, force: true });
        }
      });

  for (const spawner of ['perl', 'node'] as const)
    it(`${spawner}/cgroup: a process that clears its environment and starts a new session is killed too`, async () => {
      const h = harness(spawner, 'cgroup');
      try {
        const { done } = h.run('env', ['sh', '-c', 'env -i setsid sleep 100 & echo $!; sleep 0.2; exit 7']);
        const o = await done;
        assert.equal(o.report.exitCode, 7);
        const [pid] = h.pids('env');
        await until(`sleep ${pid} to be killed`, () => !alive(pid!));
      } finally {
        await h.close();
      }
    });
});
