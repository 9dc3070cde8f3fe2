import { createDecipheriv, createHash, pbkdf2Sync, type Decipher } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { LifeboatError } from '../errors';

/**
 * OpenSSL's `enc` file format, read: `Salted__` + 8-byte salt + AES-256-CBC ciphertext (PKCS#7
 * padding). What `openssl enc -aes-256-cbc [-pbkdf2] [-md …]` writes, what the seed scripts' `--encrypt`
 * writes, and what pgBackRest writes for every file of an encrypted repository (EVP_BytesToKey with
 * SHA-1, one round). The key derivation is not recorded in the file, so the caller names it.
 */

export const OPENSSL_SALTED_MAGIC = Buffer.from('Salted__', 'latin1');
const SALT_LEN = 8;
const KEY_LEN = 32;
const IV_LEN = 16;

export type OpenSslKdf =
  /** The legacy derivation (`openssl enc -md <digest>` without -pbkdf2; pgBackRest: sha1). One round. */
  | { kind: 'evp'; digest: 'md5' | 'sha1' | 'sha256' }
  /** `openssl enc -pbkdf2 [-iter N] [-md <digest>]`: OpenSSL's defaults are sha256 and 10000 iterations. */
  | { kind: 'pbkdf2'; digest: 'sha1' | 'sha256' | 'sha512'; iterations: number };

export interface OpenSslDecipherOptions {
  passphrase: string | Buffer;
  kdf: OpenSslKdf;
  /** pgBackRest's "raw" mode (no `Salted__`, the salt alone first). Off for every file `openssl enc` writes. */
  raw?: boolean;
  /** Named in errors (a path, a set): never the passphrase. */
  what?: string;
}

/** OpenSSL's EVP_BytesToKey with count 1: D_i = H(D_{i-1} || pass || salt), concatenated until key + IV are filled. */
export function evpBytesToKey(digest: string, pass: Buffer, salt: Buffer): { key: Buffer; iv: Buffer } {
  const parts: Buffer[] = [];
  let have = 0;
  let prev = Buffer.alloc(0);
  while (have < KEY_LEN + IV_LEN) {
    prev = createHash(digest).update(prev).update(pass).update(salt).digest();
    parts.push(prev);
    have += prev.length;
  }
  const all = Buffer.concat(parts);
  return { key: all.subarray(0, KEY_LEN), iv: all.subarray(KEY_LEN, KEY_LEN + IV_LEN) };
}

export function deriveOpenSslKey(kdf: OpenSslKdf, pass: Buffer, salt: Buffer): { key: Buffer; iv: Buffer } {
  if (kdf.kind === 'evp') return evpBytesToKey(kdf.digest, pass, salt);
  if (!Number.isInteger(kdf.iterations) || kdf.iterations < 1) {
    throw new LifeboatError('BAD_INPUT', `PBKDF2 iterations must be a positive integer (got ${kdf.iterations})`);
  }
  const all = pbkdf2Sync(pass, salt, kdf.iterations, KEY_LEN + IV_LEN, kdf.digest);
  return { key: all.subarray(0, KEY_LEN), iv: all.subarray(KEY_LEN) };
}

/** True when `head` starts like a file `openssl enc` salted (cheap sniffing for detectors). */
export function looksOpenSslSalted(head: Buffer): boolean {
  return (
    head.length >= OPENSSL_SALTED_MAGIC.length &&
    head.subarray(0, OPENSSL_SALTED_MAGIC.length).equals(OPENSSL_SALTED_MAGIC)
  );
}

function decryptionFailed(what: string, detail: string, cause?: unknown): LifeboatError {
  return new LifeboatError('DECRYPTION_FAILED', `${what}: ${detail}`, {
    hint: 'Check the passphrase (and, for openssl enc files, whether -pbkdf2 was used); a damaged file fails the same way.',
    cause,
  });
}

/**
 * A streaming Transform: OpenSSL-enc ciphertext in, plaintext out. The header is consumed first; the
 * rest streams through node:crypto, so memory stays at one chunk whatever the file size. A wrong
 * passphrase (or a damaged last block) surfaces at the end as DECRYPTION_FAILED ("bad decrypt").
 */
export function openSslDecipher(options: OpenSslDecipherOptions): Transform {
  const what = options.what ?? 'encrypted file';
  const pass = typeof options.passphrase === 'string' ? Buffer.from(options.passphrase, 'utf8') : options.passphrase;
  const headerLen = options.raw === true ? SALT_LEN : OPENSSL_SALTED_MAGIC.length + SALT_LEN;
  let header: Buffer = Buffer.alloc(0);
  let decipher: Decipher | null = null;

  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
      try {
        let data = chunk;
        if (decipher === null) {
          header = Buffer.concat([header, data]);
          if (header.length < headerLen) return cb();
          if (options.raw !== true && !looksOpenSslSalted(header)) {
            return cb(decryptionFailed(what, 'not in OpenSSL enc format (no "Salted__" header)'));
          }
          const salt = header.subarray(headerLen - SALT_LEN, headerLen);
          const { key, iv } = deriveOpenSslKey(options.kdf, pass, salt);
          decipher = createDecipheriv('aes-256-cbc', key, iv);
          data = header.subarray(headerLen);
          header = Buffer.alloc(0);
        }
        if (data.length > 0) this.push(decipher.update(data));
        cb();
      } catch (e) {
        cb(e instanceof LifeboatError ? e : decryptionFailed(what, 'cannot be decrypted', e));
      }
    },
    flush(cb: TransformCallback): void {
      if (decipher === null) return cb(decryptionFailed(what, 'too short to hold an OpenSSL enc header'));
      try {
        this.push(decipher.final());
        cb();
      } catch (e) {
        cb(decryptionFailed(what, 'wrong passphrase or damaged ciphertext (bad decrypt)', e));
      }
    },
  });
}

/** The whole-buffer form, for small files (pgBackRest info files and manifests). */
export function openSslDecryptBuffer(data: Buffer, options: OpenSslDecipherOptions): Buffer {
  const what = options.what ?? 'encrypted file';
  const pass = typeof options.passphrase === 'string' ? Buffer.from(options.passphrase, 'utf8') : options.passphrase;
  const headerLen = options.raw === true ? SALT_LEN : OPENSSL_SALTED_MAGIC.length + SALT_LEN;
  if (data.length < headerLen) throw decryptionFailed(what, 'too short to hold an OpenSSL enc header');
  if (options.raw !== true && !looksOpenSslSalted(data)) {
    throw decryptionFailed(what, 'not in OpenSSL enc format (no "Salted__" header)');
  }
  const { key, iv } = deriveOpenSslKey(options.kdf, pass, data.subarray(headerLen - SALT_LEN, headerLen));
  try {
    const d = createDecipheriv('aes-256-cbc', key, iv);
    return Buffer.concat([d.update(data.subarray(headerLen)), d.final()]);
  } catch (e) {
    throw decryptionFailed(what, 'wrong passphrase or damaged ciphertext (bad decrypt)', e);
  }
}
