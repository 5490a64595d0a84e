/**
 * The worker thread behind warm-clients.ts: keeps one warm Python process (warm_clients.py) per interpreter and
 * answers each request once that process answered it. synckit runs it so the tests' helpers stay synchronous.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { runAsWorker } from 'synckit';
import type { WarmRequest, WarmResult } from './warm-clients.js';

class WarmInterpreter {
  private readonly child: ChildProcess;
  private buffered = '';
  private waiting: ((line: string | undefined) => void) | undefined;
  exited = false;

  constructor(interpreter: string, script: string) {
    this.child = spawn(interpreter, ['-u', script], { stdio: ['ignore', 'ignore', 'inherit', 'pipe', 'pipe'] });
    const answers = this.child.stdio[4] as Readable;
    answers.setEncoding('utf8');
    answers.on('data', (chunk: string) => {
      this.buffered += chunk;
      const nl = this.buffered.indexOf('\n');
      if (nl < 0 || !this.waiting) return;
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const w = this.waiting;
      this.waiting = undefined;
      w(line);
    });
    this.child.once('exit', () => {
      this.exited = true;
      this.waiting?.(undefined);
      this.waiting = undefined;
    });
  }

  async call(req: WarmRequest): Promise<WarmResult> {
    const line = new Promise<string | undefined>((resolve) => (this.waiting = resolve));
    (this.child.stdio[3] as Writable).write(
      `${JSON.stringify({ kind: req.kind, argv: req.argv, code: req.code, env: req.env, cwd: req.cwd })}\n`,
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), req.timeoutMs)));
    const answer = await Promise.race([line, timedOut]);
    clearTimeout(timer);
    if (answer === 'timeout') {
      this.child.kill('SIGKILL');
      return { status: -1, stdout: '', stderr: '', error: `ETIMEDOUT: no answer in ${req.timeoutMs} ms` };
    }
    if (answer === undefined)
      return { status: -1, stdout: '', stderr: '', error: 'the warm Python interpreter exited during the call' };
    return JSON.parse(answer) as WarmResult;
  }
}

const warm = new Map<string, WarmInterpreter>();

runAsWorker(async (req: WarmRequest): Promise<WarmResult> => {
  let w = warm.get(req.interpreter);
  if (!w || w.exited) warm.set(req.interpreter, (w = new WarmInterpreter(req.interpreter, req.script)));
  return w.call(req);
});
