/** The optional parts plugged into the server (logs, container runtime, users, dashboard). */
import { join } from 'node:path';
import type { ServerParts } from './server.js';
import { logsApi } from './api/logs/operations.js';
import { LogCapture } from './service/log-capture.js';
import { SqliteLogStore } from './store/sqlite/log-store.js';

export const serverParts: ServerParts = {
  logs: (cfg) => {
    const store = new SqliteLogStore({ file: join(cfg.dataDir, 'logs.db') });
    const sink = new LogCapture(store);
    const api = logsApi(store, {
      region: cfg.region,
      accountId: cfg.accountId,
      createdAt: Date.now(),
      retentionDays: cfg.retentionDays,
    });
    return {
      sink,
      api,
      async close() {
        await sink.shutdown();
        await store.close();
      },
    };
  },
};
