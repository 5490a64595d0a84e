/** Slurm's command-line clients (sbatch, squeue, scancel), run asynchronously against one cluster. */
import { execFile } from 'node:child_process';

export interface QueuedTask {
  /** The array job's id (`%F`). */
  arrayId: string;
  /** Task index within the array (`%K`); -1 for a job that is not an array. */
  index: number;
  state: string;
  /** Why it waits (`Resources`, `Priority`, ...) or `None`. */
  reason: string;
  node: string;
}

export class SlurmClient {
  constructor(
    /** Added to the environment of every command (e.g. SLURM_CONF). */
    private readonly env: Record<string, string> = {},
    private readonly bin: (name: string) => string = (n) => n,
  ) {}

  run(
    cmd: string,
    args: string[],
    timeoutMs = 60_000,
    env: NodeJS.ProcessEnv = { ...process.env, ...this.env },
  ): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.bin(cmd), args, { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd}: ${String(stderr).trim() || err.message}`));
        else resolve(String(stdout));
      });
    });
  }

  /**
   * Submits a batch script file; resolves to the job id. sbatch runs with a bare environment and exports it
   * (`--export=ALL` by default): the server's own variables (secrets, database URLs) never reach the job's account,
   * which could read them from its batch script's /proc/PID/environ. Not `--export=NONE`: Slurm 22.05 then spends
   * tens of milliseconds per task building a login environment (measured: 1,000 `true` tasks took 2.5× as long).
   */
  async submit(args: string[], script: string): Promise<string> {
    const env = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', ...this.env };
    const out = await this.run('sbatch', ['--parsable', ...args, script], 60_000, env);
    const id = out.trim().split(';')[0] ?? '';
    if (!/^\d+$/.test(id)) throw new Error(`sbatch: unexpected answer ${JSON.stringify(out.trim())}`);
    return id;
  }

  /** Every task (array tasks one per line) of the given array jobs, in any state slurmctld still remembers. */
  async tasks(arrayIds: readonly string[]): Promise<QueuedTask[]> {
    if (arrayIds.length === 0) return [];
    const out = await this.run('squeue', ['-h', '-r', '-t', 'all', '-j', arrayIds.join(','), '-o', '%F|%K|%T|%r|%N']);
    return parseTasks(out);
  }

  /** Jobs by the comment openbatch gave them (to find a submission whose id was not yet recorded). */
  async idsByComment(): Promise<Map<string, string>> {
    const out = await this.run('squeue', ['-h', '-t', 'all', '-o', '%F|%k']);
    const m = new Map<string, string>();
    for (const line of out.split('\n')) {
      const [id, comment] = line.split('|');
      if (id && comment) m.set(comment.trim(), id.trim());
    }
    return m;
  }

  async cancel(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.run('scancel', [...ids]);
  }
}

export function parseTasks(out: string): QueuedTask[] {
  const tasks: QueuedTask[] = [];
  for (const line of out.split('\n')) {
    const [arrayId, index, state, reason, node] = line.trim().split('|');
    // A job that is not an array (a multi-node job), or an array's record of tasks not yet split off: N/A, as -1.
    if (!arrayId || !index || !(/^\d+$/.test(index) || index === 'N/A')) continue;
    const i = index === 'N/A' ? -1 : Number(index);
    tasks.push({ arrayId, index: i, state: state ?? '', reason: reason ?? '', node: node ?? '' });
  }
  return tasks;
}
