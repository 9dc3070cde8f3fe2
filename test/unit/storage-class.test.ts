import { describe, expect, it } from 'vitest';
import { archiveOf, archivedError } from '../../electron/engine/storage/s3-medium';
import { assertStorageClass, STORAGE_CLASSES } from '../../electron/engine/storage/storage-class';

describe('S3 storage classes and the archived state', { timeout: 10_000 }, () => {
  it('reads only GLACIER and DEEP_ARCHIVE (and Intelligent-Tiering archive tiers) as archived', () => {
    for (const c of ['STANDARD', 'STANDARD_IA', 'ONEZONE_IA', 'GLACIER_IR', 'INTELLIGENT_TIERING', undefined])
      expect(archiveOf({ StorageClass: c }), String(c)).toBeUndefined();
    expect(archiveOf({ StorageClass: 'GLACIER' })).toEqual({ state: 'archived', storageClass: 'GLACIER', until: null });
    expect(archiveOf({ StorageClass: 'INTELLIGENT_TIERING', ArchiveStatus: 'DEEP_ARCHIVE_ACCESS' })).toMatchObject({
      state: 'archived',
      storageClass: 'INTELLIGENT_TIERING (DEEP_ARCHIVE_ACCESS)',
    });
  });

  it('follows x-amz-restore: a restore running, then a readable copy until its expiry', () => {
    expect(archiveOf({ StorageClass: 'DEEP_ARCHIVE', Restore: 'ongoing-request="true"' })?.state).toBe('restoring');
    expect(
      archiveOf({
        StorageClass: 'GLACIER',
        Restore: 'ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"',
      }),
    ).toEqual({ state: 'restored', storageClass: 'GLACIER', until: '2012-12-21T00:00:00.000Z' });
  });

  it('names the state and what to do, never a corruption; refuses a class S3 has not', () => {
    const e = archivedError('sets/a/b/stream.zst.age');
    expect(e.code).toBe('PRECONDITION_FAILED');
    expect(e.message).toMatch(/^archived: request a restore first/);
    expect(e.hint).toMatch(/lifeboat medium restore-request/);
    for (const c of STORAGE_CLASSES) expect(() => assertStorageClass(c)).not.toThrow();
    expect(() => assertStorageClass('glacier')).toThrow(/not an S3 storage class/);
  });
});
