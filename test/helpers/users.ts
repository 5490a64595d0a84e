/** Helpers for tests with several users: the `openbatch admin` CLI and per-user client environments. */
import { run } from './clients.js';
import { BIN, type TestServer } from './server.js';

export interface Creds {
  userName: string;
  pi: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** Runs `openbatch admin ...` with the given environment; returns stdout, throws with stderr on failure. */
export function admin(env: NodeJS.ProcessEnv, args: string[]): string {
  const r = run(process.execPath, [BIN, 'admin', ...args], env);
  if (r.status !== 0) throw new Error(`openbatch admin ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export function userEnv(srv: TestServer, c: { accessKeyId: string; secretAccessKey: string }): NodeJS.ProcessEnv {
  return { ...srv.env, AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey };
}
