import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ArchivedWal } from '../../electron/engine/format/wal-names';
import { WalSpool } from '../../electron/engine/pitr/wal-spool';

const SEGMENT = 16 * 2 ** 20;
const MIB = 2 ** 20;

function segments(n: number): ArchivedWal[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `0000000100000000000000${i.toString(16).toUpperCase().padStart(2, '0')}`,
    kind: 'segment' as const,
    timeline: 1,
    sha256: '',
    encodings: [],
    path: `wal/${i}`,
    bytes: SEGMENT,
    mtimeMs: 0,
  }));
}

describe('the WAL spool holds one segment in memory', () => {
  it('fetching 10 segments back to back: the buffers of earlier segments are collected before each read', async () => {
    const needed = segments(10);
    const spool = new WalSpool(null);
    let peak = 0;
    // As wal-archive.ts reads one: the stored bytes, the decoded pieces and the joined plaintext (~3 segments of buffers).
    const read = async (_w: ArchivedWal): Promise<Buffer> => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      const stored = Buffer.alloc(SEGMENT / 2, 1);
      const pieces: Buffer[] = [];
      for (let k = 0; k < 16; k++) {
        pieces.push(Buffer.alloc(MIB, stored[k]! + k));
        await new Promise((r) => setImmediate(r));
      }
      const plain = Buffer.concat(pieces);
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      return plain;
    };
    const base = process.memoryUsage().arrayBuffers;
    try {
      spool.start(needed, read, { signal: new AbortController().signal, progress: () => undefined });
      spool.extracted();
      await spool.finished();
      expect(spool.failure()).toBeNull();
      for (const w of needed) expect(statSync(join(spool.dir, w.name)).size).toBe(SEGMENT);
      expect(readFileSync(join(spool.dir, '.expected'), 'utf8').split('\n')).toHaveLength(11);
      // One segment's read in flight at most (16 + 8 + 16 MiB) above where it started; without the
      // collection V8 let ~64 MiB more of dead buffers pile up before collecting them (~100 MiB here).
      expect((peak - base) / MIB).toBeLessThan(48);
    } finally {
      await spool.close();
    }
    expect(existsSync(spool.dir)).toBe(false);
  }, 30_000);
});
