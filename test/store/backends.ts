/**
 * The store contract suites run once per backend (kysely's DIALECTS.forEach style): `forEachBackend` declares a
 * describe block per backend, opens the stores in a fresh data directory (SQLite) or a fresh database (PostgreSQL,
 * dropped only when every test of the block passed), and hands the tests what they need.
 */
import { after, before, describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStores, type Stores } from '../../src/store/open-stores.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

export type BackendName = 'sqlite' | 'postgres';
export const BACKENDS: BackendName[] = ['sqlite', 'postgres'];

export interface BackendContext {
  backend: BackendName;
  /** The stores of this block (opened before its first test). */
  stores: Stores;
  /** Where they live: a data directory, and for PostgreSQL its URL. */
  location: { dataDir: string; databaseUrl?: string };
  /** Opens another set of stores on the same data (a second replica on PostgreSQL); closed after the block. */
  openAnother(): Promise<Stores>;
  it(name: string, fn: () => Promise<void>): void;
}

export function forEachBackend(title: string, body: (ctx: BackendContext) => void): void {
  for (const backend of BACKENDS) {
    void describe(`${title} [${backend}]`, () => {
      let db: TestDatabase | undefined;
      let failed = false;
      const others: Stores[] = [];
      const ctx: BackendContext = {
        backend,
        stores: undefined as unknown as Stores,
        location: { dataDir: '' },
        openAnother: async () => {
          const s = await openStores(ctx.location);
          others.push(s);
          return s;
        },
        it: (name, fn) =>
          void it(name, async () => {
            try {
              await fn();
            } catch (err) {
              failed = true;
              throw err;
            }
          }),
      };
      before(async () => {
        ctx.location.dataDir = mkdtempSync(join(tmpdir(), 'openbatch-contract-'));
        if (backend === 'postgres') {
          db = await createTestDatabase();
          ctx.location.databaseUrl = db.url;
        }
        ctx.stores = await openStores(ctx.location);
      });
      after(async () => {
        for (const s of others) await s.close().catch(() => undefined);
        await ctx.stores?.close().catch(() => undefined);
        if (failed) {
          console.error(`kept the data of the failed block: ${ctx.location.databaseUrl ?? ctx.location.dataDir}`);
          return;
        }
        rmSync(ctx.location.dataDir, { recursive: true, force: true });
        await db?.drop();
      });
      body(ctx);
    });
  }
}
