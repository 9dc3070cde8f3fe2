import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'node:fs/promises';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { fsyncFolder, writeFileAtomic, writeFileAtomicSync } from '../../electron/engine/fs/atomic-write';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-atomic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the one durable atomic write (fs/atomic-write.ts)', () => {
  for (const [name, write] of [
    ['async', writeFileAtomic],
    ['sync', async (p: string, d: string | Uint8Array, o?: { mode?: number }) => writeFileAtomicSync(p, d, o)],
  ] as const) {
    it(`${name}: creates, then replaces a file whole, with the given mode (0600 unless told), leaving no temporary file`, async () => {
      const sub = join(dir, name);
      mkdirSync(sub);
      const path = join(sub, 'settings.json');
      await write(path, 'first\n');
      expect(readFileSync(path, 'utf8')).toBe('first\n');
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const big = Buffer.alloc(3 * 1024 * 1024 + 5, 'x');
      await write(path, big, { mode: 0o640 });
      expect(readFileSync(path).equals(big)).toBe(true);
      expect(statSync(path).mode & 0o777).toBe(0o640);
      expect(readdirSync(sub)).toEqual(['settings.json']);
    });

    it(`${name}: a failed replacement keeps the old content and removes its temporary file`, async () => {
      const sub = join(dir, `${name}-fail`);
      mkdirSync(join(sub, 'taken'), { recursive: true });
      writeFileSync(join(sub, 'taken', 'inside'), 'keep');
      // A folder cannot be replaced by a file: the rename fails after the temporary file was written.
      const err = await write(join(sub, 'taken'), 'new').catch((e: unknown) => e);
      expect((err as NodeJS.ErrnoException).code).toMatch(/EISDIR|ENOTEMPTY|EEXIST|EPERM/);
      expect(readdirSync(sub)).toEqual(['taken']);
      expect(readFileSync(join(sub, 'taken', 'inside'), 'utf8')).toBe('keep');
      const missing = await write(join(sub, 'no-such-folder', 'f'), 'x').catch((e: unknown) => e);
      expect((missing as NodeJS.ErrnoException).code).toBe('ENOENT');
    });
  }

  describe('durable: false (the PITR spool: scratch WAL removed when replay ends)', () => {
    afterEach(() => vi.restoreAllMocks());

    it('replaces a file whole and atomically, without the fsyncs the durable write makes', async () => {
      const sub = join(dir, 'scratch');
      mkdirSync(sub);
      const probe = await open(join(sub, 'probe'), 'w');
      const handleSync = vi.spyOn(Object.getPrototypeOf(probe) as { sync: () => Promise<void> }, 'sync');
      await probe.close();
      const path = join(sub, '000000010000000000000003');
      await writeFileAtomic(path, Buffer.alloc(64 * 1024, 1));
      // The durable write: the file, then its folder.
      expect(handleSync).toHaveBeenCalledTimes(2);
      handleSync.mockClear();
      const segment = Buffer.alloc(1024 * 1024, 7);
      await writeFileAtomic(path, segment, { durable: false, mode: 0o600 });
      expect(handleSync).not.toHaveBeenCalled();
      expect(readFileSync(path).equals(segment)).toBe(true);
      expect(readdirSync(sub).sort()).toEqual(['000000010000000000000003', 'probe']);
    });
  });

  it('fsyncs a folder, and reports one that does not exist', async () => {
    await expect(fsyncFolder(dir)).resolves.toBeUndefined();
    await expect(fsyncFolder(join(dir, 'absent'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
