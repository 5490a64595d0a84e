/**
 * Makes an image present on the engine: images already there are used as they are (no registry needed); missing
 * ones are pulled once however many attempts wait for them, with credentials from a Docker config.json when given, or
 * the job's own (`repositoryCredentials`).
 */
import type Docker from 'dockerode';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RegistryAuth } from '../../core/ports.js';
import { registryOf } from './container-config.js';

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

/** `name` -> `name:latest`, so a pull never fetches every tag of a repository. */
export function withTag(image: string): string {
  if (image.includes('@')) return image;
  const last = image.slice(image.lastIndexOf('/') + 1);
  return last.includes(':') ? image : `${image}:latest`;
}

export class ImagePuller {
  private readonly pulls = new Map<string, Promise<void>>();

  constructor(
    private readonly docker: Docker,
    private readonly authFile?: string,
  ) {}

  /**
   * Resolves once `image` is present; rejects with the registry's message when it cannot be pulled. With a job's own
   * registry credentials (`repositoryCredentials`) the image is always pulled with them, even when present: the
   * registry decides whether this job may have it, and a refusal fails the attempt rather than falling back to a copy
   * another job pulled.
   */
  async ensure(image: string, jobAuth?: RegistryAuth): Promise<void> {
    const ref = withTag(image);
    if (!jobAuth)
      try {
        await this.docker.getImage(ref).inspect();
        return;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      }
    const auth = jobAuth
      ? { username: jobAuth.username, password: jobAuth.password, serveraddress: registryOf(ref) }
      : this.credentials(registryOf(ref));
    // Waiters share a pull only when they pull with the same credentials.
    const key = jobAuth
      ? `${ref}\u0000${createHash('sha256').update(`${jobAuth.username}\u0000${jobAuth.password}`).digest('hex')}`
      : ref;
    let pull = this.pulls.get(key);
    if (!pull) {
      pull = this.pull(ref, auth).finally(() => this.pulls.delete(key));
      this.pulls.set(key, pull);
    }
    await pull;
  }

  private async pull(ref: string, auth: Docker.AuthConfig | undefined): Promise<void> {
    const stream = await this.docker.pull(ref, auth ? { authconfig: auth } : {});
    // Errors met half-way arrive as progress events, not as a failed request.
    const events = await new Promise<{ error?: string; errorDetail?: { message?: string } }[]>((res, rej) =>
      this.docker.modem.followProgress(stream, (err: Error | null, out: unknown[]) =>
        err ? rej(err) : res(out as { error?: string }[]),
      ),
    );
    const failed = events.find((e) => e.error || e.errorDetail);
    if (failed) throw new Error(failed.errorDetail?.message ?? failed.error);
  }

  private credentials(registry: string): Docker.AuthConfig | undefined {
    if (!this.authFile) return undefined;
    const cfg = JSON.parse(readFileSync(this.authFile, 'utf8')) as { auths?: Record<string, AuthEntry> };
    const hosts =
      registry === 'docker.io' ? ['docker.io', 'index.docker.io', 'https://index.docker.io/v1/'] : [registry];
    const entry = Object.entries(cfg.auths ?? {}).find(
      ([h]) => hosts.includes(h.replace(/^https?:\/\//, '').replace(/\/.*$/, '')) || hosts.includes(h),
    )?.[1];
    if (!entry) return undefined;
    let { username, password } = entry;
    if (entry.auth) {
      const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
      const i = plain.indexOf(':');
      username = plain.slice(0, i);
      password = plain.slice(i + 1);
    }
    return { username: username ?? '', password: password ?? '', serveraddress: registry };
  }
}
