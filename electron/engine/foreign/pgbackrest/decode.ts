import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { createGunzip, createInflateRaw } from 'node:zlib';
import { decompressFrameSync } from 'lz4-napi';
import { openSslDecipher } from '../../crypto/openssl-enc';
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

/** The bytes [offset, offset + length) of a repository file: a ranged read on folders, a skip on other media. */
export async function openRange(
  medium: Medium,
  path: string,
  offset: number,
  length: number | null,
): Promise<Readable> {
  const local = medium.localPath(path);
  if (local)
    return createReadStream(local, { start: offset, ...(length === null ? {} : { end: offset + length - 1 }) });
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
