import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { writeSet } from '../../electron/engine/backup/set-writer';
import { LifeboatError } from '../../electron/engine/errors';
import { newMediumInfo } from '../../electron/engine/format/medium';
import { FolderMedium } from '../../electron/engine/storage/folder-medium';
import { makeFolders, removeEmptyFolders } from '../../electron/engine/storage/make-folders';
import { filesPlan } from '../helpers/set-plan';
import { tempDir } from '../helpers/temp';

const ctx = { signal: new AbortController().signal, step: () => undefined, log: () => undefined };

/** A backup whose source fails after its first bytes went to the medium. */
async function failingBackup(media: FolderMedium[], system: string): Promise<unknown> {
  return writeSet(filesPlan(media, system), ctx, async (add) => {
    await add({ name: 'part.tar', role: 'other', source: Readable.from([Buffer.alloc(10_000, 1)]) });
    throw new LifeboatError('TOOL_FAILED', 'pg_dump exited with status 1.');
  }).then(
    () => null,
    (e: unknown) => e,
  );
}

/** A folder medium `<temp>/usb`, initialised; the temp folder is removed after `fn`. */
async function withMedium(fn: (root: string, medium: FolderMedium, temp: string) => Promise<void>): Promise<void> {
  const dir = tempDir();
  try {
    const root = join(dir.path, 'usb');
    const medium = new FolderMedium(root);
    await medium.writeInfo(newMediumInfo('usb'));
    await fn(root, medium, dir.path);
  } finally {
    dir.cleanup();
  }
}

describe('a failed backup on a folder medium', () => {
  it('removes the sets/<system>/ folder it made, and keeps sets/ and other systems', { timeout: 15_000 }, () =>
    withMedium(async (root, medium) => {
      mkdirSync(join(root, 'sets', 'other'));
      const err = await failingBackup([medium], 'new-system');
      expect((err as LifeboatError).code).toBe('TOOL_FAILED');
      expect(existsSync(join(root, 'sets', 'new-system'))).toBe(false);
      expect(readdirSync(join(root, 'sets'))).toEqual(['other']);
    }),
  );

  it('never removes a system folder that already held a set, nor anything in it', { timeout: 15_000 }, () =>
    withMedium(async (root, medium) => {
      const kept = await writeSet(filesPlan([medium], 'docs'), ctx, async (add) => {
        await add({ name: 'a.tar', role: 'other', source: Readable.from([Buffer.alloc(1000, 2)]) });
        return { source: {}, warnings: [] };
      });
      // A second failure of the same system, and one on an empty folder made before this backup.
      mkdirSync(join(root, 'sets', 'empty-before'));
      expect(await failingBackup([medium], 'docs')).toBeInstanceOf(LifeboatError);
      expect(await failingBackup([medium], 'empty-before')).toBeInstanceOf(LifeboatError);
      expect(readdirSync(join(root, 'sets', 'docs'))).toEqual([kept.manifest.set_id]);
      expect(existsSync(join(root, 'sets', 'empty-before'))).toBe(true);
    }),
  );

  it('a failure on a second medium (not initialised) leaves no folder on the first', { timeout: 15_000 }, () =>
    withMedium(async (root, medium, temp) => {
      const readOnly = new FolderMedium(join(temp, 'ro'));
      await readOnly.writeInfo(newMediumInfo('ro'));
      // The second medium's system folder is a file: beginSet fails there, after the first began.
      writeFileSync(join(temp, 'ro', 'sets', 'docs'), 'not a folder');
      const err = await failingBackup([medium, readOnly], 'docs');
      expect(err).toBeInstanceOf(LifeboatError);
      expect(readdirSync(join(root, 'sets'))).toEqual([]);
    }),
  );

  it('removeEmptyFolders stops at the first folder someone else has put something in', { timeout: 5_000 }, async () => {
    const dir = tempDir();
    try {
      const created = await makeFolders(join(dir.path, 'a', 'b', 'c'));
      expect(created).toEqual([join(dir.path, 'a'), join(dir.path, 'a', 'b'), join(dir.path, 'a', 'b', 'c')]);
      // Another writer's set appears in a/b between the failure and the cleanup.
      mkdirSync(join(dir.path, 'a', 'b', 'theirs'));
      await removeEmptyFolders(created);
      expect(existsSync(join(dir.path, 'a', 'b', 'c'))).toBe(false);
      expect(existsSync(join(dir.path, 'a', 'b', 'theirs'))).toBe(true);
      expect(await makeFolders(join(dir.path, 'a', 'b'))).toEqual([]);
    } finally {
      dir.cleanup();
    }
  });
});
