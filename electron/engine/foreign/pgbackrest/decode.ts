import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { createGunzip, createInflateRaw, gunzipSync, inflateRawSync } from 'node:zlib';
import { decompressFrameSync } from 'lz4-napi';
import * as zstd from 'zstd-napi/binding';
import { createDecipheriv, type Decipher } from 'node:crypto';
import {
  deriveOpenSslKey,
  looksOpenSslSalted,
  OPENSSL_SALTED_MAGIC,
  openSslDecipher,
  openSslDecryptBuffer,
} from '../../crypto/openssl-enc';
import { LifeboatError } from '../../errors';
import { BoundedZstdDecompress } from '../../pipeline/zstd-decode';
import type { Medium } from '../../storage/medium';
import { PGBR_KDF, type CompressType } from './repo';

/**
 * From the bytes pgBackRest stored to the plain content: decrypt (when the backup has a cipher-pass),
 * then decompress with the backup's compress-type. `raw` is the manifest's backup-bundle-raw (block
 * incremental backups): no `Salted__` magic before the salt, and gz as a bare deflate stream.
 *
 * Memory: every stage streams except lz4, which lz4-napi only decodes as a whole frame: an lz4 file
 * is held whole (at most one relation segment, 1 GiB by default) while it is decoded.
 */

export interface Encoding {
  compressType: CompressType;
  raw: boolean;
  cipherPass: string | null;
}

/** unbzip2-stream is a classic `through` stream (no types): wrapped in a Transform so pipeline() owns its errors. */
interface ThroughStream {
  write(chunk: Buffer): boolean;
  end(): void;
  on(event: 'data', fn: (b: Buffer) => void): ThroughStream;
  on(event: 'end', fn: () => void): ThroughStream;
  on(event: 'error', fn: (e: Error) => void): ThroughStream;
}
const requireCjs = createRequire(__filename);

function bz2Decompress(what: string): Transform {
  const make = requireCjs('unbzip2-stream') as () => ThroughStream;
  const inner = make();
  let failed: Error | null = null;
  let finish: TransformCallback | null = null;
  const out = new Transform({
    transform(chunk: Buffer, _e, cb): void {
      if (failed) return cb(failed);
      inner.write(chunk);
      cb(failed);
    },
    flush(cb): void {
      if (failed) return cb(failed);
      finish = cb;
      inner.end();
    },
  });
  inner.on('data', (b) => out.push(b));
  inner.on('end', () => finish?.(failed));
  inner.on('error', (e) => {
    failed = new LifeboatError('FORMAT_INVALID', `${what}: bzip2 data is damaged (${e.message})`, { cause: e });
    if (finish) finish(failed);
    else out.destroy(failed);
  });
  return out;
}

/** lz4-napi decodes whole frames only: collect, then decode once at the end (see the note above on memory). */
function lz4Decompress(what: string, limit: number): Transform {
  const parts: Buffer[] = [];
  let have = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb): void {
      have += chunk.length;
      // A compressed frame is never much larger than its content: past that, the data is not what the manifest says.
      if (have > limit + 65_536 + limit / 64)
        return cb(new LifeboatError('FORMAT_INVALID', `${what}: lz4 data larger than its content could be`));
      parts.push(chunk);
      cb();
    },
    flush(cb): void {
      try {
        const plain = decompressFrameSync(Buffer.concat(parts));
        parts.length = 0;
        cb(null, plain);
      } catch (e) {
        cb(
          new LifeboatError(
            'FORMAT_INVALID',
            `${what}: lz4 frame is damaged (${e instanceof Error ? e.message : String(e)})`,
            { cause: e },
          ),
        );
      }
    },
  });
}

/** The stages from stored to plain bytes. `plainLimit` is the size the manifest records (a bomb stops one byte past it). */
export function plainStages(enc: Encoding, what: string, plainLimit: number): Transform[] {
  const stages: Transform[] = [];
  if (enc.cipherPass !== null)
    stages.push(openSslDecipher({ passphrase: enc.cipherPass, kdf: PGBR_KDF, raw: enc.raw, what }));
  switch (enc.compressType) {
    case 'gz':
      stages.push(enc.raw ? createInflateRaw() : createGunzip());
      break;
    case 'zst':
      stages.push(new BoundedZstdDecompress(plainLimit, what));
      break;
    case 'lz4':
      stages.push(lz4Decompress(what, plainLimit));
      break;
    case 'bz2':
      stages.push(bz2Decompress(what));
      break;
    case 'none':
      break;
  }
  return stages;
}

function tooLarge(what: string, limit: number): LifeboatError {
  return new LifeboatError(
    'CHECKSUM_MISMATCH',
    `${what} decodes to more than the ${limit} bytes its manifest records.`,
  );
}

/** zstd frames decoded into one buffer of at most `limit` bytes: a byte past it fails at once, whatever the frame claims. */
function zstdWhole(src: Buffer, limit: number, what: string): Buffer {
  const dctx = new zstd.DCtx();
  const out = Buffer.allocUnsafe(limit + 1);
  let made = 0;
  let rest = src;
  let ret = 0;
  try {
    while (rest.length > 0 || ret !== 0) {
      const [r, m, used] = dctx.decompressStream(out.subarray(made), rest);
      ret = r;
      made += m;
      rest = rest.subarray(used);
      if (made > limit) throw tooLarge(what, limit);
      // Input used up inside a frame and nothing more comes out: the frame is cut short.
      if (rest.length === 0 && ret !== 0 && m === 0) throw new Error('the data ends inside a frame');
    }
  } catch (e) {
    if (e instanceof LifeboatError) throw e;
    throw new LifeboatError(
      'CHECKSUM_MISMATCH',
      `${what} is not valid zstd data: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  return out.subarray(0, made);
}

/**
 * The whole-buffer form of plainStages, for small files (most of a data directory): no stream set up
 * per file. Bounded the same way (a byte past `plainLimit` fails). Null for bz2, which only streams.
 */
export function decodeWhole(enc: Encoding, stored: Buffer, what: string, plainLimit: number): Buffer | null {
  if (enc.compressType === 'bz2') return null;
  let data = stored;
  if (enc.cipherPass !== null)
    data = openSslDecryptBuffer(data, { passphrase: enc.cipherPass, kdf: PGBR_KDF, raw: enc.raw, what });
  try {
    switch (enc.compressType) {
      case 'gz':
        return (enc.raw ? inflateRawSync : gunzipSync)(data, { maxOutputLength: plainLimit + 1 });
      case 'zst':
        return zstdWhole(data, plainLimit, what);
      case 'lz4': {
        if (data.length > plainLimit + 65_536 + plainLimit / 64)
          throw new LifeboatError('FORMAT_INVALID', `${what}: lz4 data larger than its content could be`);
        return decompressFrameSync(data);
      }
      case 'none':
        return data;
    }
  } catch (e) {
    if (e instanceof LifeboatError) throw e;
    if ((e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(what, plainLimit);
    throw new LifeboatError(
      'CHECKSUM_MISMATCH',
      `${what}: ${enc.compressType} data is damaged (${e instanceof Error ? e.message : String(e)})`,
      { cause: e },
    );
  }
}

/** The bytes [offset, offset + length) of a repository file, whole (small files): one read on folders. */
export async function readStored(medium: Medium, path: string, offset: number, length: number | null): Promise<Buffer> {
  const local = medium.localPath(path);
  if (!local) {
    const parts: Buffer[] = [];
    for await (const b of await openRange(medium, path, offset, length)) parts.push(b as Buffer);
    return Buffer.concat(parts);
  }
  if (length === null) return offset === 0 ? readFile(local) : (await readFile(local)).subarray(offset);
  const fh = await open(local, 'r');
  try {
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/** zstd's output in 4 MiB steps, into one buffer reused for the whole file. */
const ZSTD_OUT = 4 << 20;

/**
 * The plain bytes of a stored file on a folder medium, zst or uncompressed, encrypted or not, handed to
 * `onChunk` in order — without a stream per stage: reads of 1 MiB, decryption, then zstd into one reused
 * 4 MiB buffer (so `onChunk` must use its bytes before it returns, or before the promise it returns
 * settles: an asynchronous write, off the main thread, is awaited before the buffer is reused). Memory stays at those two buffers
 * whatever the file's size; a byte past `plainLimit` fails at once. False (nothing read) when the file is
 * not on a folder or is compressed otherwise: the caller streams it through plainStages.
 */
export async function decodeLoop(
  medium: Medium,
  path: string,
  offset: number,
  length: number | null,
  enc: Encoding,
  what: string,
  plainLimit: number,
  onChunk: (plain: Buffer) => void | Promise<void>,
  signal?: AbortSignal,
): Promise<boolean> {
  const local = medium.localPath(path);
  if (!local || (enc.compressType !== 'zst' && enc.compressType !== 'none')) return false;
  const fh = await open(local, 'r');
  try {
    const inBuf = Buffer.allocUnsafe(READ_CHUNK);
    const dctx = enc.compressType === 'zst' ? new zstd.DCtx() : null;
    const out = dctx ? Buffer.allocUnsafe(ZSTD_OUT) : null;
    const headerLen = enc.raw ? 8 : OPENSSL_SALTED_MAGIC.length + 8;
    let decipher: Decipher | null = null;
    let produced = 0;
    let ret = 0;
    const emit = async (b: Buffer): Promise<void> => {
      produced += b.length;
      if (produced > plainLimit) throw tooLarge(what, plainLimit);
      await onChunk(b);
    };
    const feed = async (data: Buffer): Promise<void> => {
      if (!dctx || !out) {
        if (data.length) await emit(data);
        return;
      }
      // Nothing to give (decipher.final() of a ciphertext whose last block was all padding): a call would
      // answer the next frame's header size after a finished frame, as if the data ended inside one.
      if (data.length === 0) return;
      let rest = data;
      for (;;) {
        let r: number, m: number, used: number;
        try {
          [r, m, used] = dctx.decompressStream(out, rest);
        } catch (e) {
          throw new LifeboatError(
            'CHECKSUM_MISMATCH',
            `${what} is not valid zstd data: ${e instanceof Error ? e.message : String(e)}`,
          );
        }
        ret = r;
        rest = rest.subarray(used);
        if (m) await emit(out.subarray(0, m));
        // Done with this input once it is used up and zstd had room to spare (nothing left inside), or the
        // frame ended (0: decoded and flushed; a call after it would read the next frame's header hint).
        if (rest.length === 0 && (m < out.length || r === 0)) return;
      }
    };
    let pos = offset;
    const end = length === null ? Number.POSITIVE_INFINITY : offset + length;
    for (;;) {
      signal?.throwIfAborted();
      const want = Math.min(READ_CHUNK, end - pos);
      if (want <= 0) break;
      const { bytesRead } = await fh.read(inBuf, 0, want, pos);
      if (bytesRead === 0) break;
      let data = inBuf.subarray(0, bytesRead);
      if (enc.cipherPass !== null) {
        if (decipher === null) {
          // The header (`Salted__` and the salt, or the bare salt of a raw file) lies in the first read of 1 MiB.
          if (pos !== offset || data.length < headerLen || (!enc.raw && !looksOpenSslSalted(data)))
            throw new LifeboatError('DECRYPTION_FAILED', `${what}: not in OpenSSL enc format (no "Salted__" header)`);
          const { key, iv } = deriveOpenSslKey(
            PGBR_KDF,
            Buffer.from(enc.cipherPass, 'utf8'),
            data.subarray(headerLen - 8, headerLen),
          );
          decipher = createDecipheriv('aes-256-cbc', key, iv);
          data = data.subarray(headerLen);
        }
        data = decipher.update(data);
      }
      pos += bytesRead;
      await feed(data);
    }
    if (enc.cipherPass !== null) {
      if (decipher === null)
        throw new LifeboatError('DECRYPTION_FAILED', `${what}: too short to hold an OpenSSL enc header`);
      let last: Buffer;
      try {
        last = decipher.final();
      } catch (e) {
        throw new LifeboatError('DECRYPTION_FAILED', `${what}: wrong passphrase or damaged ciphertext (bad decrypt)`, {
          cause: e,
        });
      }
      await feed(last);
    }
    if (ret !== 0)
      throw new LifeboatError('CHECKSUM_MISMATCH', `${what} is not valid zstd data: it ends inside a frame`);
    return true;
  } finally {
    await fh.close();
  }
}

/** Read chunks of 1 MiB: a relation file of hundreds of MiB goes through decryption and zstd in fewer, larger steps. */
const READ_CHUNK = 1 << 20;

/** The bytes [offset, offset + length) of a repository file: a ranged read on folders, a skip on other media. */
export async function openRange(
  medium: Medium,
  path: string,
  offset: number,
  length: number | null,
): Promise<Readable> {
  const local = medium.localPath(path);
  if (local)
    return createReadStream(local, {
      start: offset,
      highWaterMark: READ_CHUNK,
      ...(length === null ? {} : { end: offset + length - 1 }),
    });
  const whole = await medium.openRead(path);
  if (offset === 0 && length === null) return whole;
  let pos = 0;
  const end = length === null ? Number.POSITIVE_INFINITY : offset + length;
  const slice = new PassThrough();
  const cut = new Transform({
    transform(chunk: Buffer, _e, cb): void {
      const from = Math.max(0, offset - pos);
      const to = Math.min(chunk.length, end - pos);
      pos += chunk.length;
      if (to > from) this.push(chunk.subarray(from, to));
      if (pos >= end) {
        whole.destroy();
        this.push(null);
      }
      cb();
    },
  });
  whole.on('error', (e) => slice.destroy(e));
  return whole.pipe(cut).pipe(slice);
}
