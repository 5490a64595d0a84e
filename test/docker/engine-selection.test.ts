/** `--runtime auto` and `--runtime docker` when no engine answers: a loud fallback, or a clear refusal to start. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, startTestServer } from '../helpers/server.js';

void describe('engine selection', () => {
  void it('--runtime auto falls back to host processes and says so at start-up and in /healthz', async () => {
    const server = await startTestServer({
      args: ['--runtime', 'auto', '--docker-host', 'unix:///nonexistent/docker.sock'],
    });
    try {
      assert.match(server.output(), /WARNING: no Docker-compatible engine answered .*nonexistent.*HOST PROCESSES/);
      const h = (await (await fetch(`${server.url}/healthz`)).json()) as { runtime: string; notes: string[] };
      assert.equal(h.runtime, 'process');
      assert.match(h.notes.join('\n'), /no Docker-compatible engine answered/);
    } finally {
      await server.stop();
    }
  });

  void it('--runtime docker with no engine refuses to start, naming what it tried and the fixes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'openbatch-noengine-'));
    try {
      const r = spawnSync(
        process.execPath,
        [
          BIN,
          'server',
          '--port',
          '0',
          '--data',
          dir,
          '--runtime',
          'docker',
          '--docker-host',
          'unix:///nonexistent/d.sock',
        ],
        { encoding: 'utf8', timeout: 20_000 },
      );
      assert.notEqual(r.status, 0);
      assert.match(
        r.stderr,
        /--runtime docker: no Docker-compatible engine answered \(tried unix:\/\/\/nonexistent\/d\.sock/,
      );
      assert.match(r.stderr, /--docker-host|--runtime process/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
