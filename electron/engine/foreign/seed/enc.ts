import { createDecipheriv, type Decipher } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { deriveOpenSslKey, looksOpenSslSalted, type OpenSslKdf } from '../../crypto/openssl-enc';
import { LifeboatError } from '../../errors';
import type { InnerFormat } from './names';

/**
 * The key derivations a cron script's `openssl enc -aes-256-cbc` may have used, most likely first:
 * `-pbkdf2` (OpenSSL's defaults: SHA-256, 10,000 iterations), `-pbkdf2 -iter 100000`, and the legacy
 * EVP_BytesToKey with the digest of OpenSSL 1.1+ (sha256), of 1.0 (md5), or `-md sha1`.
 */
export const KDF_CANDIDATES: OpenSslKdf[] = [
  { kind: 'pbkdf2', digest: 'sha256', iterations: 10_000 },
  { kind: 'evp', digest: 'sha256' },
  { kind: 'evp', digest: 'md5' },
  { kind: 'pbkdf2', digest: 'sha256', iterations: 100_000 },
  { kind: 'pbkdf2', digest: 'sha512', iterations: 10_000 },
  { kind: 'evp', digest: 'sha1' },
];

export function kdfText(k: OpenSslKdf): string {
  return k.kind === 'pbkdf2'
    ? `PBKDF2-${k.digest.toUpperCase()}, ${k.iterations} iterations (openssl enc -pbkdf2)`
    : `EVP_BytesToKey with ${k.digest} (openssl enc legacy key derivation)`;
}

/** Header (16) plus the ciphertext blocks looked at to recognise the plaintext. */
export const ENC_HEAD_BYTES = 16 + 64;

/** Whether decrypted bytes start as `inner` does. */
function startsAs(plain: Buffer, inner: InnerFormat): boolean {
  switch (inner) {
    case 'gzip':
      return plain.length >= 3 && plain[0] === 0x1f && plain[1] === 0x8b && plain[2] === 0x08;
    case 'zstd':
      return plain.length >= 4 && plain.readUInt32LE(0) === 0xfd2fb528;
    case 'pgdmp':
      return plain.subarray(0, 5).toString('latin1') === 'PGDMP';
    case 'sql': {
      // pg_dump's plain output is text from its first byte ("--\n-- PostgreSQL database dump").
      const head = plain.subarray(0, 48);
      return (
        head.length > 0 && head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 0x20 && b < 0x7f) || b >= 0xc2)
      );
    }
  }
}

function keyFor(kdf: OpenSslKdf, passphrase: string, salt: Buffer): { key: Buffer; iv: Buffer } {
  return deriveOpenSslKey(kdf, Buffer.from(passphrase, 'utf8'), salt);
}

/**
 * The key derivation that turns the file's first blocks into the plaintext its name promises, or
 * null (a wrong passphrase, or a derivation not among the candidates). `head` is the file's first
 * ENC_HEAD_BYTES (or all of a shorter file).
 */
export function detectKdf(head: Buffer, passphrase: string, inner: InnerFormat): OpenSslKdf | null {
  if (!looksOpenSslSalted(head) || head.length < 32) return null;
  const salt = head.subarray(8, 16);
  const body = head.subarray(16, 16 + Math.floor((head.length - 16) / 16) * 16);
  for (const kdf of KDF_CANDIDATES) {
    const { key, iv } = keyFor(kdf, passphrase, salt);
    const d = createDecipheriv('aes-256-cbc', key, iv);
    d.setAutoPadding(false);
    if (startsAs(d.update(body), inner)) return kdf;
  }
  return null;
}

/**
 * A streaming decryption of a seed script's `.enc` file whose key derivation is recognised from its
 * first blocks (detectKdf); `onKdf` is told which. A passphrase that opens no candidate fails as
 * DECRYPTION_FAILED, naming the file, never the passphrase.
 */
export function seedDecipher(
  passphrase: string,
  inner: InnerFormat,
  what: string,
  onKdf?: (k: OpenSslKdf) => void,
): Transform {
  let head = Buffer.alloc(0);
  let decipher: Decipher | null = null;
  const fail = (detail: string, cause?: unknown): LifeboatError =>
    new LifeboatError('DECRYPTION_FAILED', `${what}: ${detail}`, {
      hint: 'Check the passphrase given for it (a damaged file fails the same way).',
      cause,
    });
  const start = (self: Transform): void => {
    const kdf = detectKdf(head, passphrase, inner);
    if (!kdf)
      throw looksOpenSslSalted(head)
        ? fail('the passphrase given does not decrypt it with any usual openssl enc key derivation')
        : fail('not in OpenSSL enc format (no "Salted__" header)');
    onKdf?.(kdf);
    const { key, iv } = keyFor(kdf, passphrase, head.subarray(8, 16));
    decipher = createDecipheriv('aes-256-cbc', key, iv);
    self.push(decipher.update(head.subarray(16)));
    head = Buffer.alloc(0);
  };
  return new Transform({
    transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
      try {
        if (decipher) return cb(null, decipher.update(chunk));
        head = Buffer.concat([head, chunk]);
        if (head.length >= ENC_HEAD_BYTES) start(this);
        cb();
      } catch (e) {
        cb(e instanceof LifeboatError ? e : fail('cannot be decrypted', e));
      }
    },
    flush(cb: TransformCallback): void {
      try {
        if (!decipher) start(this);
        cb(null, decipher!.final());
      } catch (e) {
        cb(e instanceof LifeboatError ? e : fail('wrong passphrase or damaged ciphertext (bad decrypt)', e));
      }
    },
  });
}
