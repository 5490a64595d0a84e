/**
 * A real Slurm cluster for tests: one slurmctld and three slurmd nodes (n1, n2, n3), each node in its own network
 * namespace with its own address, joined to the controller by a bridge (see DESIGN.md, "Real components").
 *
 * Every cluster is private: its own bridge, namespaces, subnet, ports, configuration and state directory, so two test
 * files may each run one at once. Clients reach it through `SLURM_CONF` (see `env`). munged is shared: started once
 * for the machine when it is not running. `stop()` kills what the cluster started and removes its namespaces.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from './clients.js';

const INSTALL = 'install Debian packages slurm-wlm and munge (apt-get install -y slurm-wlm munge)';

export interface TestSlurmOptions {
  /** Seconds without an answer before slurmctld declares a node DOWN (node-failure tests). Default 4. */
  slurmdTimeout?: number;
  /** Enforce memory by polling job usage (jobacct_gather/linux with OverMemoryKill), for out-of-memory tests. */
  enforceMemory?: boolean;
  /** CPUs each node declares. Default 4. */
  cpus?: number;
}

export interface TestSlurm {
  /** Path of this cluster's slurm.conf. */
  conf: string;
  /** Environment for Slurm's client commands (SLURM_CONF). */
  env: Record<string, string>;
  /** Working directory of the cluster: state, logs; jobs may write below it (shared by every node). */
  dir: string;
  partition: string;
  nodes: string[];
  /** This host's address on the cluster's bridge, as the nodes reach it (the controller's address). */
  hostAddress: string;
  /** Runs a Slurm client command (`squeue`, `sbatch`, ...) against this cluster; throws with its stderr on failure. */
  cmd(bin: string, args: string[]): string;
  /** Kills a node hard: its slurmd and every process of its namespace (its jobs' steps included). */
  killNode(node: string): void;
  /** Starts a killed node's slurmd again and waits until the controller accepts it. */
  restartNode(node: string): Promise<void>;
  /** The node's log so far (for failure messages). */
  log(node: string | 'slurmctld'): string;
  stop(): Promise<void>;
}

function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; allowFail?: boolean } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: opts.env ?? process.env, timeout: 30_000 });
  if (!opts.allowFail && (r.error || r.status !== 0))
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.error?.message ?? ''}${r.stderr}`);
  return r.stdout ?? '';
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '0.0.0.0', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts munged (as the munge user) unless one answers already. */
function ensureMunge(): void {
  if (spawnSync('sh', ['-c', 'munge -n | unmunge'], { stdio: 'ignore' }).status === 0) return;
  requireBinary('/usr/sbin/munged', INSTALL);
  if (!existsSync('/etc/munge/munge.key'))
    throw new Error('/etc/munge/munge.key is missing: create it with `mungekey` (package munge) and run again');
  for (const d of ['/run/munge', '/var/log/munge', '/var/lib/munge']) {
    mkdirSync(d, { recursive: true });
    sh('chown', ['munge:munge', d]);
  }
  sh('runuser', ['-u', 'munge', '--', '/usr/sbin/munged']);
  const end = Date.now() + 5000;
  while (spawnSync('sh', ['-c', 'munge -n | unmunge'], { stdio: 'ignore' }).status !== 0) {
    if (Date.now() > end) throw new Error('munged did not answer in 5 s (see /var/log/munge/munged.log)');
    spawnSync('sleep', ['0.1']);
  }
}

/** Starts a private three-node cluster; resolves once every node is idle. */
export async function startTestSlurm(o: TestSlurmOptions = {}): Promise<TestSlurm> {
  for (const b of ['slurmctld', 'slurmd', 'sbatch', 'munge']) requireBinary(b, INSTALL);
  requireBinary('nsenter', 'install Debian package util-linux');
  requireBinary('ip', 'install Debian package iproute2');
  if (process.getuid?.() !== 0) throw new Error('the Slurm test cluster needs root (network namespaces, slurmd)');
  ensureMunge();

  const id = randomBytes(2).toString('hex');
  const octets = [Number.parseInt(id.slice(0, 2), 16), Number.parseInt(id.slice(2), 16)];
  const net = `10.${100 + (octets[0]! % 150)}.${octets[1]}`;
  const bridge = `obs${id}br`;
  const nodes = ['n1', 'n2', 'n3'];
  const ns = (n: string) => `obs${id}${n}`;
  const dir = mkdtempSync('/tmp/obslurm-');
  chmodSync(dir, 0o755);
  const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
  const cpus = o.cpus ?? 4;
  const conf = join(dir, 'slurm.conf');
  const host = hostname().split('.')[0]!;
  writeFileSync(
    conf,
    [
      `ClusterName=obs${id}`,
      `SlurmctldHost=${host}(${net}.1)`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      'AuthType=auth/munge',
      'SlurmUser=root',
      'SlurmdUser=root',
      `StateSaveLocation=${dir}/ctld-state`,
      `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmctldLogFile=${dir}/slurmctld.log`,
      `SlurmdSpoolDir=${dir}/%n/spool`,
      `SlurmdPidFile=${dir}/%n/slurmd.pid`,
      `SlurmdLogFile=${dir}/%n/slurmd.log`,
      'SlurmdParameters=config_overrides',
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      o.enforceMemory
        ? 'JobAcctGatherType=jobacct_gather/linux\nJobAcctGatherFrequency=task=1\nJobAcctGatherParams=OverMemoryKill'
        : 'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'JobCompType=jobcomp/none',
      'MpiDefault=none',
      'SchedulerType=sched/backfill',
      'SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,default_queue_depth=1000',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_CPU_Memory',
      `SlurmdTimeout=${o.slurmdTimeout ?? 4}`,
      'MessageTimeout=5',
      'ReturnToService=2',
      'JobRequeue=0',
      'MinJobAge=600',
      'DefMemPerCPU=100',
      'MaxArraySize=10001',
      'MaxJobCount=100000',
      'KillWait=5',
      'InactiveLimit=0',
      'SlurmctldDebug=info',
      'SlurmdDebug=info',
      ...nodes.map((n, i) => `NodeName=${n} NodeAddr=${net}.${11 + i} CPUs=${cpus} RealMemory=4096 State=UNKNOWN`),
      `PartitionName=batch Nodes=${nodes.join(',')} Default=YES MaxTime=INFINITE State=UP`,
      '',
    ].join('\n'),
  );
  const env = { SLURM_CONF: conf };
  const clientEnv = { ...process.env, ...env };

  // Network: a bridge with the controller's address, one namespace per node on a veth pair.
  const created: string[] = [];
  const teardownNet = () => {
    for (const n of nodes) sh('ip', ['netns', 'delete', ns(n)], { allowFail: true });
    sh('ip', ['link', 'delete', bridge], { allowFail: true });
  };
  try {
    sh('ip', ['link', 'add', bridge, 'type', 'bridge']);
    created.push(bridge);
    sh('ip', ['addr', 'add', `${net}.1/24`, 'dev', bridge]);
    sh('ip', ['link', 'set', bridge, 'up']);
    nodes.forEach((n, i) => {
      const [host0, peer] = [`obs${id}v${i + 1}`, `obs${id}p${i + 1}`];
      sh('ip', ['netns', 'add', ns(n)]);
      sh('ip', ['link', 'add', host0, 'type', 'veth', 'peer', 'name', peer]);
      sh('ip', ['link', 'set', peer, 'netns', ns(n)]);
      sh('ip', ['link', 'set', host0, 'master', bridge]);
      sh('ip', ['link', 'set', host0, 'up']);
      sh('ip', ['-n', ns(n), 'addr', 'add', `${net}.${11 + i}/24`, 'dev', peer]);
      sh('ip', ['-n', ns(n), 'link', 'set', peer, 'up']);
      sh('ip', ['-n', ns(n), 'link', 'set', 'lo', 'up']);
    });
  } catch (err) {
    teardownNet();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const daemons = new Map<string, ChildProcess>();
  const startDaemon = (name: string, argv: string[]) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', env: clientEnv });
    daemons.set(name, p);
  };
  const startNode = (n: string) => {
    mkdirSync(join(dir, n, 'spool'), { recursive: true });
    startDaemon(n, ['nsenter', `--net=/run/netns/${ns(n)}`, 'slurmd', '-D', '-f', conf, '-N', n]);
  };
  const log = (what: string) => {
    const f = what === 'slurmctld' ? join(dir, 'slurmctld.log') : join(dir, what, 'slurmd.log');
    return existsSync(f) ? readFileSync(f, 'utf8') : '(no log)';
  };
  const cmd = (bin: string, args: string[]) => sh(bin, args, { env: clientEnv });
  const nodeStates = () =>
    new Map(
      sh('sinfo', ['-h', '-N', '-o', '%N %T'], { env: clientEnv, allowFail: true })
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ') as [string, string]),
    );
  const waitIdle = async (which: string[], ms: number) => {
    const end = Date.now() + ms;
    for (;;) {
      const states = nodeStates();
      if (which.every((n) => /^(idle|mixed|allocated)/.test(states.get(n) ?? ''))) return;
      if (Date.now() > end)
        throw new Error(
          `Slurm nodes not up in ${ms} ms: ${JSON.stringify([...states])}\n${log('slurmctld').slice(-3000)}\n${which.map((n) => log(n).slice(-1500)).join('\n')}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const killNode = (n: string) => {
    const pids = sh('ip', ['netns', 'pids', ns(n)], { allowFail: true })
      .trim()
      .split('\n')
      .filter(Boolean);
    for (const pid of pids) spawnSync('kill', ['-9', pid]);
    daemons.get(n)?.kill('SIGKILL');
    daemons.delete(n);
  };
  const stop = async () => {
    for (const n of nodes) killNode(n);
    const ctld = daemons.get('slurmctld');
    if (ctld && ctld.exitCode === null && ctld.signalCode === null) {
      const exited = new Promise((r) => ctld.once('exit', r));
      ctld.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      ctld.kill('SIGKILL');
    }
    teardownNet();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    startDaemon('slurmctld', ['slurmctld', '-D', '-i', '-f', conf]);
    for (const n of nodes) startNode(n);
    await waitIdle(nodes, 20_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    conf,
    env,
    dir,
    partition: 'batch',
    nodes,
    hostAddress: `${net}.1`,
    cmd,
    killNode,
    async restartNode(n) {
      killNode(n);
      startNode(n);
      await waitIdle([n], 20_000);
    },
    log,
    stop,
  };
}
