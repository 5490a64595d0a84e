/**
 * A real Docker engine for tests: the one OPENBATCH_TEST_DOCKER_HOST names, or else a private `dockerd` with its own
 * socket, data and exec directories (no bridge, no iptables: tests need no network, and two test files may each run
 * their own daemon at once). Builds the test image `openbatch-test/busybox:latest` from Debian's busybox-static with
 * no network, and checks that the engine can run a container at all.
 */
import Docker from 'dockerode';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { requireBinary } from './clients.js';
import { reapOnExit } from './reap.js';

export const TEST_IMAGE = 'openbatch-test/busybox:latest';
const BUSYBOX = '/bin/busybox';

export interface TestEngine {
  /** `unix:///.../docker.sock`, for --docker-host. */
  host: string;
  docker: Docker;
  stop(): Promise<void>;
  /** Stops the engine (SIGTERM, as systemd does), waits `downMs`, starts it again on the same data and socket. */
  restart(downMs?: number): Promise<void>;
}

async function ping(docker: Docker, timeoutMs: number, daemon?: ChildProcess, log?: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      await docker.ping();
      return;
    } catch (err) {
      if (daemon && daemon.exitCode !== null) throw new Error(`dockerd exited with ${daemon.exitCode}:\n${log?.()}`);
      if (Date.now() > end)
        throw new Error(`the Docker engine did not answer in ${timeoutMs} ms: ${(err as Error).message}\n${log?.()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Imports a busybox rootfs (the binary plus one symlink per applet) as the test image, unless present. */
async function ensureTestImage(docker: Docker, workDir: string): Promise<void> {
  try {
    await docker.getImage(TEST_IMAGE).inspect();
    return;
  } catch {
    // build it
  }
  requireBinary(BUSYBOX, 'install Debian package busybox-static (apt-get install -y busybox-static)');
  const root = join(workDir, 'rootfs');
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'tmp'), { recursive: true });
  copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
  const applets = spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const a of applets) if (a !== 'busybox') symlinkSync('busybox', join(root, 'bin', a));
  const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [repo, tag] = TEST_IMAGE.split(':') as [string, string];
  const stream = await docker.importImage(tar.stdout, { repo, tag });
  await new Promise((res, rej) => docker.modem.followProgress(stream, (err) => (err ? rej(err) : res(null))));
  rmSync(root, { recursive: true, force: true });
}

const LOCK = '.openbatch-test-lock';

/** Takes a kept data root for this process unless a live process holds it; returns it, or undefined. */
function lockDataRoot(root: string): string | undefined {
  mkdirSync(root, { recursive: true });
  const lock = join(root, LOCK);
  for (let i = 0; i < 2; i++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return root;
    } catch {
      const holder = Number(readFileSync(lock, 'utf8').trim());
      let alive: boolean; // this process counts too: two engines of one test must not share it
      try {
        process.kill(holder, 0);
        alive = true;
      } catch {
        alive = false;
      }
      if (alive) return undefined;
      rmSync(lock, { force: true }); // left by a run that died: take it over
    }
  }
  return undefined;
}

/** Fails with the engine's exact words when it cannot run a container on this machine. */
async function checkCanRun(docker: Docker): Promise<void> {
  const c = await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['true'] });
  try {
    await c.start();
    const r = (await c.wait()) as { StatusCode: number };
    if (r.StatusCode !== 0) throw new Error(`\`true\` in ${TEST_IMAGE} exited with ${r.StatusCode}`);
  } catch (err) {
    throw new Error(`the Docker engine cannot run containers here: ${(err as Error).message}`);
  } finally {
    await c.remove({ force: true });
  }
}

export interface TestEngineOptions {
  /**
   * A data root kept between runs (under /var/cache/openbatch-test), so big imported images stay and are not deleted
   * file by file at every stop; taken only when no live engine of another test holds it, else a private one is used.
   */
  cachedDataRoot?: string;
  /** dockerd --live-restore: containers keep running while the engine restarts. */
  liveRestore?: boolean;
  /** Containers on one network of the engine talk to each other (multi-node jobs): the host's firewall must let them. */
  containersTalk?: boolean;
}

/**
 * The private engine runs with --iptables=false. A Docker engine with iptables on (the host's own, say) sets the
 * FORWARD policy to DROP, and with net.bridge.bridge-nf-call-iptables=1 that drops traffic between containers on one
 * of the private engine's networks too: say so, with the fix, instead of failing later on a timeout.
 */
function checkBridgeForwarding(): void {
  let bridged = '0';
  try {
    bridged = readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').trim();
  } catch {
    return; // br_netfilter not loaded: bridged traffic never meets iptables
  }
  const rules = spawnSync('iptables', ['-S', 'FORWARD'], { encoding: 'utf8' });
  if (bridged !== '1' || rules.status !== 0) return;
  if (!rules.stdout.includes('-P FORWARD DROP') || /-A FORWARD -i br-\+ -o br-\+ -j ACCEPT/.test(rules.stdout)) return;
  throw new Error(
    "the host's iptables FORWARD policy is DROP and bridged traffic passes iptables (net.bridge.bridge-nf-call-iptables=1), " +
      'as a Docker engine with iptables on leaves it: containers on one network of the test engine (--iptables=false) ' +
      'cannot reach each other. Let them: `iptables -I FORWARD -i br-+ -o br-+ -j ACCEPT` ' +
      '(or `iptables -P FORWARD ACCEPT`), or test against that engine: OPENBATCH_TEST_DOCKER_HOST=unix:///var/run/docker.sock',
  );
}

/** Starts (or connects to) the test engine and makes the test image. */
export async function startTestEngine(options: TestEngineOptions = {}): Promise<TestEngine> {
  const work = mkdtempSync('/tmp/obd-');
  const given = process.env.OPENBATCH_TEST_DOCKER_HOST;
  if (given && !options.liveRestore) {
    const docker = new Docker({ socketPath: given.replace(/^unix:\/\//, '') });
    await ping(docker, 5000);
    await ensureTestImage(docker, work);
    await checkCanRun(docker);
    return {
      host: given,
      docker,
      stop: async () => rmSync(work, { recursive: true, force: true }),
      restart: () => Promise.reject(new Error('cannot restart an engine given by OPENBATCH_TEST_DOCKER_HOST')),
    };
  }
  if (options.containersTalk) checkBridgeForwarding();
  const dockerd = existsSync('/usr/sbin/dockerd') ? '/usr/sbin/dockerd' : 'dockerd';
  requireBinary(
    dockerd,
    'install Debian package docker.io (apt-get install -y docker.io), or set OPENBATCH_TEST_DOCKER_HOST',
  );
  const sock = join(work, 'docker.sock');
  const dataRoot = (options.cachedDataRoot && lockDataRoot(options.cachedDataRoot)) || join(work, 'data');
  const args = [
    '-H',
    `unix://${sock}`,
    '--data-root',
    dataRoot,
    '--exec-root',
    join(work, 'exec'),
    '--pidfile',
    join(work, 'docker.pid'),
    '--bridge=none',
    '--iptables=false',
    ...(options.liveRestore ? ['--live-restore'] : []),
  ];
  let log = '';
  const launch = (): ChildProcess => {
    const p = spawn(dockerd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    reapOnExit(p, 'SIGTERM'); // dockerd stops its containers on the way out
    p.stdout.on('data', (d: Buffer) => (log += d.toString()));
    p.stderr.on('data', (d: Buffer) => (log += d.toString()));
    return p;
  };
  let proc = launch();
  const docker = new Docker({ socketPath: sock });
  const halt = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
  };
  const stop = async () => {
    // Under live-restore the engine leaves containers running when it stops: remove them first.
    for (const c of await docker.listContainers({ all: true }).catch(() => []))
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined);
    await halt();
    // A container on the host's network leaves dockerd's own namespace mounted under exec/netns.
    const netns = join(work, 'exec/netns');
    if (existsSync(netns)) for (const f of readdirSync(netns)) spawnSync('umount', ['-l', join(netns, f)]);
    rmSync(work, { recursive: true, force: true });
    if (dataRoot !== join(work, 'data')) rmSync(join(dataRoot, LOCK), { force: true });
  };
  const restart = async (downMs = 0) => {
    await halt();
    await new Promise((r) => setTimeout(r, downMs));
    proc = launch();
    await ping(docker, 30_000, proc, () => log.slice(-4000));
  };
  try {
    await ping(docker, 20_000, proc, () => log.slice(-4000));
    await ensureTestImage(docker, work);
    await checkCanRun(docker);
  } catch (err) {
    await stop();
    throw err;
  }
  return { host: `unix://${sock}`, docker, stop, restart };
}

/** The containers a server (by data directory) still has on the engine. */
export async function containersOf(docker: Docker, dataDir: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`openbatch.server=${dataDir}`] } });
}

/** The aws CLI image (Debian's awscli, boto3, unzip, fetch_and_run.sh), and the fetch-and-run image made from it. */
export const AWSCLI_IMAGE = 'openbatch-test/awscli:latest';
export const FETCH_AND_RUN_IMAGE = 'openbatch-test/fetch-and-run:latest';
/** Where scripts/build-awscli-image.sh keeps the root file system (built once, then reused by every run). */
export const AWSCLI_TAR = process.env.OPENBATCH_TEST_AWSCLI_TAR ?? '/var/cache/openbatch-test/awscli-trixie.tar';

/** Imports the aws CLI and fetch-and-run images, building their root file system first if it is not cached. */
export async function ensureAwscliImages(docker: Docker): Promise<void> {
  const has = async (image: string) =>
    docker
      .getImage(image)
      .inspect()
      .then(
        () => true,
        () => false,
      );
  if (!(await has(AWSCLI_IMAGE))) {
    if (!existsSync(AWSCLI_TAR)) {
      requireBinary('debootstrap', 'install Debian package debootstrap (apt-get install -y debootstrap)');
      const r = spawnSync(join(import.meta.dirname, '../../../scripts/build-awscli-image.sh'), [AWSCLI_TAR], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      if (r.status !== 0)
        throw new Error(`scripts/build-awscli-image.sh failed (${r.status}): ${(r.stderr || r.stdout).slice(-3000)}`);
    }
    const [repo, tag] = AWSCLI_IMAGE.split(':') as [string, string];
    const tar = spawn('cat', [AWSCLI_TAR], { stdio: ['ignore', 'pipe', 'inherit'] });
    const stream = await docker.importImage(tar.stdout, { repo, tag });
    await new Promise((res, rej) => docker.modem.followProgress(stream, (err) => (err ? rej(err) : res(null))));
  }
  // Made again at every run (a commit, quick), so it always holds the current docs/fetch-and-run/fetch_and_run.sh.
  if (await has(FETCH_AND_RUN_IMAGE)) await docker.getImage(FETCH_AND_RUN_IMAGE).remove({ force: true });
  {
    // The aws CLI image plus docs/fetch-and-run/fetch_and_run.sh (the recipe centers ship) as its entrypoint, as in
    // the AWS Batch fetch-and-run image; added here so the cached root file system never holds a stale copy.
    const c = await docker.createContainer({ Image: AWSCLI_IMAGE, Cmd: ['true'] });
    const tar = spawn(
      'tar',
      [
        '-C',
        join(import.meta.dirname, '../../../docs/fetch-and-run'),
        '--transform',
        's,^,usr/local/bin/,',
        '--owner=0',
        '--group=0',
        '-c',
        'fetch_and_run.sh',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await c.putArchive(tar.stdout, { path: '/' });
    const [repo, tag] = FETCH_AND_RUN_IMAGE.split(':') as [string, string];
    await c.commit({ repo, tag, changes: 'ENTRYPOINT ["/usr/local/bin/fetch_and_run.sh"]' });
    await c.remove({ force: true });
  }
}
