import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { SCAN_PHASES, scanMedium } from '../../electron/engine/catalog/scan';
import { listSets } from '../../electron/engine/catalog/queries';
import { canonicalBytes } from '../../electron/engine/format/canonical-json';
import { newMediumInfo } from '../../electron/engine/format/medium';
import { FolderMedium } from '../../electron/engine/storage/folder-medium';
import { tempDir } from '../helpers/temp';

const ctx = {
  step: () => undefined,
  progress: () => undefined,
  log: () => undefined,
  signal: new AbortController().signal,
};
const H = 'b'.repeat(64);

function writeSet(root: string, id: string): void {
  const d = join(root, 'sets/db', id);
  mkdirSync(d, { recursive: true });
  writeFileSync(
    join(d, 'manifest.json'),
    canonicalBytes({
      format: 'lifeboat-set/1',
      set_id: id,
      system: 'db',
      kind: 'pg-logical',
      tier: null,
      created_at: '2026-01-01T00:00:00.000Z',
      started_at: '2026-01-01T00:00:00.000Z',
      finished_at: '2026-01-01T00:00:00.000Z',
      parent: null,
      lifeboat_version: 't',
      host: 'h',
      source: {},
      warnings: [],
      artifacts: [
        {
          path: 'db.dump.zst',
          role: 'pg-dump',
          bytes: 1,
          sha256: H,
          encodings: ['zstd'],
          plain_bytes: 1,
          plain_sha256: H,
          recipients: [],
        },
      ],
    }),
  );
}

/** A real folder medium whose drive is pulled (the folder deleted) right after its listing. */
class PulledDuringScan extends FolderMedium {
  override async listSetFolders(): ReturnType<FolderMedium['listSetFolders']> {
    const listed = await super.listSetFolders();
    rmSync(this.location, { recursive: true, force: true });
    return listed;
  }
}

describe('a medium removed during a scan', () => {
  it('fails the scan in the phase that checks the medium, and keeps the catalog as it was', async () => {
    const dir = tempDir();
    try {
      const root = join(dir.path, 'usb');
      const medium = new FolderMedium(root);
      await medium.writeInfo(newMediumInfo('usb'));
      writeSet(root, '20260101T000000Z-pg-logical');
      const catalog = Catalog.open(join(dir.path, 'catalog.sqlite'));
      // Each phase is reported as the job's step when it starts.
      const steps: string[] = [];
      const recording = { ...ctx, step: (s: string) => void steps.push(s) };
      await scanMedium(catalog, medium, recording);
      expect(listSets(catalog)).toHaveLength(1);
      // No restic repository here: its phase is skipped.
      expect(steps).toEqual(SCAN_PHASES.filter((p) => p !== 'indexing restic snapshots'));
      steps.length = 0;
      writeSet(root, '20260102T000000Z-pg-logical');
      await expect(scanMedium(catalog, new PulledDuringScan(root), recording)).rejects.toMatchObject({
        code: 'STORAGE_UNREACHABLE',
        message: expect.stringMatching(/went away during the scan/),
      });
      expect(steps).toEqual(SCAN_PHASES.slice(0, SCAN_PHASES.indexOf('checking the medium is still there') + 1));
      const sets = listSets(catalog);
      expect(sets).toHaveLength(1);
      expect(sets[0]!.missingFrom).toBe(0);
      catalog.close();
    } finally {
      dir.cleanup();
    }
  });
});
