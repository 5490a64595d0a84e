/**
 * Bounds on what one client, and all clients together, can make the server hold: header bytes, body bytes, how long
 * a request may take to arrive, open connections per address, and requests being worked on at once. Each bound has a
 * clear AWS answer (431/413/408 from the error edge; 429 ThrottlingException past the connections of one address;
 * 503 past the server's in-flight work), and the SDKs retry 429 and 503 by themselves.
 */
import type { Server } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../core/errors.js';
import { protocolOf, sendAwsError } from './error-edge.js';

export interface EdgeLimits {
  /** Request line plus headers (Node's maxHeaderSize). */
  maxHeaderBytes: number;
  /** Request body. */
  maxBodyBytes: number;
  /** Time for a whole request (headers and body) to arrive. */
  requestTimeoutMs: number;
  /** Open connections from one address; requests on connections past this get 429 and the connection is closed. */
  maxConnectionsPerClient: number;
  /** Requests being worked on at once, all clients together; past this 503 ServerException. */
  maxInFlight: number;
}

export const DEFAULT_EDGE_LIMITS: EdgeLimits = {
  maxHeaderBytes: 16 * 1024,
  maxBodyBytes: 1024 * 1024,
  requestTimeoutMs: 60_000,
  // A site's users share a few login nodes: the bound is per address, so it is generous.
  maxConnectionsPerClient: 1024,
  maxInFlight: 4096,
};

/** Read from OPENBATCH_MAX_* variables (for admins and tests); unset ones keep their defaults. */
export function edgeLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): EdgeLimits {
  const n = (name: string, fallback: number): number => {
    const v = Number(env[name]);
    return env[name] && Number.isFinite(v) && v > 0 ? v : fallback;
  };
  const d = DEFAULT_EDGE_LIMITS;
  return {
    maxHeaderBytes: n('OPENBATCH_MAX_HEADER_BYTES', d.maxHeaderBytes),
    maxBodyBytes: n('OPENBATCH_MAX_BODY_BYTES', d.maxBodyBytes),
    requestTimeoutMs: n('OPENBATCH_REQUEST_TIMEOUT_MS', d.requestTimeoutMs),
    maxConnectionsPerClient: n('OPENBATCH_MAX_CONNECTIONS_PER_CLIENT', d.maxConnectionsPerClient),
    maxInFlight: n('OPENBATCH_MAX_IN_FLIGHT', d.maxInFlight),
  };
}

/** Installs the per-address connection count and the in-flight bound on a fastify app. */
export function enforceEdgeLimits(app: FastifyInstance, limits: EdgeLimits): void {
  const connections = new Map<string, number>();
  const server = app.server as Server;
  // TLS: the plain 'connection' fires for the TCP socket before the handshake, which is what holds resources.
  server.on('connection', (socket) => {
    const address = socket.remoteAddress ?? '';
    const n = (connections.get(address) ?? 0) + 1;
    connections.set(address, n);
    socket.once('close', () => {
      const left = (connections.get(address) ?? 1) - 1;
      if (left <= 0) connections.delete(address);
      else connections.set(address, left);
    });
    // Far past the bound, stop spending even a response on it.
    if (n > 2 * limits.maxConnectionsPerClient) socket.destroy();
  });

  let inFlight = 0;
  app.addHook('onRequest', async (req, reply) => {
    const protocol = protocolOf(req.url, req.headers);
    if ((connections.get(req.socket.remoteAddress ?? '') ?? 0) > limits.maxConnectionsPerClient) {
      reply.header('connection', 'close');
      sendAwsError(
        reply,
        new ApiError(
          'ThrottlingException',
          429,
          `Rate exceeded: more than ${limits.maxConnectionsPerClient} open connections from ${req.ip}; reuse connections (keep-alive) or open fewer at once`,
        ),
        protocol,
      );
      return reply;
    }
    if (inFlight >= limits.maxInFlight) {
      sendAwsError(
        reply,
        new ApiError(
          'ServerException',
          503,
          `the server is busy (${limits.maxInFlight} requests in progress); nothing was changed by this request, retry shortly`,
        ),
        protocol,
      );
      return reply;
    }
    inFlight++;
    reply.raw.once('close', () => inFlight--);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limits.maxBodyBytes) {
      // Answer at once, and read and drop the body meanwhile: closing a socket with unread bytes makes TCP send a reset,
      // and the client would lose the 413 along with the rest of its upload. Bodies far past the bound are not read.
      if (declared <= DRAIN_FACTOR * limits.maxBodyBytes) req.raw.resume();
      else reply.header('connection', 'close');
      sendAwsError(
        reply,
        new ApiError(
          'RequestEntityTooLargeException',
          413,
          `the request body is ${declared} bytes, more than the ${limits.maxBodyBytes} bytes the server accepts; AWS Batch and CloudWatch Logs requests are at most a few hundred KiB`,
        ),
        protocol,
      );
      return reply;
    }
    return undefined;
  });
}

/** How many times the body bound a declared body may be and still be read (and dropped) so its 413 arrives. */
const DRAIN_FACTOR = 16;
