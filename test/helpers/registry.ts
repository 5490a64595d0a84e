/**
 * A tiny private registry for tests (no registry is reachable from these machines): the Docker Registry HTTP API v2
 * read side (`/v2/`, manifests, blobs; GET and HEAD) with HTTP Basic auth, serving one image exported with `docker
 * save` (the OCI layout of Docker 25+, or the older manifest.json format, turned into a schema 2 manifest). It listens on 127.0.0.1, which the Docker engine treats as an
 * insecure registry (plain HTTP) without configuration. Every request is recorded with how it authenticated.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type Docker from 'dockerode';

export interface TestRegistry {
  /** `127.0.0.1:PORT`, the registry part of image references. */
  host: string;
  /** The image reference the engine pulls: `127.0.0.1:PORT/<name>:<tag>`. */
  image: string;
  requests: { method: string; path: string; auth: 'ok' | 'wrong' | 'none' }[];
  close(): Promise<void>;
}

const MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
]);

/**
 * The image manifest (Docker schema 2) of a `docker save` archive in the format engines before Docker 25 write
 * (manifest.json, `<id>.json` config, `<id>/layer.tar` layers): the config and gzipped layers become blobs.
 */
function legacyManifest(dir: string): { digest: string; type: string } {
  const [saved] = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    Config: string;
    Layers: string[];
  }[];
  if (!saved) throw new Error('docker save wrote an empty manifest.json');
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (data: Buffer) => {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    writeFileSync(join(dir, 'blobs', ...digest.split(':')), data);
    return { digest, size: data.length };
  };
  const type = 'application/vnd.docker.distribution.manifest.v2+json';
  const manifest = {
    schemaVersion: 2,
    mediaType: type,
    config: {
      mediaType: 'application/vnd.docker.container.image.v1+json',
      ...put(readFileSync(join(dir, saved.Config))),
    },
    layers: saved.Layers.map((l) => ({
      mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
      ...put(gzipSync(readFileSync(join(dir, l)))),
    })),
  };
  return { digest: put(Buffer.from(JSON.stringify(manifest))).digest, type };
}

/** Exports `image` from the engine (`docker save`) into a directory and returns its OCI layout's image manifest. */
async function exportImage(docker: Docker, image: string): Promise<{ dir: string; digest: string; type: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ob-registry-'));
  const tarFile = join(dir, 'image.tar');
  const stream = await docker.getImage(image).get();
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  writeFileSync(tarFile, Buffer.concat(chunks));
  const x = spawnSync('tar', ['-C', dir, '-xf', tarFile], { encoding: 'utf8' });
  if (x.status !== 0) throw new Error(`tar -x of the saved image failed: ${x.stderr}`);
  rmSync(tarFile);
  if (!existsSync(join(dir, 'index.json'))) return { dir, ...legacyManifest(dir) };
  const blob = (digest: string) => join(dir, 'blobs', ...digest.split(':'));
  let entry = (JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: any[] }).manifests[0];
  // An index (multi-platform) names the image manifests: take the first.
  while (entry && !MANIFEST_TYPES.has(entry.mediaType))
    entry = (JSON.parse(readFileSync(blob(entry.digest), 'utf8')) as { manifests: any[] }).manifests[0];
  if (!entry) throw new Error(`no image manifest in the saved layout of ${image}`);
  return { dir, digest: entry.digest as string, type: entry.mediaType as string };
}

/** Serves `image` (already on the engine) as `<name>:<tag>` behind Basic auth `username:password`. */
export async function startTestRegistry(
  docker: Docker,
  image: string,
  opts: { name: string; tag: string; username: string; password: string },
): Promise<TestRegistry> {
  const { dir, digest, type } = await exportImage(docker, image);
  const expected = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
  const requests: TestRegistry['requests'] = [];
  const send = (res: ServerResponse, status: number, headers: Record<string, string | number>, body?: string) => {
    res.writeHead(status, { 'Docker-Distribution-API-Version': 'registry/2.0', ...headers });
    res.end(body);
  };
  const error = (res: ServerResponse, status: number, code: string, message: string) =>
    send(
      res,
      status,
      { 'Content-Type': 'application/json' },
      JSON.stringify({ errors: [{ code, message, detail: null }] }),
    );
  const serveFile = (req: IncomingMessage, res: ServerResponse, file: string, contentType: string, dgst: string) => {
    const size = statSync(file).size;
    res.writeHead(200, {
      'Docker-Distribution-API-Version': 'registry/2.0',
      'Content-Type': contentType,
      'Content-Length': size,
      'Docker-Content-Digest': dgst,
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const given = req.headers.authorization;
    const auth = given === undefined ? 'none' : given === expected ? 'ok' : 'wrong';
    requests.push({ method: req.method ?? '', path, auth });
    if (!path.startsWith('/v2/')) return error(res, 404, 'NOT_FOUND', 'not a registry API path');
    if (auth !== 'ok') {
      res.setHeader('WWW-Authenticate', 'Basic realm="openbatch-test-registry"');
      return error(res, 401, 'UNAUTHORIZED', 'authentication required');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return error(res, 405, 'UNSUPPORTED', 'this registry is read-only');
    if (path === '/v2/') return send(res, 200, { 'Content-Type': 'application/json' }, '{}');
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    if (!m || m[1] !== opts.name) return error(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
    const [, , kind, ref] = m as unknown as [string, string, string, string];
    if (kind === 'manifests') {
      if (ref !== opts.tag && ref !== digest) return error(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
      return serveFile(req, res, join(dir, 'blobs', ...digest.split(':')), type, digest);
    }
    const file = join(dir, 'blobs', ...ref.split(':'));
    if (!/^sha256:[0-9a-f]{64}$/.test(ref) || !existsSync(file))
      return error(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
    return serveFile(req, res, file, 'application/octet-stream', ref);
  });
  // The engine tries HTTPS first on an insecure registry: that handshake is not HTTP and just ends here.
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as { port: number }).port;
  const host = `127.0.0.1:${port}`;
  return {
    host,
    image: `${host}/${opts.name}:${opts.tag}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise((res) => server.close(res));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
