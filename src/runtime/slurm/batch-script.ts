/**
 * The files a Slurm attempt runs from. Attempts submitted together share one Slurm array job (one `sbatch`, one
 * group directory); task i of the array runs attempt i of the group from `<group>/<i>/run.sh`:
 *
 *   <group>/batch.sh      the array's batch script: runs `<i>/run.sh`, forwards SIGTERM to it, writes `<i>/rc`
 *   <group>/tasks.json    which attempt each task index runs (what recover() re-attaches by)
 *   <group>/slurm-id      the array's Slurm job id, once sbatch answered
 *   <group>/time-limit    the array's `--time` in seconds, when it has one
 *   <group>/<i>/run.sh    the attempt's command with exactly its environment (process) or its `docker run`
 *   <group>/<i>/out, err  its output, written by Slurm on the node and tailed by the runtime (shared disk)
 *   <group>/<i>/started   written by the batch script as the task starts: the node's name (seen before squeue says so)
 *   <group>/<i>/rc        the command's exit code, written when it ends
 *   <group>/<i>/term      made when the batch script got SIGTERM (scancel, or Slurm's time limit: see slurm-runtime.ts)
 *   <group>/ev/s<i>, e<i> empty markers made just after <i>/started and <i>/rc: one listing of this directory (when
 *                         its mtime moved) tells the runtime which tasks started or ended, instead of a look at every
 *                         task's files every 200 ms; the runtime removes them once listed
 *   <group>/<i>/work      its scratch directory (HOME, TMPDIR)
 *   <group>/<i>/aws       its job-role credential files, when it has a role (credential-files.ts)
 */
import type { RunSpec } from '../../core/ports.js';

/** Quotes a word for bash. */
export const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The array's batch script (POSIX sh: lighter than bash, which matters for a thousand short tasks). The attempt's
 * run.sh is sourced in a forked subshell (no extra shell to start) that runs in the background, so that the wrapper
 * survives SIGTERM to record rc. `started` and `rc` are written in one write each, without a rename; a reader that
 * finds one empty reads it again later. `term` records that a SIGTERM came (its time is the file's mtime): a command
 * that catches it and exits 0 has still been stopped. A marker that cannot be made is only a hint lost (squeue
 * tells): `true`, not `:`, whose failed redirection would end the script.
 */
export function arrayBatchScript(groupDir: string): string {
  return `#!/bin/sh
d=${shq(groupDir)}/"$SLURM_ARRAY_TASK_ID"
ev=${shq(groupDir)}/ev
echo "$SLURMD_NODENAME" > "$d/started"
{ true > "$ev/s$SLURM_ARRAY_TASK_ID"; } 2>/dev/null
trap ': > "$d/term"; kill -TERM "$child" 2>/dev/null' TERM
( . "$d/run.sh" ) </dev/null &
child=$!
while :; do
  wait "$child"; rc=$?
  kill -0 "$child" 2>/dev/null || break
done
# A wait cut short by the trap reports 143 though the child may have exited by itself meanwhile: ask once more
# (127: its status was already collected).
if [ "$rc" -gt 128 ]; then wait "$child"; r=$?; [ "$r" -ne 127 ] && rc=$r; fi
echo "$rc" > "$d/rc"
{ true > "$ev/e$SLURM_ARRAY_TASK_ID"; } 2>/dev/null
exit "$rc"
`;
}

export interface DockerExecution {
  /** `unix:///var/run/docker.sock` or similar, as seen from the nodes. */
  host: string;
}

/** The task's command script: the job's own environment only (plus PATH/HOME/TMPDIR and the node's name). */
export function taskScript(
  spec: Partial<RunSpec> &
    Pick<RunSpec, 'jobId' | 'attempt' | 'command' | 'environment' | 'containerProperties' | 'resources'>,
  taskDir: string,
  docker?: DockerExecution,
  /** Variables whose values the batch script knows only on the node: [name, shell expression]. */
  live: [string, string][] = [],
  /** Directories of the task the container sees read-only at the same path (its credential files). */
  mounts: string[] = [],
): string {
  const work = `${taskDir}/work`;
  const env: [string, string][] = [
    ['PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    ['HOME', work],
    ['TMPDIR', work],
    ...Object.entries(spec.environment),
  ];
  const node = [
    `SLURMD_NODENAME="$SLURMD_NODENAME" SLURM_JOB_ID="$SLURM_JOB_ID"`,
    ...live.map(([k, e]) => `${k}="${e}"`),
  ].join(' ');
  if (!docker) {
    const assigns = env.map(([k, v]) => shq(`${k}=${v}`)).join(' ');
    // A pod container's command replaces the entrypoint; its args follow.
    const argv = [...(spec.entrypoint ?? []), ...spec.command];
    return `#!/bin/sh\ncd ${shq(work)} || exit 126\nexec env -i ${node} ${assigns} ${argv.map(shq).join(' ')}\n`;
  }
  const r = spec.resources;
  const name = `openbatch-${spec.jobId.replace(/[^A-Za-z0-9_.-]/g, '_')}-${spec.attempt}`;
  const args = [
    'run',
    '--rm',
    '--name',
    name,
    '--label',
    `openbatch.job=${spec.jobId}`,
    ...(r.vcpus ? ['--cpus', String(r.vcpus)] : []),
    ...(r.memoryMiB ? ['--memory', `${r.memoryMiB}m`] : []),
    ...env.filter(([k]) => k !== 'PATH' && k !== 'HOME' && k !== 'TMPDIR').flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    ...live.flatMap(([k]) => ['-e', k]),
    ...mounts.flatMap((m) => ['-v', `${m}:${m}:ro`]),
    ...(spec.entrypoint?.length ? ['--entrypoint', spec.entrypoint[0]!] : []),
    spec.containerProperties.image ?? '',
    ...(spec.entrypoint?.slice(1) ?? []),
    ...spec.command,
  ];
  return `#!/bin/sh
cd ${shq(work)} || exit 126
trap 'docker -H ${shq(docker.host)} kill -s TERM ${name} >/dev/null 2>&1' TERM
docker -H ${shq(docker.host)} version >/dev/null 2>&1 || { echo "CannotStartContainerError: no Docker engine answers at ${docker.host} on $SLURMD_NODENAME" >&2; exit 125; }
env ${node} docker -H ${shq(docker.host)} ${args.map(shq).join(' ')} &
child=$!
while :; do
  wait "$child"; rc=$?
  kill -0 "$child" 2>/dev/null || break
done
# A wait cut short by the trap reports 143 though the child may have exited by itself meanwhile: ask once more
# (127: its status was already collected).
if [ "$rc" -gt 128 ]; then wait "$child"; r=$?; [ "$r" -ne 127 ] && rc=$r; fi
exit "$rc"
`;
}
