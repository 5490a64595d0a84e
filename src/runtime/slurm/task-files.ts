/**
 * What a task's batch script leaves on the shared disk (batch-script.ts), read back by the Slurm runtime: `started`
 * (the node's name), `rc` (the command's exit code), `term` (a SIGTERM came), the `out` and `err` files with how far
 * they were read (`offsets`), and the group's `ev` directory of start and end markers. None of these reads throws:
 * they run on timers, against files another host is writing.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/** A group's `ev` directory and what its last listing saw. */
export interface Markers {
  dir: string;
  /** The directory's mtime at its last listing, and when that was. */
  mtimeMs: number;
  listedAt: number;
  /** Look at every task once (a group re-attached after a restart: markers read before it were removed). */
  scanAll?: boolean;
}

/** Offsets read so far in a task's (or node's) out and err files. */
export type Offsets = [number, number];

const READ_LIMIT = 1024 * 1024;
/** One read buffer for every tail (what is read is copied out): a fresh MiB per file and tick kept the GC busy. */
let readBuffer: Buffer | undefined;
/** How often a group's `ev` directory is listed even though its mtime did not move (coarse timestamps, NFS). */
const MARKERS_RELIST_MS = 1000;

/** A file's stat, or undefined when it is missing or cannot be looked at. */
export function statOf(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** A small file's trimmed text, or undefined when it is not there (yet). */
export function readSmall(path: string): string | undefined {
  if (!existsSync(path)) return undefined; // cheaper than a thrown ENOENT, for a thousand pending tasks
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The exit code in `dir`/rc, once the batch script wrote it. */
export function exitCodeIn(dir: string): number | undefined {
  const text = readSmall(join(dir, 'rc'));
  const n = text ? Number(text) : Number.NaN;
  return Number.isInteger(n) ? n : undefined;
}

/** The batch script got a SIGTERM (`term`): a stop, whether openbatch's, the time limit's or an admin's. */
export function wasSignalled(dir: string): boolean {
  return existsSync(join(dir, 'term'));
}

/** How long the task ran, from `started` to `rc` (both written on the shared disk, so by one clock), if it ended. */
export function ranMsOf(dir: string): number | undefined {
  try {
    return statSync(join(dir, 'rc')).mtimeMs - statSync(join(dir, 'started')).mtimeMs;
  } catch {
    return undefined;
  }
}

/** How far the runtime had read a task's (or node's) out and err files, kept beside them. */
export function readOffsets(dir: string): Offsets {
  try {
    const [o, e] = readFileSync(join(dir, 'offsets'), 'utf8').split(' ').map(Number);
    return [o ?? 0, e ?? 0];
  } catch {
    return [0, 0];
  }
}

/**
 * Hands what was appended to `dir`/out and `dir`/err since `offsets` to `emit`, moves the offsets and keeps them
 * beside the files (a restart resumes there).
 */
export function tailFiles(
  dir: string,
  offsets: Offsets,
  emit: (stream: 'stdout' | 'stderr', data: Buffer) => void,
): void {
  let moved = false;
  (['out', 'err'] as const).forEach((name, i) => {
    const path = join(dir, name);
    // Most ticks nothing was appended: a stat, not an open, read and close.
    const size = statOf(path)?.size;
    if (size === undefined || size <= offsets[i]!) return;
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return;
    }
    try {
      const buf = (readBuffer ??= Buffer.allocUnsafe(READ_LIMIT));
      for (;;) {
        const n = readSync(fd, buf, 0, READ_LIMIT, offsets[i]!);
        if (n <= 0) break;
        offsets[i]! += n;
        moved = true;
        emit(i === 0 ? 'stdout' : 'stderr', Buffer.from(buf.subarray(0, n)));
        if (n < READ_LIMIT) break;
      }
    } finally {
      closeSync(fd);
    }
  });
  if (moved) writeFileSync(join(dir, 'offsets'), offsets.join(' '));
}

/**
 * The task indexes with a marker in the group's `ev` directory, which are removed once read (so the listing stays
 * short); undefined when every task must be looked at. The directory is listed only when its mtime moved since the
 * last listing, or MARKERS_RELIST_MS after it (a marker made within the same timestamp tick as a listing does not
 * move the mtime); squeue's polls catch whatever a marker misses.
 */
export function newMarkers(m: Markers): Set<number> | undefined {
  if (m.scanAll) {
    m.scanAll = false;
    return undefined;
  }
  const found = new Set<number>();
  const now = Date.now();
  const st = statOf(m.dir);
  if (!st || (st.mtimeMs === m.mtimeMs && now - m.listedAt < MARKERS_RELIST_MS)) return found;
  m.mtimeMs = st.mtimeMs;
  m.listedAt = now;
  let names: string[];
  try {
    names = readdirSync(m.dir);
  } catch {
    return found;
  }
  for (const name of names) {
    const i = Number(name.slice(1));
    if (Number.isInteger(i)) found.add(i);
    try {
      unlinkSync(join(m.dir, name));
    } catch {
      // listed again next time: harmless, the task's own files decide
    }
  }
  return found;
}
