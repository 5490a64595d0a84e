/**
 * The process runtime's spawner helpers (Perl and Node) with real processes: both report the same events for output,
 * exit codes, signals, a missing command and a stop, and clean up scratch directories and pid files.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';

type Event = [string, string, ...unknown[]];

async function runAll(spawner: 'perl' | 'node'): Promise<{ events: Event[]; left: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'openbatch-spawner-'));
  const events: Event[] = [];
  let exits = 0;
  let done!: () => void;
  const finished = new Promise<void>((res) => (done = res));
  const rt = new ProcessRuntime(
    { scratchRoot: join(dir, 's'), stateDir: join(dir, 'p'), spawner, stopGraceMs: 5000 },
    {
      started: (j, _a, info) => events.push(['started', j, /^process\/\d+$/.test(info.taskArn ?? '')]),
      output: (j, _a, s, d) => events.push(['out', j, s, d.toString()]),
      exited: (j, _a, r) => {
        events.push(['exited', j, r]);
        if (++exits === 5) done();
      },
    },
  );
  try {
    const start = (jobId: string, command: string[], environment: Record<string, string> = {}) =>
      rt.start({ jobId, attempt: 1, command, environment } as Parameters<ProcessRuntime['start']>[0]);
    start('out', ['sh', '-c', 'echo "hi $FOO"; echo err >&2; exit 3'], { FOO: 'b a r' });
    start('missing', ['no-such-command-openbatch']);
    start('stop', ['sleep', '30']);
    start('files', ['sh', '-c', 'mkdir d && touch d/f && printf "é"']);
    start('killed', ['sh', '-c', 'kill -9 $$']);
    setTimeout(() => void rt.stop('stop', 1, 'test'), 300);
    await finished;
    return { events, left: [...readdirSync(join(dir, 's')), ...readdirSync(join(dir, 'p'))] };
  } finally {
    await rt.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const flavours: ('perl' | 'node')[] = ['node'];
if (spawnSync('perl', ['-e', 'exit 0']).status === 0) flavours.push('perl');
else throw new Error('perl is missing: install it (apt-get install -y perl) to test the Perl spawner');

describe('process runtime spawner', () => {
  for (const spawner of flavours)
    it(`${spawner}: reports output, exits, signals, spawn errors and stops, and cleans up`, async () => {
      const { events, left } = await runAll(spawner);
      const of = (j: string) => events.filter((e) => e[1] === j);
      assert.deepEqual(of('out'), [
        ['started', 'out', true],
        ['out', 'out', 'stdout', 'hi b a r\n'],
        ['out', 'out', 'stderr', 'err\n'],
        ['exited', 'out', { exitCode: 3 }],
      ]);
      assert.deepEqual(of('missing'), [
        [
          'exited',
          'missing',
          {
            reason:
              'CannotStartContainerError: cannot run "no-such-command-openbatch": spawn no-such-command-openbatch ENOENT',
          },
        ],
      ]);
      assert.deepEqual(of('stop').at(-1), ['exited', 'stop', { exitCode: 143, reason: 'Process killed by SIGTERM' }]);
      assert.deepEqual(of('files').slice(1), [
        ['out', 'files', 'stdout', 'é'],
        ['exited', 'files', { exitCode: 0 }],
      ]);
      assert.deepEqual(of('killed').at(-1), [
        'exited',
        'killed',
        { exitCode: 137, reason: 'Process killed by SIGKILL' },
      ]);
      assert.deepEqual(left, [], 'scratch directories and pid files are removed');
    });
});
