import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../electron/engine/crypto/age';
import { listArchive, pushWal, withArchived, type WalReader } from '../../electron/engine/pitr/wal-archive';
import { WalSpool } from '../../electron/engine/pitr/wal-spool';
import { openMedium } from '../../electron/engine/storage/open-medium';
import { tempDir } from '../helpers/temp';

const SEGMENT = 16 * 2 ** 20;
const MIB = 2 ** 20;
const dir = tempDir();
afterAll(() => dir.cleanup());

describe('the WAL spool holds one segment in memory', () => {
  it('6 archived segments (zstd + age) fetched back to back decode into one reused buffer, proven and whole', async () => {
    const { identity } = generateIdentity();
    const src = join(dir.path, 'pg_wal');
    mkdirSync(src);
    mkdirSync(join(dir.path, 'medium'));
    const medium = await openMedium(join(dir.path, 'medium'));
    const hashes = new Map<string, string>();
    for (let i = 1; i <= 6; i++) {
      const name = `0000000100000000000000${i.toString(16).toUpperCase().padStart(2, '0')}`;
      // Half random (age and zstd do real work), half blank as a WAL segment's tail often is.
      const plain = Buffer.concat([randomBytes(SEGMENT / 2), Buffer.alloc(SEGMENT / 2, i)]);
      hashes.set(name, createHash('sha256').update(plain).digest('hex'));
      writeFileSync(join(src, name), plain);
      await pushWal(medium, 'sys', join(src, name), [identity.recipient]);
    }
    const needed = await listArchive(medium, 'sys');
    expect(needed).toHaveLength(6);
    const reader: WalReader = { system: 'sys', identities: [identity], trust: { trusted: [], allowUnsigned: true } };
    const spool = new WalSpool(null);
    let peak = 0;
    const views = new Set<ArrayBufferLike>();
    // Garbage collected before each sample (a test may; the restore no longer does): what is measured is live.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const base = process.memoryUsage().arrayBuffers;
    try {
      spool.start(
        needed,
        (w, use) =>
          withArchived(medium, reader, w, (plain) => {
            views.add(plain.buffer);
            gc();
            peak = Math.max(peak, process.memoryUsage().arrayBuffers);
            return use(plain);
          }),
        { signal: new AbortController().signal, progress: () => undefined },
      );
      spool.extracted();
      await spool.finished();
      expect(spool.failure()).toBeNull();
      for (const w of needed)
        expect(
          createHash('sha256')
            .update(readFileSync(join(spool.dir, w.name)))
            .digest('hex'),
        ).toBe(hashes.get(w.name));
      // Every segment decoded into the same buffer. Above where it started, while the spool writes
      // one: that buffer, the streams' blocks in flight and backing stores V8 frees lazily after a
      // collection (12-29 MiB seen; without the collections, dead buffers piled up to ~100 MiB).
      expect(views.size).toBe(1);
      expect((peak - base) / MIB).toBeLessThan(40);
    } finally {
      await spool.close();
    }
    expect(existsSync(spool.dir)).toBe(false);
  }, 30_000);
});
