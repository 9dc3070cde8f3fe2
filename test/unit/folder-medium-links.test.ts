import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { scanMedium } from '../../electron/engine/catalog/scan';
import { FolderMedium } from '../../electron/engine/storage/folder-medium';
import { tempDir } from '../helpers/temp';

// A folder medium reads its small files (manifests, signatures) with one open that refuses a link
// anywhere on the way (folder-medium.ts, readNoLinks): what a link points at is never read as the medium's.
let dir: ReturnType<typeof tempDir>;
let root: string;
let outside: string;
beforeEach(() => {
  dir = tempDir();
  root = join(dir.path, 'medium');
  outside = join(dir.path, 'outside');
  mkdirSync(join(root, 'sets', 'db', 'a'), { recursive: true });
  writeFileSync(join(root, 'sets', 'db', 'a', 'manifest.json'), '{"mine":true}');
  mkdirSync(join(outside, 'db', 'b'), { recursive: true });
  writeFileSync(join(outside, 'db', 'b', 'manifest.json'), '{"elsewhere":true}');
  writeFileSync(join(outside, 'secret'), 'not the medium');
});
afterEach(() => dir.cleanup());

describe('a folder medium reads no file through a link', () => {
  it('reads its own files, also when the medium folder itself is reached through a link', async () => {
    symlinkSync(root, join(dir.path, 'mounted'));
    for (const m of [new FolderMedium(root), new FolderMedium(join(dir.path, 'mounted'))]) {
      expect((await m.readFile('sets/db/a/manifest.json')).toString()).toBe('{"mine":true}');
      expect(await m.readOptional('sets/db/a/manifest.json.sig')).toBeNull();
    }
  }, 10_000);

  it('refuses a symlinked set folder, system folder, sets folder or file, naming the link', async () => {
    const m = new FolderMedium(root);
    symlinkSync(join(outside, 'db', 'b'), join(root, 'sets', 'db', 'b'));
    await expect(m.readFile('sets/db/b/manifest.json')).rejects.toMatchObject({
      code: 'UNSAFE_PATH',
      message: expect.stringMatching(/^sets\/db\/b is a symbolic link/),
    });
    symlinkSync(join(outside, 'secret'), join(root, 'sets', 'db', 'a', 'manifest.json.sig'));
    await expect(m.readOptional('sets/db/a/manifest.json.sig')).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    // A link pointing nowhere is a link all the same: refused, not read as 'no signature'.
    symlinkSync(join(outside, 'nowhere'), join(root, 'sets', 'db', 'a', 'dangling.sig'));
    await expect(m.readOptional('sets/db/a/dangling.sig')).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    symlinkSync(join(outside, 'db'), join(root, 'sets', 'other'));
    await expect(m.readFile('sets/other/b/manifest.json')).rejects.toMatchObject({
      code: 'UNSAFE_PATH',
      message: expect.stringMatching(/^sets\/other is a symbolic link/),
    });
    renameSync(join(root, 'sets'), join(dir.path, 'real-sets'));
    symlinkSync(join(dir.path, 'real-sets'), join(root, 'sets'));
    await expect(m.readFile('sets/db/a/manifest.json')).rejects.toMatchObject({
      code: 'UNSAFE_PATH',
      message: expect.stringMatching(/^sets is a symbolic link/),
    });
  }, 10_000);

  it('a scan records a symlinked set folder as unreadable and reads the others', async () => {
    const m = new FolderMedium(root);
    // A real set elsewhere, its folder linked into the medium.
    const id = '20260101T000000Z-files';
    const manifest = (setId: string): string =>
      JSON.stringify({
        format: 'lifeboat-set/1',
        set_id: setId,
        system: 'db',
        kind: 'files',
        tier: 'standard',
        created_at: '2026-01-01T00:00:00.000Z',
        started_at: '2026-01-01T00:00:00.000Z',
        finished_at: '2026-01-01T00:00:00.000Z',
        parent: null,
        lifeboat_version: 't',
        host: 'h',
        source: {},
        artifacts: [
          {
            path: 'part-0.tar.zst',
            role: 'files-tar',
            bytes: 1,
            sha256: 'a'.repeat(64),
            encodings: ['zstd'],
            plain_bytes: 1,
            plain_sha256: 'b'.repeat(64),
            recipients: [],
          },
        ],
        warnings: [],
      });
    const mine = '20260101T010000Z-files';
    mkdirSync(join(root, 'sets', 'db', mine));
    writeFileSync(join(root, 'sets', 'db', mine, 'manifest.json'), manifest(mine));
    rmSync(join(root, 'sets', 'db', 'a'), { recursive: true });
    mkdirSync(join(outside, 'db', id));
    writeFileSync(join(outside, 'db', id, 'manifest.json'), manifest(id));
    symlinkSync(join(outside, 'db', id), join(root, 'sets', 'db', id));
    const catalog = Catalog.open(join(dir.path, 'catalog.sqlite'));
    const ctx = {
      step: () => undefined,
      progress: () => undefined,
      log: () => undefined,
      signal: new AbortController().signal,
    };
    const s = await scanMedium(catalog, m, ctx);
    expect(s.unreadable, JSON.stringify(s.unreadable)).toHaveLength(1);
    expect(s.sets.total).toBe(1);
    expect(s.unreadable).toEqual([
      { path: `sets/db/${id}`, reason: expect.stringMatching(new RegExp(`sets/db/${id} is a symbolic link`)) },
    ]);
    expect(catalog.db.prepare('SELECT key FROM sets').pluck().all()).toEqual([`db/${mine}`]);
    catalog.close();
  }, 10_000);
});
