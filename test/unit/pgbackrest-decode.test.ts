import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { compress } from 'zstd-napi';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeLoop, decodeWhole, type Encoding } from '../../electron/engine/foreign/pgbackrest/decode';
import { openMedium } from '../../electron/engine/storage/open-medium';
import { tempDir } from '../helpers/temp';

/** The restore's fast paths (restore/pgbackrest.ts): whole-buffer decoding and the reused-buffer loop, each bounded by the manifest's size. */

const dir = tempDir();
afterAll(() => dir.cleanup());
// Compressible and large enough for several 1 MiB reads and 4 MiB zstd steps.
const plain = Buffer.concat(
  Array.from({ length: 48 }, (_, i) => Buffer.concat([randomBytes(4096), Buffer.alloc(200_000, i)])),
);
const sha1 = (b: Buffer): string => createHash('sha1').update(b).digest('hex');
const zst = (enc: Partial<Encoding> = {}): Encoding => ({ compressType: 'zst', raw: false, cipherPass: null, ...enc });

/** pgBackRest's cipher: OpenSSL enc, aes-256-cbc, EVP_BytesToKey with SHA-1. */
function encrypt(data: Buffer, pass: string): Buffer {
  const r = spawnSync('openssl', ['enc', '-aes-256-cbc', '-md', 'sha1', '-salt', '-pass', `pass:${pass}`], {
    input: data,
  });
  expect(r.status).toBe(0);
  return r.stdout;
}

async function loop(stored: Buffer, enc: Encoding, limit: number): Promise<{ n: number; sha: string }> {
  writeFileSync(join(dir.path, 'f'), stored);
  const medium = await openMedium(dir.path);
  const hash = createHash('sha1');
  let n = 0;
  const handled = await decodeLoop(medium, 'f', 0, null, enc, 'f', limit, (b) => {
    n += b.length;
    hash.update(b);
  });
  expect(handled).toBe(true);
  return { n, sha: hash.digest('hex') };
}

describe('decodeWhole', () => {
  it('decodes zst, gz and encrypted zst to the plain bytes; a byte past the limit or a cut frame fails', () => {
    expect(sha1(decodeWhole(zst(), compress(plain), 'f', plain.length)!)).toBe(sha1(plain));
    expect(sha1(decodeWhole(zst({ compressType: 'gz' }), gzipSync(plain), 'f', plain.length)!)).toBe(sha1(plain));
    const enc = encrypt(compress(plain), 'p');
    expect(sha1(decodeWhole(zst({ cipherPass: 'p' }), enc, 'f', plain.length)!)).toBe(sha1(plain));
    expect(() => decodeWhole(zst(), compress(plain), 'f', plain.length - 1)).toThrow(/decodes to more than/);
    expect(() => decodeWhole(zst({ compressType: 'gz' }), gzipSync(plain), 'f', 10)).toThrow(/decodes to more than/);
    const cut = compress(plain);
    expect(() => decodeWhole(zst(), cut.subarray(0, cut.length - 9), 'f', plain.length)).toThrow(/zstd/);
    expect(() => decodeWhole(zst({ cipherPass: 'wrong' }), enc, 'f', plain.length)).toThrow(/passphrase|decrypt/);
    expect(decodeWhole(zst({ compressType: 'bz2' }), Buffer.alloc(1), 'f', 1)).toBeNull();
  });
});

describe('decodeLoop', () => {
  it('gives the plain bytes of zst, encrypted zst and uncompressed files; a byte past the limit, a cut frame and a wrong passphrase fail', async () => {
    expect(await loop(compress(plain), zst(), plain.length)).toEqual({ n: plain.length, sha: sha1(plain) });
    const enc = encrypt(compress(plain), 'p');
    expect(await loop(enc, zst({ cipherPass: 'p' }), plain.length)).toEqual({ n: plain.length, sha: sha1(plain) });
    expect(await loop(plain, zst({ compressType: 'none' }), plain.length)).toEqual({
      n: plain.length,
      sha: sha1(plain),
    });
    await expect(loop(compress(plain), zst(), plain.length - 1)).rejects.toThrow(/decodes to more than/);
    const cut = compress(plain);
    await expect(loop(cut.subarray(0, cut.length - 9), zst(), plain.length)).rejects.toThrow(
      /ends inside a frame|zstd/,
    );
    await expect(loop(enc, zst({ cipherPass: 'wrong' }), plain.length)).rejects.toThrow(/passphrase|decrypt|zstd/);
    // Not a zst/plain file: left to the streaming stages.
    const medium = await openMedium(dir.path);
    expect(await decodeLoop(medium, 'f', 0, null, zst({ compressType: 'gz' }), 'f', 1, () => undefined)).toBe(false);
  });

  it('an asynchronous callback is awaited before its buffer is reused (zst and uncompressed)', async () => {
    const medium = await openMedium(dir.path);
    for (const [file, enc] of [
      [compress(plain), zst()],
      [plain, zst({ compressType: 'none' })],
    ] as const) {
      writeFileSync(join(dir.path, 'f'), file);
      const hash = createHash('sha1');
      let n = 0;
      // Hashed only after a turn of the event loop: were the next read or decode let into the buffer
      // meanwhile, the bytes hashed would not be the file's.
      const handled = await decodeLoop(medium, 'f', 0, null, enc, 'f', plain.length, async (b) => {
        await new Promise((r) => setImmediate(r));
        n += b.length;
        hash.update(b);
      });
      expect(handled).toBe(true);
      expect({ n, sha: hash.digest('hex') }).toEqual({ n: plain.length, sha: sha1(plain) });
    }
  });

  it('a frame whose last step fills the output buffer exactly (a 16 MiB WAL segment streamed by zstd) ends cleanly', async () => {
    // zstd's CLI (as pgBackRest) writes a streamed frame; 16 MiB of output is four full 4 MiB steps, and the
    // call after the frame's end answers the next frame's header size, never "inside a frame".
    const wal = Buffer.alloc(16 << 20);
    wal.write('not only zeros', 8192);
    const streamed = spawnSync('zstd', ['-3', '-c'], { input: wal, maxBuffer: 1 << 26 });
    expect(streamed.status).toBe(0);
    expect(await loop(streamed.stdout, zst(), wal.length)).toEqual({ n: wal.length, sha: sha1(wal) });
    expect(await loop(encrypt(streamed.stdout, 'p'), zst({ cipherPass: 'p' }), wal.length)).toEqual({
      n: wal.length,
      sha: sha1(wal),
    });
    // A compressed size that is a multiple of the cipher's 16-byte block: its last block is all padding, and
    // the decipher's final() gives nothing after a frame that already ended.
    let padded = wal;
    let frame = streamed.stdout;
    // Each random byte appended adds about one compressed byte: within 64 of them the size meets a multiple of 16.
    for (let k = 1; k <= 64 && frame.length % 16 !== 0; k++) {
      padded = Buffer.concat([wal, randomBytes(k)]);
      frame = spawnSync('zstd', ['-3', '-c'], { input: padded, maxBuffer: 1 << 26 }).stdout;
    }
    expect(frame.length % 16).toBe(0);
    expect(await loop(encrypt(frame, 'p'), zst({ cipherPass: 'p' }), padded.length)).toEqual({
      n: padded.length,
      sha: sha1(padded),
    });
  });
});
