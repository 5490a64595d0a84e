/**
 * Caps V8's young generation (src/heap-growth.ts, decision 0017) as the process starts: the CLI imports this module
 * first, so it runs before the server's modules load (loading them grew the young generation to V8's 32 MiB, which a
 * cap set later cannot shrink). Read from OPENBATCH_YOUNG_GENERATION_MIB only: the command line is parsed later.
 */
import { limitYoungGeneration, youngGenerationMibOf } from '../heap-growth.js';

try {
  limitYoungGeneration(youngGenerationMibOf(process.env));
} catch (err) {
  console.error(`openbatch: ${(err as Error).message}`);
  process.exit(2);
}
