/**
 * The container credentials endpoint jobs reach through AWS_CONTAINER_CREDENTIALS_FULL_URI: `GET` with the attempt's
 * token in `Authorization`, answered with `{AccessKeyId, SecretAccessKey, Token, Expiration, RoleArn}` (the shape the
 * AWS SDKs' and the aws CLI's container provider read). A listener of its own, apart from the API: the SDKs accept a
 * plain-HTTP FULL_URI only on a loopback address (or ECS's 169.254.170.2), and jobs need reach nothing else.
 *
 * `?format=process` answers in the `credential_process` shape (`{Version: 1, AccessKeyId, SecretAccessKey,
 * SessionToken, Expiration}`), for Slurm nodes, whose script prints it (docs/decisions/0011). They reach the endpoint
 * over the network at the admin's `--slurm-credentials-url`, where it listens as well.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import {
  asProcessCredentials,
  CredentialsRefused,
  type AttemptCredentials,
} from '../../service/credentials/attempt-credentials.js';

export const CREDENTIALS_PATH = '/v1/credentials';
const SWEEP_MS = 60_000;

export interface CredentialsEndpoint {
  /** The URL jobs are given. */
  url: string;
  close(): Promise<void>;
}

function handler(credentials: AttemptCredentials): RequestListener {
  return (req, res) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    const [path, query = ''] = (req.url ?? '').split('?');
    if (req.method !== 'GET' || path !== CREDENTIALS_PATH)
      return send(404, { code: 'NotFound', message: `only GET ${CREDENTIALS_PATH} is served here` });
    const format = new URLSearchParams(query).get('format');
    if (format !== null && format !== 'process')
      return send(400, {
        code: 'InvalidParameterValue',
        message: `format must be "process" (the credential_process shape) or absent (the container provider's); got ${JSON.stringify(format)}`,
      });
    const auth = req.headers.authorization;
    credentials.serve(typeof auth === 'string' ? auth.trim() : undefined).then(
      (c) => send(200, format === 'process' ? asProcessCredentials(c) : c),
      (err: unknown) =>
        err instanceof CredentialsRefused
          ? send(err.status, { code: err.code, message: err.message })
          : send(500, { code: 'InternalError', message: 'the credentials endpoint failed; see the server log' }),
    );
  };
}

async function listen(server: Server, port: number, host: string, what: string): Promise<number> {
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: Error) =>
      reject(new Error(`the credentials endpoint cannot listen on ${host}:${port} (${what}): ${err.message}`)),
    );
    server.listen(port, host, () => resolve());
  });
  return (server.address() as { port: number }).port;
}

/**
 * Starts the endpoint on host:port (port 0: any free one) and tells `credentials` its URL; with `slurmUrl`
 * (`http://ADDRESS:PORT`, an address of this host that the Slurm nodes reach), listens there too and tells
 * `credentials` the `credential_process` URL.
 */
export async function startCredentialsEndpoint(
  credentials: AttemptCredentials,
  host: string,
  port: number,
  slurmUrl?: string,
): Promise<CredentialsEndpoint> {
  const servers: Server[] = [createServer(handler(credentials))];
  const bound = await listen(servers[0]!, port, host, '--credentials-host/--credentials-port');
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}${CREDENTIALS_PATH}`;
  if (slurmUrl) {
    const u = new URL(slurmUrl);
    const slurmHost = u.hostname.replace(/^\[|\]$/g, '');
    const slurmPort = Number(u.port);
    let port = slurmPort;
    // The same address and port as the loopback listener: one listener serves both.
    if (slurmHost !== host || slurmPort !== bound) {
      const s = createServer(handler(credentials));
      try {
        port = await listen(
          s,
          slurmPort,
          slurmHost,
          '--slurm-credentials-url: an address of this host the nodes reach',
        );
      } catch (err) {
        for (const open of servers) open.close();
        throw err;
      }
      servers.push(s);
    }
    credentials.processUrl = `http://${u.hostname}:${port}${CREDENTIALS_PATH}?format=process`;
  }
  credentials.url = url;
  const sweeper = setInterval(() => credentials.sweep(), SWEEP_MS);
  sweeper.unref();
  return {
    url,
    close: () => {
      clearInterval(sweeper);
      return Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      ).then(() => undefined);
    },
  };
}
