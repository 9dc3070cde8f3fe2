import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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

  it('fsyncs a folder, and reports one that does not exist', async () => {
    await expect(fsyncFolder(dir)).resolves.toBeUndefined();
    await expect(fsyncFolder(join(dir, 'absent'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
