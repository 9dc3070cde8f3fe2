import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openSslDecryptBuffer } from '../../crypto/openssl-enc';
import { LifeboatError } from '../../errors';
import type { Medium } from '../../storage/medium';
import { openRange, plainStages } from './decode';
import { PGBR_KDF, type BackupManifest, type ManifestFile } from './repo';

/**
 * Block-incremental files (`repo-block=y`, pgBackRest 2.45 beta; src/command/backup/blockIncr.c,
 * blockMap.c, src/command/restore/blockDelta.c). The stored file is a run of super blocks followed by a
 * block map (the last `bim` bytes, encrypted without the `Salted__` magic when the repository is).
 * The map lists every block of the file in order: which backup (index into the manifest's
 * backup-reference), bundle and offset hold its super block, and its number in that super block.
 * A super block is chunked (varint sizes), then decrypted and decompressed (raw formats); inside,
 * each block is a varint then `blockSize` bytes (the last one of the file may be shorter).
 */

const FACTOR = 8192;
const CHECKSUM_SIZE_MIN = 6;

class Cursor {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    readonly what: string,
  ) {}
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length)
        throw new LifeboatError('FORMAT_INVALID', `${this.what}: block map ends inside a number`);
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new LifeboatError('FORMAT_INVALID', `${this.what}: a number of the block map is too long`);
  }
  skip(n: number): void {
    if (this.pos + n > this.buf.length)
      throw new LifeboatError('FORMAT_INVALID', `${this.what}: block map ends inside a checksum`);
    this.pos += n;
  }
}

const zigzag = (n: number): number => (n % 2 === 0 ? n / 2 : -(n + 1) / 2);

export interface BlockMapItem {
  reference: number;
  bundleId: number;
  offset: number;
  size: number;
  superBlockSize: number;
  block: number;
}

/** blockMapNewRead of pgBackRest 2.45, item by item. */
export function parseBlockMap(buf: Buffer, blockSize: number, checksumSize: number, what: string): BlockMapItem[] {
  const c = new Cursor(buf, what);
  if ((c.varint() & 1) !== 0) throw new LifeboatError('FORMAT_UNSUPPORTED', `${what}: block map version is not 0`);
  const refs = new Map<
    number,
    { superBlockSize: number; bundleId: number; offset: number; size: number; block: number }
  >();
  const out: BlockMapItem[] = [];
  let sizeLast = 0;
  let referenceContinue = false;
  for (;;) {
    const referenceEncoded = c.varint();
    const item: BlockMapItem = {
      reference: Math.floor(referenceEncoded / 8),
      bundleId: 0,
      offset: 0,
      size: 0,
      superBlockSize: 0,
      block: 0,
    };
    let data = refs.get(item.reference);
    if (!data) {
      if (referenceEncoded & 2) item.bundleId = c.varint();
      if (referenceEncoded & 4) item.offset = c.varint();
      item.superBlockSize = blockSize;
      data = { superBlockSize: blockSize, bundleId: item.bundleId, offset: item.offset, size: 0, block: 0 };
      refs.set(item.reference, data);
    } else {
      item.superBlockSize = data.superBlockSize;
      item.bundleId = data.bundleId;
      if (referenceEncoded & 2) {
        item.offset = data.offset;
        item.size = data.size;
        referenceContinue = true;
      } else {
        item.offset = data.offset + data.size;
        if (referenceEncoded & 4) item.offset += c.varint();
        data.offset = item.offset;
      }
    }
    let superBlockFirst = true;
    for (;;) {
      let superBlockEncoded = 0;
      if (referenceContinue) {
        if (referenceEncoded & 4) superBlockEncoded = 1;
        superBlockEncoded |= 4;
        referenceContinue = false;
      } else {
        superBlockEncoded = c.varint();
        item.size = Math.floor(superBlockEncoded / 8);
        if (sizeLast !== 0) item.size = zigzag(item.size) + sizeLast;
        if (superBlockEncoded & 2) {
          const sizeEncoded = c.varint();
          item.superBlockSize = Math.floor(sizeEncoded / 2) * blockSize;
          if (sizeEncoded & 1) item.superBlockSize += c.varint();
          data.superBlockSize = item.superBlockSize;
        }
        if (superBlockFirst) data.offset = item.offset;
        else data.offset += sizeLast;
        data.size = item.size;
        data.block = 0;
      }
      sizeLast = item.size;
      superBlockFirst = false;
      let blockTotal: number;
      if (superBlockEncoded & 4) {
        const totalEncoded = c.varint();
        blockTotal = Math.floor(totalEncoded / 2) + 1;
        if (totalEncoded & 1) data.block += c.varint();
      } else blockTotal = Math.ceil(item.superBlockSize / blockSize);
      for (let i = 0; i < blockTotal; i++) {
        c.skip(checksumSize);
        out.push({ ...item, block: data.block + i });
      }
      data.block += blockTotal;
      item.offset += item.size;
      if (superBlockEncoded & 1) break;
    }
    if (referenceEncoded & 1) break;
  }
  return out;
}

/** The chunk filter's framing: varint size (then zigzag deltas + 1), data, a terminating 0. */
function dechunk(buf: Buffer, what: string): Buffer {
  const c = new Cursor(buf, what);
  const parts: Buffer[] = [];
  let sizeLast = 0;
  for (;;) {
    const header = c.varint();
    if (header === 0) break;
    const size = sizeLast === 0 ? header : zigzag(header - 1) + sizeLast;
    if (size <= 0 || c.pos + size > buf.length)
      throw new LifeboatError('FORMAT_INVALID', `${what}: a chunk runs past its super block`);
    parts.push(buf.subarray(c.pos, c.pos + size));
    c.pos += size;
    sizeLast = size;
  }
  return Buffer.concat(parts);
}

async function readAll(src: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of src as AsyncIterable<Buffer>) parts.push(b);
  return Buffer.concat(parts);
}

export interface BlockIncrSource {
  medium: Medium;
  root: string;
  stanza: string;
  /** The manifest of the backup being read (its backup-reference list is what the map's references index). */
  manifest: BackupManifest;
  /** The manifest of the backup that stored the file (its compression and cipher-pass). */
  storedBy: BackupManifest;
  cipherPass: string | null;
  /** Where the stored file is: its own .pgbi, or a range of a bundle. */
  path: string;
  offset: number;
}

/**
 * The plain content of a block-incremental file, block by block in file order, to `emit`. One decoded
 * super block is kept at a time (a few blocks: bounded memory).
 */
export async function blockIncrContent(
  src: BlockIncrSource,
  f: ManifestFile,
  emit: (b: Buffer) => Promise<void> | void,
): Promise<void> {
  const what = `${src.path}:${f.name}`;
  if (f.repoSize === null)
    throw new LifeboatError('FORMAT_INVALID', `${what}: a block-incremental file without repo-size`);
  const blockSize = f.blockIncrSize * FACTOR;
  const checksumSize = f.blockIncrChecksumSize || CHECKSUM_SIZE_MIN;
  let map = await readAll(
    await openRange(src.medium, src.path, src.offset + f.repoSize - f.blockIncrMapSize, f.blockIncrMapSize),
  );
  if (src.cipherPass !== null)
    map = openSslDecryptBuffer(map, {
      passphrase: src.cipherPass,
      kdf: PGBR_KDF,
      raw: true,
      what: `${what} (block map)`,
    });
  const items = parseBlockMap(map, blockSize, checksumSize, what);
  const refs = src.manifest.backup['backup-reference'];
  const refList = (typeof refs === 'string' ? refs : '').split(',').filter(Boolean);
  let cacheKey = '';
  let blocks: Buffer[] = [];
  for (const item of items) {
    const label = refList[item.reference];
    if (!label)
      throw new LifeboatError(
        'FORMAT_INVALID',
        `${what}: block map refers to backup #${item.reference}, not in backup-reference`,
      );
    const key = `${item.reference}/${item.bundleId}/${item.offset}`;
    if (key !== cacheKey) {
      const dir = `${src.root}backup/${src.stanza}/${label}`;
      const path = item.bundleId > 0 ? `${dir}/bundle/${item.bundleId}` : `${dir}/${f.name}.pgbi`;
      const stored = dechunk(await readAll(await openRange(src.medium, path, item.offset, item.size)), what);
      const stages = plainStages(
        { compressType: src.storedBy.compressType, raw: true, cipherPass: src.cipherPass },
        what,
        item.superBlockSize + 16 * 1024,
      );
      const parts: Buffer[] = [];
      await pipeline([
        Readable.from([stored]),
        ...stages,
        new Writable({ write: (b: Buffer, _e, cb) => (parts.push(b), cb()) }),
      ]);
      const plain = Buffer.concat(parts);
      // Inside: per block a varint (its number, unused here) then the block; the super block's last block may be short.
      const c = new Cursor(plain, what);
      blocks = [];
      const total = Math.ceil(item.superBlockSize / blockSize);
      for (let i = 0; i < total; i++) {
        c.varint();
        const len =
          i === total - 1 && item.superBlockSize % blockSize !== 0 ? item.superBlockSize % blockSize : blockSize;
        if (c.pos + len > plain.length)
          throw new LifeboatError('FORMAT_INVALID', `${what}: a super block is shorter than its blocks`);
        blocks.push(plain.subarray(c.pos, c.pos + len));
        c.pos += len;
      }
      cacheKey = key;
    }
    const block = blocks[item.block];
    if (!block) throw new LifeboatError('FORMAT_INVALID', `${what}: block ${item.block} is not in its super block`);
    await emit(block);
  }
}
