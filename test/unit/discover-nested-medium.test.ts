import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { discover } from '../../electron/engine/foreign/discover';
import { seedDetector } from '../../electron/engine/foreign/seed';
import { FolderMedium } from '../../electron/engine/storage/folder-medium';
import { tempDir } from '../helpers/temp';

const dir = tempDir();
afterAll(() => dir.cleanup());

/**
 * Review R2 of issue 21: `lifeboat scan` of a demo's folder (media/usb-1 two levels down) listed every encrypted
 * artifact of that Lifeboat medium as "a backup in a format Lifeboat does not read". The nested medium is one finding
 * that names it; its files are left to its own scan.
 */
describe('discover in a folder holding a Lifeboat medium', { timeout: 20_000 }, () => {
  it('names the nested medium once and reads none of its files as foreign backups', async () => {
    const top = join(dir.path, 'demo');
    const usb = join(top, 'media', 'usb-1');
    mkdirSync(join(usb, 'sets', 'shop-db', '20261202T091157Z-pg-logical'), { recursive: true });
    writeFileSync(join(usb, 'lifeboat-medium.json'), '{}');
    writeFileSync(join(usb, 'sets', 'shop-db', '20261202T091157Z-pg-logical', 'db.dump.zst.age'), 'age-encrypted');
    mkdirSync(join(top, 'dumps'));
    writeFileSync(join(top, 'dumps', 'shop_20261201_0200.sql.gz'), Buffer.from([0x1f, 0x8b, 8, 0]));
    const found = await discover(new FolderMedium(top), [seedDetector], {
      log: () => undefined,
      signal: new AbortController().signal,
      secrets: { passphrase: async () => null },
      timeZone: 'UTC',
    } as unknown as Parameters<typeof discover>[2]);
    const paths = found.findings.map((f) => f.path);
    expect(paths).toContain('media/usb-1');
    expect(paths.filter((p) => p.startsWith('media/usb-1/'))).toEqual([]);
    expect(found.findings.find((f) => f.path === 'media/usb-1')?.what).toContain(
      'is a Lifeboat medium inside this folder',
    );
  });
});
