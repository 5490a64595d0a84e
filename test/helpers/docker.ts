/**
 * A real Docker engine for tests: the one OPENBATCH_TEST_DOCKER_HOST names, or else a private `dockerd` with its own
 * socket, data and exec directories (no bridge, no iptables: tests need no network, and two test files may each run
 * their own daemon at once). Builds the test image `openbatch-test/busybox:latest` from Debian's busybox-static with
 * no network, and checks that the engine can run a container at all.
 */
import Docker from 'dockerode';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { requireBinary } from './clients.js';

export const TEST_IMAGE = 'openbatch-test/busybox:latest';
const BUSYBOX = '/bin/busybox';

export interface TestEngine {
  /** `unix:///.../docker.sock`, for --docker-host. */
  host: string;
  docker: Docker;
  stop(): Promise<void>;
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

/** Starts (or connects to) the test engine and makes the test image. */
export async function startTestEngine(): Promise<TestEngine> {
  const work = mkdtempSync('/tmp/obd-');
  const given = process.env.OPENBATCH_TEST_DOCKER_HOST;
  if (given) {
    const docker = new Docker({ socketPath: given.replace(/^unix:\/\//, '') });
    await ping(docker, 5000);
    await ensureTestImage(docker, work);
    await checkCanRun(docker);
    return { host: given, docker, stop: async () => rmSync(work, { recursive: true, force: true }) };
  }
  const dockerd = existsSync('/usr/sbin/dockerd') ? '/usr/sbin/dockerd' : 'dockerd';
  requireBinary(
    dockerd,
    'install Debian package docker.io (apt-get install -y docker.io), or set OPENBATCH_TEST_DOCKER_HOST',
  );
  const sock = join(work, 'docker.sock');
  const proc = spawn(
    dockerd,
    [
      '-H',
      `unix://${sock}`,
      '--data-root',
      join(work, 'data'),
      '--exec-root',
      join(work, 'exec'),
      '--pidfile',
      join(work, 'docker.pid'),
      '--bridge=none',
      '--iptables=false',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  proc.stdout.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const docker = new Docker({ socketPath: sock });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
    rmSync(work, { recursive: true, force: true });
  };
  try {
    await ping(docker, 20_000, proc, () => log.slice(-4000));
    await ensureTestImage(docker, work);
    await checkCanRun(docker);
  } catch (err) {
    await stop();
    throw err;
  }
  return { host: `unix://${sock}`, docker, stop };
}

/** The containers a server (by data directory) still has on the engine. */
export async function containersOf(docker: Docker, dataDir: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`openbatch.server=${dataDir}`] } });
}
