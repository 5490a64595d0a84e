/**
 * `GET /metrics`: the Prometheus text format, for the addresses the admin allows (`--metrics-allow CIDR,...`,
 * default loopback only) or for a request SigV4-signed by an admin key from anywhere. Everyone else gets
 * 403 AccessDeniedException: the metrics name queues, compute environments and PI groups.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.js';
import type { Caller } from '../../core/caller.js';
import { sendAwsError } from '../error-edge.js';
import type { OpenbatchMetrics } from './openbatch-metrics.js';

export const DEFAULT_METRICS_ALLOW = ['127.0.0.0/8', '::1/128'];

/** Parses `10.0.0.0/8,192.168.1.7,::1/128` (or `none`) into a BlockList; throws naming the bad entry. */
export function metricsAllowList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const raw of entries) {
    const e = raw.trim();
    if (e === '' || e === 'none') continue;
    const [addr = '', bits] = e.split('/');
    const family = isIPv4(addr) ? 'ipv4' : isIPv6(addr) ? 'ipv6' : undefined;
    const max = family === 'ipv4' ? 32 : 128;
    const prefix = bits === undefined ? max : Number(bits);
    if (!family || !Number.isInteger(prefix) || prefix < 0 || prefix > max)
      throw new Error(
        `--metrics-allow: ${JSON.stringify(e)} is not an address or CIDR block; give e.g. 10.0.0.0/8,192.168.1.7,::1/128 (or none)`,
      );
    list.addSubnet(addr, prefix, family);
  }
  return list;
}

/** Whether `ip` (as Node reports the peer, IPv4-mapped IPv6 included) is in the list. */
export function addressAllowed(list: BlockList, ip: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return list.check(mapped[1]!, 'ipv4') || list.check(ip, 'ipv6');
  return isIPv4(ip) ? list.check(ip, 'ipv4') : isIPv6(ip) ? list.check(ip, 'ipv6') : false;
}

export function metricsPlugin(metrics: OpenbatchMetrics, allow: BlockList) {
  return (app: FastifyInstance, verify: (req: FastifyRequest, service: string) => Promise<Caller>): void => {
    app.get('/metrics', async (req, reply) => {
      try {
        if (!addressAllowed(allow, req.ip)) {
          if (!req.headers.authorization)
            throw new ApiError(
              'AccessDeniedException',
              403,
              `metrics are not served to ${req.ip}: add its network to --metrics-allow (OPENBATCH_METRICS_ALLOW) or sign the request with an admin's key`,
            );
          const caller = await verify(req, 'batch');
          if (!caller.admin)
            throw new ApiError(
              'AccessDeniedException',
              403,
              `metrics are served to admins only; ${caller.user} is not one`,
            );
        }
        const text = await metrics.registry.metrics();
        return reply.code(200).header('content-type', metrics.registry.contentType).send(text);
      } catch (err) {
        return sendAwsError(reply, err, 'rest-json');
      }
    });
  };
}
