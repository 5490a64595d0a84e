/**
 * An eksProperties pod run in containers on a real engine: the pod spec goes through the same derivation as a
 * submitted job (core/eks-pod.ts), then the Docker runtime runs the init container to completion and then the main
 * container, with Kubernetes' command/args rule against an image that has its own ENTRYPOINT and CMD, the pod's env,
 * and the memory request as the container's limit.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eksRun, podRunFields, type EksProperties } from '../../src/core/eks-pod.js';
import type { ExitReport, RunSpec } from '../../src/core/ports.js';
import { DockerRuntime } from '../../src/runtime/docker/docker-runtime.js';
import { containersOf, startTestEngine, TEST_IMAGE, type TestEngine } from '../helpers/docker.js';

const ENTRY_IMAGE = 'openbatch-test/entry:latest';

/** The RunSpec the engine builds for a pod job (see engine.ts: command, containerProperties, podRunFields). */
function podSpec(jobId: string, ep: EksProperties): RunSpec {
  const { containerProperties: cp, resources } = eksRun(ep, jobId);
  const environment: Record<string, string> = { AWS_BATCH_JOB_ID: jobId };
  for (const e of cp.environment ?? []) environment[e.name!] = e.value ?? '';
  return {
    jobId,
    attempt: 1,
    command: cp.command ?? [],
    environment,
    containerProperties: cp,
    resources,
    logStreamName: `pod/default/${jobId}`,
    ...podRunFields(cp),
  };
}

void describe('eksProperties pods on a real Docker engine', () => {
  let engine: TestEngine;
  let dir: string;

  before(async () => {
    engine = await startTestEngine();
    dir = mkdtempSync(join(tmpdir(), 'openbatch-eks-'));
    // An image with its own ENTRYPOINT and CMD, to tell Kubernetes' command/args rule from Docker's defaults.
    const c = await engine.docker.createContainer({ Image: TEST_IMAGE, Cmd: ['true'] });
    await c.commit({
      repo: 'openbatch-test/entry',
      tag: 'latest',
      changes: ['ENTRYPOINT ["echo","entry"]', 'CMD ["image-cmd"]'],
    });
    await c.remove({ force: true });
  });
  after(async () => {
    const left = await containersOf(engine.docker, dir);
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(left, [], 'no container of the test is left behind');
  });

  void it('runs the init container, then the main one, as Kubernetes would', async () => {
    const out = new Map<string, string>();
    const exits = new Map<string, ExitReport>();
    const started = new Set<string>();
    const rt = new DockerRuntime(
      { docker: engine.docker, engine: 'test', server: dir, scratchRoot: join(dir, 's'), stateDir: join(dir, 'p') },
      {
        started: (j) => started.add(j),
        output: (j, _a, _s, d) => out.set(j, (out.get(j) ?? '') + d.toString()),
        exited: (j, _a, r, durable) => {
          exits.set(j, r);
          durable?.();
        },
      },
    );
    const pod = (init: string, main: Record<string, unknown>): EksProperties => ({
      podProperties: {
        initContainers: [
          {
            name: 'prep',
            image: TEST_IMAGE,
            command: ['sh', '-c'],
            args: [init],
            env: [{ name: 'STEP', value: 'one' }],
          },
        ],
        containers: [
          {
            image: ENTRY_IMAGE,
            env: [{ name: 'FOO', value: 'bar' }],
            resources: { requests: { cpu: '0.5', memory: '48Mi' } },
            ...main,
          },
        ],
      },
    });
    // args only: the image's entrypoint with the pod's args (its CMD replaced).
    rt.start(podSpec('args', pod('echo "init $STEP"', { args: ['a1', 'a2'] })));
    // command only: the image's entrypoint and CMD both replaced ($0 would be image-cmd otherwise).
    rt.start(
      podSpec(
        'cmd',
        pod('true', {
          command: [
            'sh',
            '-c',
            'echo "$FOO $0 $(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"',
          ],
        }),
      ),
    );
    // A failing init container: the main container never runs.
    rt.start(podSpec('initfail', pod('exit 4', { command: ['sh', '-c', 'echo main-ran'] })));
    const end = Date.now() + 120_000;
    while (exits.size < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    assert.equal(exits.size, 3, `all three pods ended: ${JSON.stringify([...exits])}`);
    assert.deepEqual(exits.get('args'), { exitCode: 0 });
    assert.equal(out.get('args'), 'init one\nentry a1 a2\n');
    assert.deepEqual(exits.get('cmd'), { exitCode: 0 });
    assert.equal(out.get('cmd'), `bar sh ${48 * 1024 * 1024}\n`);
    assert.equal(exits.get('initfail')?.exitCode, 4);
    assert.match(exits.get('initfail')?.reason ?? '', /InitContainerError: init container prep exited with code 4/);
    assert.equal(out.get('initfail') ?? '', '');
    assert.ok(!started.has('initfail'), 'a pod whose init container failed never reports its main container started');
    await rt.close();
  });
});
