/**
 * How far V8 lets the main heap grow past what survived its last full collection before it collects again. V8's own
 * factor adapts between 1.1 and 4 from its GC-speed estimate; serving a steady stream of requests, the server's old
 * generation rose from about 40 to over 100 MB of mostly garbage (request and job objects that outlived two young
 * collections) before the first full collection, so RSS climbed by a third in a 60 s soak, and with 1,000,000 jobs
 * queued the peak reached twice the live heap. A fixed factor keeps the heap within that much of what is live, for
 * a full collection every few seconds under load (mostly concurrent marking). Decision 0014.
 */
import { setFlagsFromString } from 'node:v8';

export function limitHeapGrowth(percent: number): void {
  // 0: V8's adaptive factor. The flag is read at every full collection, so setting it once the isolate runs works.
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${Math.round(percent)}`);
}
