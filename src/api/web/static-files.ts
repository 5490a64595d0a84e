/**
 * The dashboard's assets: plain JS modules and CSS kept in src/api/web/static (no build step), found from the
 * package root so that both `dist/` and `src/` layouts work, and loaded into memory once at start.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';

/** Sent with every dashboard response: no inline script or style, nothing from elsewhere, no framing. */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Walks up from this file to the folder holding src/api/web/static (the package root). */
export function staticDir(): string {
  let dir = import.meta.dirname;
  for (;;) {
    const candidate = join(dir, 'src', 'api', 'web', 'static');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error(`dashboard assets not found above ${import.meta.dirname} (src/api/web/static)`);
    dir = up;
  }
}

export function loadStaticFiles(): { index: Buffer; assets: Map<string, { type: string; body: Buffer }> } {
  const dir = staticDir();
  const assets = new Map<string, { type: string; body: Buffer }>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) assets.set(name, { type, body: readFileSync(join(dir, name)) });
  }
  return { index: readFileSync(join(dir, 'index.html')), assets };
}
