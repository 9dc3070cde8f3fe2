import type * as nodeFs from 'node:fs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { tempDir } from '../helpers/temp';

// A drive formatted vfat or exFAT (what most USB drives at a DR site are) ignores case: the kernel
// may name an opened file in another case than the path asked for. The folder medium's check of
// the opened path (/proc/self/fd, folder-medium.ts readNoLinks) then falls back to the lstat of
// every part: no link on the way, the same file. No vfat module here, so the kernel's answer is
// played by a stub of readlink on /proc/self/fd; a link on the way is still refused.
const fsState = vi.hoisted(() => ({ upper: false }));
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof nodeFs>();
  const readlinkSync = ((p: string, ...rest: unknown[]) => {
    const out = (real.readlinkSync as (...a: unknown[]) => string)(p, ...rest);
    return fsState.upper && String(p).startsWith('/proc/self/fd/') ? out.toUpperCase() : out;
  }) as typeof real.readlinkSync;
  return { ...real, default: { ...real, readlinkSync }, readlinkSync };
});
const { FolderMedium } = await import('../../electron/engine/storage/folder-medium');

describe.runIf(process.platform === 'linux')('a folder medium on a file system that ignores case', () => {
  it('reads a file the kernel names in another case, and still refuses a link on the way', async () => {
    const dir = tempDir();
    try {
      const root = join(dir.path, 'medium');
      mkdirSync(join(root, 'sets', 'db', 'a'), { recursive: true });
      writeFileSync(join(root, 'sets', 'db', 'a', 'manifest.json'), '{"mine":true}');
      const m = new FolderMedium(root);
      fsState.upper = true;
      expect((await m.readFile('sets/db/a/manifest.json')).toString()).toBe('{"mine":true}');
      // A real mismatch (the opened file is elsewhere) still fails: a link in the path, part by part.
      const { symlinkSync } = await import('node:fs');
      mkdirSync(join(dir.path, 'outside', 'b'), { recursive: true });
      writeFileSync(join(dir.path, 'outside', 'b', 'manifest.json'), '{"elsewhere":true}');
      symlinkSync(join(dir.path, 'outside', 'b'), join(root, 'sets', 'db', 'b'));
      await expect(m.readFile('sets/db/b/manifest.json')).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    } finally {
      fsState.upper = false;
      dir.cleanup();
    }
  }, 10_000);
});
