import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isPageAligned, pageAlignedMemory } from '../../electron/engine/storage/aligned-memory';
import { fileSink } from '../../electron/engine/storage/folder-medium';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Whether this file system takes O_DIRECT (ext4 does; some FUSE mounts do not). */
function directSupported(dir: string): boolean {
  if (process.platform !== 'linux') return false;
  const probe = join(dir, 'probe');
  try {
    closeSync(openSync(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT, 0o600));
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { force: true });
  }
}

async function write(path: string, chunks: Uint8Array[], direct?: boolean): Promise<number> {
  const sink = fileSink(path, { direct });
  // Failures come back through the write callbacks (as in the write path).
  sink.stream.on('error', () => undefined);
  for (const c of chunks) {
    await new Promise<void>((resolve, reject) => sink.stream.write(c, (e) => (e ? reject(e) : resolve())));
  }
  await new Promise<void>((resolve) => sink.stream.end(() => resolve()));
  await sink.done;
  return sink.directBytes();
}

describe('a file written past the page cache', () => {
  const dir = mkdtempSync(join(process.env.LIFEBOAT_TMPDIR ?? tmpdir(), 'lifeboat-sink-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Two whole aligned blocks, then an odd-sized tail; then chunks from ordinary memory.
  const ring = Buffer.from(pageAlignedMemory(4 * 1024 * 1024));
  ring.set(randomBytes(ring.length));
  const chunks = [
    ring.subarray(0, 2 * 1024 * 1024),
    ring.subarray(2 * 1024 * 1024, 3 * 1024 * 1024),
    ring.subarray(3 * 1024 * 1024, 3 * 1024 * 1024 + 12_345),
  ];
  const whole = Buffer.concat(chunks);

  it('page-aligned memory from a WebAssembly memory is recognised, other memory is not', () => {
    expect(isPageAligned(ring.subarray(0, 8192))).toBe(true);
    expect(isPageAligned(ring.subarray(16, 8192 + 16))).toBe(false);
    expect(isPageAligned(ring.subarray(0, 5000))).toBe(false);
    expect(isPageAligned(Buffer.alloc(8192))).toBe(false);
  });

  it('whole aligned blocks go with O_DIRECT where the file system takes it, the tail through the page cache; the bytes are the same', async () => {
    const path = join(dir, 'direct.bin');
    const direct = await write(path, chunks);
    expect(sha(readFileSync(path))).toBe(sha(whole));
    expect(direct).toBe(directSupported(dir) ? 3 * 1024 * 1024 : 0);
  });

  it('with O_DIRECT off, or after an unaligned chunk, everything goes through the page cache, same bytes', async () => {
    const off = join(dir, 'buffered.bin');
    expect(await write(off, chunks, false)).toBe(0);
    expect(sha(readFileSync(off))).toBe(sha(whole));

    // An odd-sized chunk first: every later offset is unaligned.
    const odd = join(dir, 'odd.bin');
    const first = Buffer.from('age-encryption.org/v1\n');
    expect(await write(odd, [first, ...chunks])).toBe(0);
    expect(sha(readFileSync(odd))).toBe(sha(Buffer.concat([first, whole])));
  });

  it('a file that exists already is never overwritten', async () => {
    const path = join(dir, 'direct.bin');
    await expect(write(path, [Buffer.from('something else')])).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect(sha(readFileSync(path))).toBe(sha(whole));
  });
});
