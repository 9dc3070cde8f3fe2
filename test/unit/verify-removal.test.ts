import pLimit from 'p-limit';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { writeSet } from '../../electron/engine/backup/set-writer';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { parseSettings } from '../../electron/engine/settings/settings';
import { newMediumInfo } from '../../electron/engine/format/medium';
import { FolderMedium } from '../../electron/engine/storage/folder-medium';
import { HashPool } from '../../electron/engine/verify/hash-pool';
import { planSet, verifySet, type VerifyOptions } from '../../electron/engine/verify/verify';
import { filesPlan } from '../helpers/set-plan';
import { tempDir } from '../helpers/temp';

const ctx = {
  signal: new AbortController().signal,
  step: () => undefined,
  progress: () => undefined,
  log: () => undefined,
};

describe('a medium removed during verification', () => {
  it.each([['integrity (hash workers)'], ['deep (stream)']])(
    'reports the artifacts as missing at %s, without crashing',
    async (which) => {
      const dir = tempDir();
      try {
        const root = join(dir.path, 'usb');
        const medium = new FolderMedium(root);
        await medium.writeInfo(newMediumInfo('usb'));
        const set = await writeSet(filesPlan([medium], 'docs'), ctx, async (add) => {
          await add({ name: 'files.tar', role: 'other', source: Readable.from([Buffer.alloc(100_000, 1)]) });
          return { source: {}, warnings: [] };
        });
        const catalog = Catalog.open(join(dir.path, 'catalog.sqlite'));
        const level = which.startsWith('deep') ? 'deep' : 'integrity';
        const options: VerifyOptions = {
          level,
          identities: [],
          trusted: [],
          settings: parseSettings({}),
          pgRestore: null,
        };
        const plan = await planSet(
          {
            key: `docs/${set.manifest.set_id}`,
            system: 'docs',
            setId: set.manifest.set_id,
            origin: 'lifeboat',
            kind: 'files',
            mediumId: 'm',
            medium,
            setPath: set.setPath,
            foreignArtifacts: [],
          },
          options,
        );
        expect([...plan.inventory.values()].every((v) => v.verdict === 'ok')).toBe(true);
        // The drive goes away between the inventory and the reading.
        rmSync(root, { recursive: true, force: true });
        const pool = new HashPool(1);
        const result = await verifySet(plan, options, catalog, pLimit(1), ctx, () => undefined, pool);
        await pool.close();
        expect(result.verdict).toBe('missing');
        expect(result.artifacts[0]!.detail).toMatch(/Not found|gone/);
        catalog.close();
      } finally {
        dir.cleanup();
      }
    },
  );
});
