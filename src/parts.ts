/** The optional parts plugged into the server (logs, container runtime, users, dashboard). */
import type { ServerParts } from './server.js';
import { BATCH_LOG_GROUP, logsApi } from './api/logs/operations.js';
import type { DashboardLogReader } from './api/web/dashboard.js';
import { LogCapture } from './service/log-capture.js';

export const serverParts: ServerParts = {
  logs: (cfg, _store, store) => {
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
      ingested: () => sink.ingested,
      // The log store itself is closed by the server with the other stores.
      async close() {
        await sink.shutdown();
      },
    };
  },
};
