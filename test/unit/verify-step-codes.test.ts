import { openSync, readSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { writeSet } from '../../electron/engine/backup/set-writer';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { recordMedium, recordSet } from '../../electron/engine/catalog/sets';
import { generateSigningKey, signingKeyId } from '../../electron/engine/crypto/signing';
import { mapError } from '../../electron/engine/errors';
import { newMediumInfo } from '../../electron/engine/format/medium';
import { verifySetAction } from '../../electron/engine/runbooks/actions/verify-set';
import type { ActionContext } from '../../electron/engine/runbooks/actions/types';
import { defaultSettings } from '../../electron/engine/settings/settings';
import { FolderMedium } from '../../electron/engine/storage/folder-medium';
import { openMedium } from '../../electron/engine/storage/open-medium';
import { filesPlan } from '../helpers/set-plan';
import { tempDir } from '../helpers/temp';

const quiet = { signal: new AbortController().signal, step: () => undefined, log: () => undefined };

describe("a runbook's verify step names the verdict's own error code", () => {
  it('a set signed by a key that is not pinned is UNTRUSTED_SIGNER (pin it, or pick another set); a flipped byte is CHECKSUM_MISMATCH', async () => {
    const dir = tempDir();
    const catalog = Catalog.open(join(dir.path, 'catalog.sqlite'));
    try {
      const medium = new FolderMedium(join(dir.path, 'usb'));
      const info = newMediumInfo('usb');
      await medium.writeInfo(info);
      // Signed by a key this machine never pinned.
      const signer = generateSigningKey();
      const set = await writeSet({ ...filesPlan([medium], 'docs'), signingKey: signer.key }, quiet, async (add) => {
        await add({ name: 'files.tar', role: 'other', source: Readable.from([Buffer.alloc(50_000, 7)]) });
        return { source: {}, warnings: [] };
      });
      const mediumId = recordMedium(catalog, medium, info);
      const key = recordSet(
        catalog,
        mediumId,
        set.setPath,
        set.manifest,
        set.manifestBytes,
        await medium.stat(`${set.setPath}/manifest.json`),
        signingKeyId(signer.key.publicKey),
        new Date(),
      );
      // What verify.set reads of a step's context.
      const deps = { catalog, settings: defaultSettings(), dataDir: dir.path, identities: [], openMedium };
      const ctx = { deps, signal: new AbortController().signal, progress: () => undefined, log: () => undefined };
      const step = (level: 'authenticity' | 'integrity') =>
        verifySetAction.run(verifySetAction.params.parse({ set: key, level }), ctx as unknown as ActionContext).then(
          () => null,
          (e: unknown) => mapError(e),
        );

      const unpinned = await step('authenticity');
      expect(unpinned).toMatchObject({
        code: 'UNTRUSTED_SIGNER',
        message: expect.stringMatching(/failed verification at authenticity level: signed by a key that is not pinned/),
        hint: expect.stringMatching(/lifeboat keys trust/),
      });

      // Below authenticity the signer is not asked about; a flipped stored byte is a checksum mismatch.
      const path = join(dir.path, 'usb', set.setPath, set.manifest.artifacts[0]!.path);
      const fd = openSync(path, 'r+');
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, 100);
      b[0] = b[0]! ^ 0xff;
      writeSync(fd, b, 0, 1, 100);
      closeSync(fd);
      expect(await step('integrity')).toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    } finally {
      catalog.close();
      dir.cleanup();
    }
  });
});
