/**
 * The Docker engine going away while attempts run (restarted by an upgrade, by systemd, or crashed): calls to it fail
 * with connection errors until it answers again. Attempts are not given up for that: the runtime waits for the engine,
 * then looks at each container again (still running under `live-restore`, or stopped by the engine's shutdown).
 */
import type Docker from 'dockerode';

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOENT',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ECONNABORTED',
]);

/** Whether an error from dockerode means the engine could not be reached (as opposed to an answer from it). */
export function isEngineUnreachable(err: unknown): boolean {
  const e = err as { code?: unknown; statusCode?: unknown; message?: unknown } | undefined;
  if (!e || typeof e.statusCode === 'number') return false;
  if (typeof e.code === 'string' && UNREACHABLE.has(e.code)) return true;
  return typeof e.message === 'string' && /socket hang up|connect ECONNREFUSED|connect ENOENT/i.test(e.message);
}

/** An answer of the engine's own failure (5xx): often passing, as when it is shutting down or starting. */
export function isEngineTrouble(err: unknown): boolean {
  const status = (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' && status >= 500;
}

export class EngineOutageError extends Error {}

/**
 * Resolves once the engine answers a ping; rejects with EngineOutageError after `limitMs`, or as soon as `gaveUp()`
 * says the caller no longer waits (the runtime is closing).
 */
export async function untilEngineAnswers(
  docker: Docker,
  limitMs: number,
  gaveUp: () => boolean,
  pollMs = 500,
): Promise<void> {
  const end = Date.now() + limitMs;
  for (;;) {
    try {
      await docker.ping();
      return;
    } catch (err) {
      if (!isEngineUnreachable(err) && (err as { statusCode?: number }).statusCode !== 503) return;
    }
    if (gaveUp()) throw new EngineOutageError('the runtime closed while the Docker engine was unreachable');
    if (Date.now() > end)
      throw new EngineOutageError(`the Docker engine did not answer for ${Math.round(limitMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, pollMs).unref());
  }
}
