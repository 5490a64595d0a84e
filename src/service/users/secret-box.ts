/**
 * Encrypts secrets at rest with AES-256-GCM under a server key kept in `<data>/server-key` (32 random bytes, mode
 * 0600). SigV4 verification needs the secret itself, so a hash cannot be stored (docs/decisions/0001-sigv4-secrets.md).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const VERSION = 'v1';

export class SecretBox {
  private constructor(
    private readonly key: Buffer,
    /** Where the key is kept, for messages. */
    readonly file: string,
  ) {}

  /** Loads `<dataDir>/server-key`, creating it on first use. */
  static open(dataDir: string): SecretBox {
    const file = join(dataDir, 'server-key');
    if (!existsSync(file)) {
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    }
    chmodSync(file, 0o600);
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32)
      throw new Error(
        `${file} is damaged: it must hold 32 base64-encoded bytes; restore it from a backup (without it, stored access keys cannot be verified)`,
      );
    return new SecretBox(key, file);
  }

  /** A key for one purpose (e.g. signing dashboard sessions), derived from the server key: same on every replica. */
  derive(purpose: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.key, Buffer.alloc(0), purpose, 32));
  }

  /** `v1:<iv>:<tag>:<ciphertext>`, all base64; `aad` binds the ciphertext to its row (e.g. the access key id). */
  seal(plain: string, aad: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(aad));
    const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return [VERSION, iv.toString('base64'), c.getAuthTag().toString('base64'), ct.toString('base64')].join(':');
  }

  open(sealed: string, aad: string): string {
    const [v, iv, tag, ct] = sealed.split(':');
    if (v !== VERSION || !iv || !tag || ct === undefined) throw new Error('sealed secret has an unknown format');
    const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    d.setAAD(Buffer.from(aad));
    d.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([d.update(Buffer.from(ct, 'base64')), d.final()]).toString('utf8');
  }
}
