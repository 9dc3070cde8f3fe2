import { describe, expect, it } from 'vitest';
import { isSeedName, parseSeedName } from '../../electron/engine/foreign/seed/names';
import { systemNameFrom } from '../../electron/engine/foreign/names';
import { localToUtc } from '../../electron/engine/foreign/seed/time';
import { seedManifestHashes } from '../../electron/engine/foreign/seed/manifest';

const seed = (p: string) => {
  const n = parseSeedName(p);
  if (!isSeedName(n)) throw new Error(`not a seed name: ${p} (${JSON.stringify(n)})`);
  return n;
};

describe('seed-script names', () => {
  it('reads the name variants cron scripts write', () => {
    const cases: Array<[string, string, string, string, string]> = [
      ['db/postgres_shop_20261202_030000.sql.gz', 'pg-logical', 'sql-dump-gz', 'shop', '2026-12-02 03:00:00'],
      ['db/postgres_shop_2026-12-02_030000.sql.gz', 'pg-logical', 'sql-dump-gz', 'shop', '2026-12-02 03:00:00'],
      ['db/postgres_shop_20261202-0300.sql.gz', 'pg-logical', 'sql-dump-gz', 'shop', '2026-12-02 03:00:00'],
      ['db/postgres_shop_2026-12-02T03-00-00.sql', 'pg-logical', 'sql-dump', 'shop', '2026-12-02 03:00:00'],
      ['db/shop_2026-12-02_03:15:07.dump', 'pg-logical', 'pg-dump', 'shop', '2026-12-02 03:15:07'],
      ['x/y/postgres_my-shop_20261202_030000.sql.zst', 'pg-logical', 'sql-dump-zst', 'my-shop', '2026-12-02 03:00:00'],
      ['files/files_backup_20261202_030000.tar.gz', 'files', 'files-tar-gz', 'files', '2026-12-02 03:00:00'],
      ['uploads_20261202_0300.tgz', 'files', 'files-tar-gz', 'uploads', '2026-12-02 03:00:00'],
      ['config/config_backup_20261202_030000.tar.gz', 'config', 'config-tar-gz', 'config', '2026-12-02 03:00:00'],
      ['pg_globals_20261202_030000.sql.gz', 'config', 'pg-globals-sql-gz', 'postgres', '2026-12-02 03:00:00'],
      ['logical/shop/backup_20261202_030000.sql', 'pg-logical', 'sql-dump', 'shop', '2026-12-02 03:00:00'],
      ['postgres_shop_2026-12-02.sql.gz', 'pg-logical', 'sql-dump-gz', 'shop', '2026-12-02 00:00:00'],
    ];
    for (const [path, kind, role, system, local] of cases) {
      const n = seed(path);
      const s = n.stamp;
      const text = `${s.year}-${String(s.month).padStart(2, '0')}-${String(s.day).padStart(2, '0')} ${[s.hour, s.minute, s.second].map((x) => String(x).padStart(2, '0')).join(':')}`;
      expect([path, n.kind, n.role, n.system, text]).toEqual([path, kind, role, system, local]);
    }
    expect(seed('postgres_shop_20261202_030000.sql.gz.enc')).toMatchObject({
      encrypted: true,
      role: 'sql-dump-gz',
      inner: 'gzip',
    });
  }, 10_000);

  it('says what it cannot place, and ignores what is no backup', () => {
    expect(parseSeedName('stray.sql.gz')).toMatchObject({ what: expect.stringMatching(/carries no date/) });
    expect(parseSeedName('postgres_shop_20261302_030000.sql.gz')).toMatchObject({
      what: expect.stringMatching(/no date/),
    });
    // An encrypted file of no seed kind is discovery's to name from its header (foreign-discover.test.ts), not a seed name's.
    expect(parseSeedName('secret.bin.enc')).toBeNull();
    expect(parseSeedName('notes.txt')).toBeNull();
  }, 10_000);

  it('reads local times in the given zone, across daylight-saving changes', () => {
    const at = (y: number, mo: number, d: number, h: number, mi: number, zone: string) =>
      localToUtc({ year: y, month: mo, day: d, hour: h, minute: mi, second: 0 }, zone).toISOString();
    expect(at(2026, 12, 2, 3, 0, 'Europe/Berlin')).toBe('2026-12-02T02:00:00.000Z');
    expect(at(2026, 7, 2, 3, 0, 'Europe/Berlin')).toBe('2026-07-02T01:00:00.000Z');
    expect(at(2026, 12, 2, 3, 0, 'America/New_York')).toBe('2026-12-02T08:00:00.000Z');
    expect(at(2026, 12, 2, 3, 0, 'UTC')).toBe('2026-12-02T03:00:00.000Z');
    // 02:30 on the spring-forward night does not exist in Berlin; 02:30 in autumn exists twice (the first is taken).
    expect(at(2026, 3, 29, 2, 30, 'Europe/Berlin')).toBe('2026-03-29T01:30:00.000Z');
    expect(at(2026, 10, 25, 2, 30, 'Europe/Berlin')).toBe('2026-10-25T00:30:00.000Z');
  }, 10_000);

  it('takes hashes from the shapes seed manifests write', () => {
    const h = 'a'.repeat(64);
    const m = seedManifestHashes(
      Buffer.from(
        JSON.stringify({
          type: 'all',
          files: [{ file: 'database/x.sql.gz', sha256: h }],
          checksums: { 'y.tar.gz': `sha256:${'b'.repeat(64)}` },
        }),
      ),
    );
    expect(m.byName.get('x.sql.gz')).toBe(h);
    expect(m.byName.get('database/x.sql.gz')).toBe(h);
    expect(m.byName.get('y.tar.gz')).toBe('b'.repeat(64));
    expect(seedManifestHashes(Buffer.from('{not json')).readable).toBe(false);
  }, 10_000);
});

describe('systemNameFrom (foreign/names.ts): one system name for every other tool', () => {
  it('lower-cases, folds runs of other characters to -, drops leading punctuation, keeps 63 characters', () => {
    expect(systemNameFrom('Shop DB')).toBe('shop-db');
    expect(systemNameFrom('--Main_Site.v2')).toBe('main_site.v2');
    expect(systemNameFrom('x'.repeat(80))).toHaveLength(63);
    expect(systemNameFrom('!!!')).toBe('unnamed');
    expect(systemNameFrom('--', 'restic')).toBe('restic');
  }, 10_000);
});
