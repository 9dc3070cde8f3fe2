import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { readKnownMedia, rememberMedium } from '../../electron/engine/catalog/known-media';
import {
  adoptPathMedium,
  checkFolderLocation,
  forgetMediaKnowledge,
  mediaInside,
  removeMedium,
} from '../../electron/engine/catalog/media-admin';
import { LifeboatError } from '../../electron/engine/errors';
import { tempDir } from '../helpers/temp';

const dir = tempDir();
afterAll(() => dir.cleanup());

function codeOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LifeboatError);
    return { code: (e as LifeboatError).code, message: (e as LifeboatError).message };
  }
  throw new Error('no error');
}

describe('checkFolderLocation', () => {
  it('refuses relative paths, files, paths through a file and absent folders in plain words', () => {
    const file = join(dir.path, 'backup.tar');
    writeFileSync(file, 'x');
    expect(codeOf(() => checkFolderLocation('media/usb-1'))).toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining('give an absolute path'),
    });
    expect(codeOf(() => checkFolderLocation('./usb'))).toMatchObject({ code: 'BAD_INPUT' });
    expect(codeOf(() => checkFolderLocation(file))).toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining('is a file'),
    });
    expect(codeOf(() => checkFolderLocation(join(file, 'sets')))).toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining('a part of that path is a file'),
    });
    expect(codeOf(() => checkFolderLocation(join(dir.path, 'nowhere')))).toMatchObject({ code: 'NOT_FOUND' });
    expect(checkFolderLocation(` ${dir.path}/ `)).toBe(dir.path);
  });
});

describe('mediaInside', () => {
  it('finds the media one level down in a folder that is not one, and none in a medium', () => {
    const mount = join(dir.path, 'mount');
    for (const m of ['usb-1', 'usb-2']) {
      mkdirSync(join(mount, m), { recursive: true });
      writeFileSync(join(mount, m, 'lifeboat-medium.json'), '{}');
    }
    mkdirSync(join(mount, 'lost+found'));
    expect(mediaInside(mount)).toEqual([join(mount, 'usb-1'), join(mount, 'usb-2')]);
    expect(mediaInside(join(mount, 'usb-1'))).toEqual([]);
    expect(mediaInside(join(mount, 'lost+found'))).toEqual([]);
  });
  it('finds media deeper down (a demo folder holding media/usb-1), without looking inside a medium', () => {
    const demo = join(dir.path, 'demo');
    mkdirSync(join(demo, 'media', 'usb-1', 'sets'), { recursive: true });
    writeFileSync(join(demo, 'media', 'usb-1', 'lifeboat-medium.json'), '{}');
    // A medium copied inside another medium's folder is that medium's business, not a second one found here.
    mkdirSync(join(demo, 'media', 'usb-1', 'old', 'usb-0'), { recursive: true });
    writeFileSync(join(demo, 'media', 'usb-1', 'old', 'usb-0', 'lifeboat-medium.json'), '{}');
    mkdirSync(join(demo, 'keys'));
    writeFileSync(join(demo, 'keys', 'laptop.age'), 'AGE-SECRET-KEY-1X');
    mkdirSync(join(demo, 'a', 'b', 'c', 'too-deep'), { recursive: true });
    writeFileSync(join(demo, 'a', 'b', 'c', 'too-deep', 'lifeboat-medium.json'), '{}');
    expect(mediaInside(demo)).toEqual([join(demo, 'media', 'usb-1')]);
  });
});

describe('removeMedium and the in-app rebuild', () => {
  it('removes a medium and the sets only it held from the catalog, never a file; the ledger stays', () => {
    const home = join(dir.path, 'home');
    mkdirSync(home);
    const usb = join(dir.path, 'usb');
    mkdirSync(join(usb, 'sets'), { recursive: true });
    writeFileSync(join(usb, 'lifeboat-medium.json'), '{}');
    const before = readdirSync(usb).sort();
    const catalog = Catalog.open(join(home, 'catalog.sqlite'));
    try {
      const now = '2026-12-01T00:00:00.000Z';
      catalog.db.exec(
        `INSERT INTO media (id, kind, label, location, first_seen) VALUES ('a', 'folder', 'usb-1', '${usb}', '${now}'), ('b', 'folder', 'nas', '/nas', '${now}')`,
      );
      catalog.db.exec(
        `INSERT INTO sets (key, set_id, system, kind, created_at) VALUES ('s/1', '1', 's', 'files', '${now}'), ('s/2', '2', 's', 'files', '${now}')`,
      );
      catalog.db.exec(
        `INSERT INTO presence (set_key, medium_id, set_path, first_seen, last_seen) VALUES ('s/1', 'a', 'sets/s/1', '${now}', '${now}'), ('s/2', 'a', 'sets/s/2', '${now}', '${now}'), ('s/2', 'b', 'sets/s/2', '${now}', '${now}')`,
      );
      catalog.db.exec(
        `INSERT INTO verifications (set_key, medium_id, level, verdict, started_at, duration_ms) VALUES ('s/1', 'a', 'integrity', 'ok', '${now}', 1)`,
      );
      rememberMedium(home, usb);
      rememberMedium(home, '/nas');
      expect(removeMedium(catalog, home, 'a')).toEqual({ id: 'a', label: 'usb-1', location: usb, setsForgotten: 1 });
      expect(catalog.db.prepare('SELECT key FROM sets').pluck().all()).toEqual(['s/2']);
      expect(catalog.db.prepare('SELECT count(*) FROM verifications').pluck().get()).toBe(1);
      expect(readKnownMedia(home)).toEqual(['/nas']);
      expect(readdirSync(usb).sort()).toEqual(before);
      expect(readFileSync(join(usb, 'lifeboat-medium.json'), 'utf8')).toBe('{}');
      expect(() => removeMedium(catalog, home, 'a')).toThrow(/knows no medium a/);

      const { copy } = forgetMediaKnowledge(catalog, join(home, 'catalog.sqlite'));
      expect(existsSync(copy)).toBe(true);
      expect(catalog.db.prepare('SELECT count(*) FROM media').pluck().get()).toBe(0);
      expect(catalog.db.prepare('SELECT count(*) FROM presence').pluck().get()).toBe(0);
      expect(catalog.db.prepare('SELECT count(*) FROM verifications').pluck().get()).toBe(1);
    } finally {
      catalog.close();
    }
  });
});

describe('adoptPathMedium', () => {
  it('moves what the catalog knew of a folder by its path to the id it was just initialised with', () => {
    const catalog = Catalog.open(join(dir.path, 'adopt.sqlite'));
    try {
      const now = '2026-12-01T00:00:00.000Z';
      catalog.db.exec(
        `INSERT INTO media (id, kind, location, first_seen, last_sync) VALUES ('path:/srv/old', 'folder', '/srv/old', '${now}', '${now}')`,
      );
      catalog.db.exec(
        `INSERT INTO sets (key, set_id, system, kind, created_at) VALUES ('s/1', '1', 's', 'files', '${now}')`,
      );
      catalog.db.exec(
        `INSERT INTO presence (set_key, medium_id, set_path, first_seen, last_seen) VALUES ('s/1', 'path:/srv/old', 'sets/s/1', '${now}', '${now}')`,
      );
      catalog.db.exec(
        `INSERT INTO verifications (set_key, medium_id, level, verdict, started_at, duration_ms) VALUES ('s/1', 'path:/srv/old', 'integrity', 'ok', '${now}', 1)`,
      );
      expect(adoptPathMedium(catalog, '/srv/old', { id: '01NEWID', label: 'usb-9' })).toBe(true);
      expect(catalog.db.prepare('SELECT id, label, location, last_sync FROM media').all()).toEqual([
        { id: '01NEWID', label: 'usb-9', location: '/srv/old', last_sync: now },
      ]);
      expect(catalog.db.prepare('SELECT medium_id FROM presence').pluck().all()).toEqual(['01NEWID']);
      expect(catalog.db.prepare('SELECT medium_id FROM verifications').pluck().all()).toEqual(['01NEWID']);
      expect(adoptPathMedium(catalog, '/srv/other', { id: 'X', label: 'x' })).toBe(false);
    } finally {
      catalog.close();
    }
  });
});
