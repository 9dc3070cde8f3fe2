import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { findFiles, globToRegExp, listSystems } from '../../electron/engine/catalog/queries';
import { parseSettings } from '../../electron/engine/settings/settings';
import { recordFileIndex } from '../../electron/engine/catalog/sets';
import type { FileEntry } from '../../electron/engine/format/file-index';
import { tempDir } from '../helpers/temp';

let dir: ReturnType<typeof tempDir>;
let catalog: Catalog;
const entry = (path: string, type: FileEntry['type'] = 'file', size = 10): FileEntry => ({
  path,
  type,
  size,
  mtime_ms: 0,
  mode: 0o644,
  sha256: null,
  target: null,
  in: 'x',
});

beforeAll(() => {
  dir = tempDir();
  catalog = Catalog.open(join(dir.path, 'c.sqlite'));
  const addSet = (key: string, createdAt: string, entries: FileEntry[]): void => {
    catalog.db
      .prepare("INSERT INTO sets (key, set_id, system, kind, created_at) VALUES (?, ?, ?, 'files', ?)")
      .run(key, key.split('/')[1], key.split('/')[0], createdAt);
    recordFileIndex(catalog, key, entries);
  };
  addSet('site/old', '2026-01-01T00:00:00.000Z', [
    entry('site', 'dir'),
    entry('site/invoices/inv-001.pdf', 'file', 5),
    entry('site/readme.txt'),
  ]);
  addSet('site/new', '2026-02-01T00:00:00.000Z', [
    entry('site', 'dir'),
    entry('site/invoices/inv-001.pdf', 'file', 7),
    entry('site/invoices/inv-002.pdf'),
    entry('site/a[1].txt'),
    entry('site/équipe/résumé-é.odt', 'file', 3),
  ]);
  addSet('other/one', '2026-03-01T00:00:00.000Z', [entry('etc/app.conf')]);
});
afterAll(() => {
  catalog.close();
  dir.cleanup();
});

describe('find', () => {
  it('matches globs across sets, newest set first, with sizes from the index', () => {
    const hits = findFiles(catalog, '*/invoices/*.pdf');
    expect(hits.map((h) => [h.setKey, h.path, h.size])).toEqual([
      ['site/new', 'site/invoices/inv-001.pdf', 7],
      ['site/new', 'site/invoices/inv-002.pdf', 10],
      ['site/old', 'site/invoices/inv-001.pdf', 5],
    ]);
  });

  it('treats a bare name as "anywhere in the tree", ? as one character, and [..] as a class', () => {
    expect(findFiles(catalog, 'readme.txt').map((h) => h.path)).toEqual(['site/readme.txt']);
    expect(findFiles(catalog, '*inv-00?.pdf').length).toBe(3);
    expect(findFiles(catalog, '*inv-00[2-9].pdf').map((h) => h.path)).toEqual(['site/invoices/inv-002.pdf']);
    expect(findFiles(catalog, '*a[[]1].txt').map((h) => h.path)).toEqual(['site/a[1].txt']);
  });

  it('filters by system, never lists directories, and stops at the limit', () => {
    expect(findFiles(catalog, '*', 'other').map((h) => h.path)).toEqual(['etc/app.conf']);
    expect(findFiles(catalog, 'site')).toEqual([]);
    expect(findFiles(catalog, '*', undefined, 2)).toHaveLength(2);
  });

  it('finds paths with non-ASCII names, matched on their bytes and returned whole', () => {
    expect(findFiles(catalog, '*/résumé-*.odt').map((h) => [h.path, h.size])).toEqual([
      ['site/équipe/résumé-é.odt', 3],
    ]);
    expect(findFiles(catalog, 'site/équipe/*').map((h) => h.path)).toEqual(['site/équipe/résumé-é.odt']);
    expect(findFiles(catalog, '*é.odt').map((h) => h.path)).toEqual(['site/équipe/résumé-é.odt']);
  });

  it('converts globs like SQLite does', () => {
    expect(globToRegExp('a*b?c').test('a/x/bzc')).toBe(true);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
    expect(globToRegExp('(x)+').test('(x)+')).toBe(true);
  });
});

describe('systems', () => {
  it('judges the newest verified set against the RPO of the tier from settings', () => {
    const now = new Date('2026-02-01T01:00:00.000Z');
    catalog.db
      .prepare(
        "INSERT INTO verifications (set_key, medium_id, level, verdict, started_at, duration_ms) VALUES ('site/new', 'm', 'integrity', 'ok', '2026-02-01T00:30:00.000Z', 1)",
      )
      .run();
    const settings = parseSettings({ systems: { site: { tier: 'critical' } } });
    const site = listSystems(catalog, settings, now).find((s) => s.system === 'site')!;
    expect(site).toMatchObject({ tier: 'critical', rpoMinutes: 5, ageMinutes: 60, status: 'late' });
    expect(site.reason).toMatch(/over the 5 min RPO/);
    const relaxed = listSystems(catalog, parseSettings({ systems: { site: { tier: 'standard' } } }), now).find(
      (s) => s.system === 'site',
    )!;
    expect(relaxed.status).toBe('ok');
    expect(listSystems(catalog, parseSettings({}), now).find((s) => s.system === 'other')!.status).toBe('unverified');
  });
});
