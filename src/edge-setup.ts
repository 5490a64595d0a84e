/** Wires the HTTP edge's bounds and TLS from the configuration for the composition root. */
import { readFileSync } from 'node:fs';
import type { HttpOptions } from './api/http.js';
import { edgeLimitsFromEnv } from './api/edge-limits.js';
import type { ServerConfig } from './config.js';

/** Limits (OPENBATCH_MAX_* variables) and, with --tls-cert/--tls-key, the PEM files to serve HTTPS with. */
export function edgeOptions(cfg: ServerConfig): Pick<HttpOptions, 'limits' | 'tls'> {
  if (!cfg.tlsCert || !cfg.tlsKey) return { limits: edgeLimitsFromEnv() };
  const read = (flag: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`${flag} ${file}: ${(err as Error).message}; give a readable PEM file`);
    }
  };
  return {
    limits: edgeLimitsFromEnv(),
    tls: { cert: read('--tls-cert', cfg.tlsCert), key: read('--tls-key', cfg.tlsKey) },
  };
}
