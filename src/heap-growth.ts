/**
 * How the server bounds V8's heap (decision 0014, and 0017 for the young generation).
 *
 * Old generation: how far V8 lets the main heap grow past what survived its last full collection before it collects
 * again. V8's own factor adapts between 1.1 and 4 from its GC-speed estimate; serving a steady stream of requests, the
 * server's old generation rose from about 40 to over 100 MB of mostly garbage (request and job objects that outlived
 * two young collections) before the first full collection, so RSS climbed by a third in a 60 s soak, and with 1,000,000
 * jobs queued the peak reached twice the live heap. A fixed factor keeps the heap within that much of what is live, for
 * a full collection every few seconds under load (mostly concurrent marking).
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

export function limitHeapGrowth(percent: number): void {
  // 0: V8's adaptive factor. The flag is read at every full collection, so setting it once the isolate runs works.
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${Math.round(percent)}`);
}

const DEFAULT_YOUNG_GENERATION_MIB = 16;

/** The young generation's limit (MiB) from OPENBATCH_YOUNG_GENERATION_MIB: 16 by default, 0 for V8's own. */
export function youngGenerationMibOf(env: NodeJS.ProcessEnv): number {
  const raw = env.OPENBATCH_YOUNG_GENERATION_MIB?.trim();
  if (raw === undefined || raw === '') return DEFAULT_YOUNG_GENERATION_MIB;
  if (!/^\d+$/.test(raw))
    throw new Error(
      `OPENBATCH_YOUNG_GENERATION_MIB must be a whole number of MiB, 0 or more (0: V8's own limit); got '${raw}'`,
    );
  return Number(raw);
}

/** V8's default: each growth of the young generation doubles it. */
const V8_SEMI_SPACE_GROWTH_FACTOR = 2;

const youngGenerationBytes = (): number =>
  getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;

/**
 * Stops V8's young generation from growing past `mib` (its two semi-spaces together; 0 leaves V8's own limit, 32 MiB
 * on 64-bit Node 20). Under load V8 doubles the young generation up to that limit, and every full collection then
 * lets the old generation grow by as much again before the next (V8 adds the young generation's capacity to the old
 * generation's limit): in the soak, 32 MiB young meant RSS about 17 MB higher and 6-12% growth over the 60 s where
 * 16 MiB gave 6-7%, at the same request rate (decision 0017). `--max-semi-space-size` would do this but is read only
 * when the process starts, and the server is started in many ways (bin/openbatch, `node bin/openbatch`, npm start,
 * the image); V8 reads its growth factor each time it grows the young generation, so after each collection the factor
 * is set to 1 (no growth) once the young generation is at the limit, and back to V8's 2 when it is below (V8 shrinks
 * it when idle). The factor is the whole process's: worker threads' young generations (the SQLite writers, which
 * allocate little) stop growing too while the main thread's is at the limit. Young generation sizes are powers of
 * two: the growth stops at the first size at or above `mib`. It cannot shrink what has grown already, so the CLI calls
 * this before it loads the server (cli/young-generation.ts). Returns a function that stops watching.
 */
export function limitYoungGeneration(mib: number): () => void {
  if (mib <= 0) return () => {};
  const limit = mib * 2 ** 20;
  const setGrowth = (cap: boolean): void =>
    setFlagsFromString(`--semi-space-growth-factor=${cap ? 1 : V8_SEMI_SPACE_GROWTH_FACTOR}`);
  // No growth until the event loop turns: the entries of collections reach the observer only then, and loading the
  // server's modules (synchronous) ran enough young collections to double the young generation twice.
  let capped = true;
  setGrowth(true);
  const check = (): void => {
    const cap = youngGenerationBytes() >= limit;
    if (cap === capped) return;
    capped = cap;
    setGrowth(cap);
  };
  // A growth is decided in a young collection, after several: the observer sees each collection's entry soon after.
  const observer = new PerformanceObserver(check);
  observer.observe({ entryTypes: ['gc'] });
  setImmediate(check).unref();
  return () => {
    observer.disconnect();
    if (capped) setGrowth(false);
  };
}
