/**
 * The files and sbatch arguments of a multi-node attempt (RunSpec.nodes): ONE Slurm job of N nodes, one task per
 * node, whose batch script starts one `srun` step per node (`--relative=<index>`, so node i of the job is the i-th
 * node of the allocation) and ends when the main node's step ends, as AWS Batch ends a multi-node job when its main
 * node exits. Files (group directory as in batch-script.ts, one task `0`):
 *
 *   <group>/nodes.json          number of nodes and main node (what recover() re-attaches by)
 *   <group>/0/started, rc       the job's start and its main node's exit code
 *   <group>/0/term              made when the batch script got SIGTERM (as in batch-script.ts)
 *   <group>/0/batch.out         the batch script's own output (srun's messages), not the job's log
 *   <group>/0/node-<i>/run.sh   node i's command with its environment
 *   <group>/0/node-<i>/out, err node i's output (tailed into node i's log stream)
 *   <group>/0/node-<i>/rc       node i's exit code, when it ended by itself
 */
import type { RunSpec } from '../../core/ports.js';
import { shq } from './batch-script.js';

/** The batch script: finds the main node's address, starts every node's step, waits for the main node's. */
export function multiNodeBatchScript(taskDir: string, numNodes: number, mainNode: number): string {
  return `#!/bin/sh
d=${shq(taskDir)}
echo "$SLURMD_NODENAME" > "$d/started"
main=${mainNode}
i=0
for h in $(scontrol show hostnames "$SLURM_JOB_NODELIST"); do
  [ "$i" -eq "$main" ] && mainhost=$h
  i=$((i + 1))
done
addr=$(scontrol show node "$mainhost" | tr ' ' '\\n' | sed -n 's/^NodeAddr=//p' | head -n 1)
case "$addr" in
  *[!0-9.]*|'') addr=$(getent ahostsv4 "\${addr:-$mainhost}" | awk '{ print $1; exit }') ;;
esac
OB_MAIN_ADDR=$addr
export OB_MAIN_ADDR
pids=
n=0
while [ "$n" -lt ${numNodes} ]; do
  nd="$d/node-$n"
  srun --nodes=1 --ntasks=1 --relative="$n" --output="$nd/out" --error="$nd/err" \\
    /bin/sh -c '( . "$1/run.sh" ) </dev/null; echo $? > "$1/rc"' node "$nd" &
  pids="$pids $!"
  [ "$n" -eq "$main" ] && mainpid=$!
  n=$((n + 1))
done
trap ': > "$d/term"; kill -TERM $pids 2>/dev/null' TERM
while :; do
  wait "$mainpid"; rc=$?
  kill -0 "$mainpid" 2>/dev/null || break
done
[ -s "$d/node-$main/rc" ] && rc=$(cat "$d/node-$main/rc")
# The main node ended, so the job ends: the other nodes are stopped (Slurm ends their steps with the job).
kill -TERM $pids 2>/dev/null
echo "$rc" > "$d/rc"
exit "$rc"
`;
}

/** sbatch arguments of a multi-node job: N nodes, one task each, sized for its largest node. */
export function multiNodeArgs(spec: RunSpec): string[] {
  const nodes = spec.nodes!;
  const max = (f: (r: RunSpec['resources']) => number) => Math.max(...nodes.map((n) => f(n.resources)));
  const cpus = Math.max(1, Math.ceil(max((r) => r.vcpus)));
  const mem = max((r) => r.memoryMiB);
  const gpus = max((r) => r.gpus);
  return [
    `--nodes=${nodes.length}`,
    `--ntasks=${nodes.length}`,
    '--ntasks-per-node=1',
    `--cpus-per-task=${cpus}`,
    ...(mem ? [`--mem=${mem}M`] : []),
    ...(gpus ? [`--gres=gpu:${gpus}`] : []),
  ];
}
