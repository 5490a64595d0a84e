/** The optional parts plugged into the server (logs, container runtime, users, dashboard). */
import type { ServerParts } from './server.js';

export const serverParts: ServerParts = {};
