/** The optional parts plugged into the server (logs, container runtime, users, dashboard). */
import { join } from 'node:path';
import type { ServerParts } from './server.js';
import { BATCH_LOG_GROUP, logsApi } from './api/logs/operations.js';
import type { DashboardLogReader } from './api/web/dashboard.js';
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
    const admin = { user: 'root', pi: '', admin: true };
    return {
      sink,
      api,
      // The dashboard checks that the reader may see the job before it asks for the job's stream.
      reader: {
        getLogEvents: async (logStreamName, o) =>
          (await api.operations.GetLogEvents!(admin, {
            logGroupName: BATCH_LOG_GROUP,
            logStreamName,
            startFromHead: o.startFromHead ?? true,
            ...(o.nextToken ? { nextToken: o.nextToken } : {}),
            ...(o.limit ? { limit: o.limit } : {}),
          })) as Awaited<ReturnType<DashboardLogReader['getLogEvents']>>,
      },
      purge: (before) => store.purge(before),
      async close() {
        await sink.shutdown();
        await store.close();
      },
    };
  },
};
