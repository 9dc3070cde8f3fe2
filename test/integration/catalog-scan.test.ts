import {
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';

let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let laptop: NodeJS.ProcessEnv;
const FIXTURES = join(__dirname, '../fixtures');

interface Scan {
  mediumId: string;
  initialized: boolean;
  sets: { total: number; new: number; updated: number; unchanged: number; missing: number; reappeared: number };
  foreign: { seedScript: number; pgbackrest: number };
  unreadable: Array<{ path: string; reason: string }>;
  hints: string[];
}

beforeAll(() => {
  dir = tempDir();
  // The backup server and the DR laptop each have their own data dir: the laptop learns
  // everything by scanning.
  env = { LIFEBOAT_HOME: join(dir.path, 'server') };
  laptop = { LIFEBOAT_HOME: join(dir.path, 'laptop') };
  medium = join(dir.path, 'usb');
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'usb-7').status).toBe(0);
  const src = join(dir.path, 'site');
  mkdirSync(join(src, 'invoices'), { recursive: true });
  writeFileSync(join(src, 'invoices', 'inv-2026-001.pdf'), 'pdf 1');
  writeFileSync(join(src, 'invoices', 'inv-2026-002.pdf'), 'pdf 2');
  writeFileSync(join(src, 'index.html'), '<html>');
  expect(lifeboat(env, 'backup', 'files', '--system', 'site', '--path', src, '--to', medium).status).toBe(0);
  writeFileSync(join(src, 'invoices', 'inv-2026-003.pdf'), 'pdf 3');
  expect(
    lifeboat(env, 'backup', 'files', '--system', 'site', '--path', src, '--to', medium, '--incremental').status,
  ).toBe(0);
  expect(
    lifeboat(
      env,
      'backup',
      'files',
      '--class',
      'config',
      '--allow-plaintext',
      '--system',
      'app-config',
      '--path',
      join(src, 'invoices'),
      '--to',
      medium,
    ).status,
  ).toBe(0);
});
afterAll(() => dir.cleanup());

function scan(where: string, extra: NodeJS.ProcessEnv = laptop): Scan {
  const r = lifeboat(extra, 'scan', where, '--json');
  expect(r.status, r.stderr).toBe(0);
  return json<Scan>(r);
}

describe('scan a Lifeboat medium', () => {
  it('registers the medium and every set, and indexes unencrypted file lists', () => {
    const s = scan(medium);
    expect(s.initialized).toBe(true);
    expect(s.sets).toMatchObject({ total: 3, new: 3, unchanged: 0, missing: 0 });
    const sets = json<Array<{ key: string; system: string; media: number }>>(lifeboat(laptop, 'sets', '--json'));
    expect(sets.map((x) => x.system).sort()).toEqual(['app-config', 'site', 'site']);
    const media = json<Array<{ label: string; sets: number }>>(lifeboat(laptop, 'media', '--json'));
    expect(media).toMatchObject([{ label: 'usb-7', sets: 3 }]);
    const hits = json<Array<{ path: string; setKey: string }>>(lifeboat(laptop, 'find', '*inv-2026-00?.pdf', '--json'));
    expect(hits.filter((h) => h.setKey.startsWith('site/')).map((h) => h.path)).toContain(
      'site/invoices/inv-2026-003.pdf',
    );
  });

  let rescanAt = '';
  it('a rescan with nothing changed reads no manifest', () => {
    expect(scan(medium).sets).toMatchObject({ total: 3, new: 0, updated: 0, unchanged: 3 });
    rescanAt = json<Array<{ lastSync: string }>>(lifeboat(laptop, 'media', '--json'))[0]!.lastSync;
    expect(rescanAt).toMatch(/^\d{4}-/);
  });

  let removed = { id: '', mtimeMs: 0 };
  it('a set that disappears is marked missing, never forgotten', () => {
    const sys = join(medium, 'sets/app-config');
    const id = readdirSync(sys)[0]!;
    const aside = join(dir.path, 'aside');
    mkdirSync(aside);
    copyFileSync(join(sys, id, 'manifest.json'), join(aside, 'manifest.json'));
    removed = { id, mtimeMs: statSync(join(sys, id, 'manifest.json')).mtimeMs };
    rmSync(join(sys, id), { recursive: true });
    expect(scan(medium).sets).toMatchObject({ missing: 1 });
    const where = json<{ rows: Array<{ missingSince: string | null; lastSeen: string }> }>(
      lifeboat(laptop, 'where', id, '--json'),
    );
    expect(where.rows[0]!.missingSince).not.toBeNull();
    // Last seen by the rescan before this scan; the sets still there were seen by this one.
    expect(where.rows[0]!.lastSeen).toBe(rescanAt);
    const present = json<Array<{ setId: string }>>(lifeboat(laptop, 'sets', '--system', 'site', '--json'))[0]!.setId;
    const lastSync = json<Array<{ lastSync: string }>>(lifeboat(laptop, 'media', '--json'))[0]!.lastSync;
    expect(lastSync > rescanAt).toBe(true);
    expect(
      json<{ rows: Array<{ lastSeen: string }> }>(lifeboat(laptop, 'where', present, '--json')).rows[0]!.lastSeen,
    ).toBe(lastSync);
    expect(json<unknown[]>(lifeboat(laptop, 'sets', '--system', 'app-config', '--json'))).toHaveLength(1);
    const text = lifeboat(laptop, 'where', id).stdout;
    expect(text).toMatch(/MISSING since/);
  });

  it('a set that comes back unchanged reappears; a rewritten manifest is read again', () => {
    const { id, mtimeMs } = removed;
    const sys = join(medium, 'sets/app-config');
    const manifest = join(sys, id, 'manifest.json');
    // Back with the same size and mtime: known again without reading it.
    mkdirSync(join(sys, id));
    copyFileSync(join(dir.path, 'aside', 'manifest.json'), manifest);
    // The catalog keeps the mtime to the millisecond; the middle of that millisecond survives
    // the conversion to seconds and back (a Date from stat is rounded, which may not).
    utimesSync(manifest, new Date(), (Math.floor(mtimeMs) + 0.5) / 1000);
    // And one of the other sets' manifest touched: read again, counted as updated.
    const siteDir = join(medium, 'sets/site');
    const site = join(siteDir, readdirSync(siteDir)[0]!, 'manifest.json');
    utimesSync(site, new Date(), new Date(Date.now() + 5000));
    expect(scan(medium).sets).toMatchObject({ total: 3, new: 0, updated: 1, unchanged: 2, missing: 0, reappeared: 1 });
    expect(
      json<{ rows: Array<{ missingSince: string | null }> }>(lifeboat(laptop, 'where', id, '--json')).rows[0]!
        .missingSince,
    ).toBeNull();
    // Gone again, for the tests below (which expect it missing).
    rmSync(join(sys, id), { recursive: true });
    expect(scan(medium).sets).toMatchObject({ total: 2, missing: 1, unchanged: 2, updated: 0 });
  });

  it('records unreadable manifests with the reason and goes on', () => {
    const bad = (name: string, manifest: string | null): void => {
      const d = join(medium, 'sets/broken', name);
      mkdirSync(d, { recursive: true });
      if (manifest !== null) writeFileSync(join(d, 'manifest.json'), manifest);
    };
    const good = JSON.parse(
      readFileSync(join(medium, 'sets/site', readdirSync(join(medium, 'sets/site'))[0]!, 'manifest.json'), 'utf8'),
    ) as Record<string, unknown>;
    const as = (over: Record<string, unknown>, id: string): string =>
      JSON.stringify({ ...good, system: 'broken', set_id: id, ...over });
    bad('20260101T000000Z-files', '{"format": "lifeboat-set/1", ');
    bad('20260102T000000Z-files', as({ kind: undefined }, '20260102T000000Z-files'));
    bad('20260103T000000Z-files', as({ format: 'lifeboat-set/9' }, '20260103T000000Z-files'));
    bad(
      '20260104T000000Z-files',
      as(
        { artifacts: [{ ...(good.artifacts as object[])[0], path: '../../../etc/shadow' }] },
        '20260104T000000Z-files',
      ),
    );
    bad('20260105T000000Z-files', null);
    const s = scan(medium);
    const reasons = Object.fromEntries(s.unreadable.map((u) => [u.path.split('/').pop(), u.reason]));
    expect(reasons['20260101T000000Z-files']).toMatch(/not valid JSON/);
    expect(reasons['20260102T000000Z-files']).toMatch(/at kind/);
    expect(reasons['20260103T000000Z-files']).toMatch(/lifeboat-set\/9/);
    expect(reasons['20260104T000000Z-files']).toMatch(/relative path/);
    expect(reasons['20260105T000000Z-files']).toMatch(/without manifest.json/);
    expect(s.sets.total).toBe(2);
    const media = json<Array<{ unreadable: number }>>(lifeboat(laptop, 'media', '--json'));
    expect(media[0]!.unreadable).toBe(5);
    rmSync(join(medium, 'sets/broken'), { recursive: true });
  });
});

describe('foreign layouts, read-only and unsigned', () => {
  it('catalogs a seed-script folder with times from the names', () => {
    const seed = join(dir.path, 'seed-backups');
    mkdirSync(join(seed, 'database'), { recursive: true });
    mkdirSync(join(seed, 'files'), { recursive: true });
    writeFileSync(join(seed, 'database', 'postgres_myproject_nexa_20260204_120000.sql.gz'), Buffer.alloc(1234));
    writeFileSync(join(seed, 'database', 'postgres_myproject_nexa_20260205_120000.sql'), Buffer.alloc(5678));
    writeFileSync(join(seed, 'files', 'files_backup_20260204_120000.tar.gz'), Buffer.alloc(99));
    writeFileSync(join(seed, 'config_backup_20260204_120000.tar.gz'), Buffer.alloc(42));
    writeFileSync(join(seed, 'manifest_20260204_120000.json'), '{"type":"all"}');
    writeFileSync(join(seed, 'notes.txt'), 'not a backup');
    const s = scan(seed);
    expect(s.initialized).toBe(false);
    expect(s.hints[0]).toMatch(/lifeboat medium init/);
    expect(s.foreign.seedScript).toBe(4);
    const sets = json<
      Array<{ key: string; kind: string; origin: string; createdAt: string; bytes: number; signed: boolean }>
    >(lifeboat(laptop, 'sets', '--system', 'myproject_nexa', '--json'));
    expect(sets.map((x) => [x.kind, x.origin, x.createdAt, x.bytes, x.signed])).toEqual([
      ['pg-logical', 'seed-script', '2026-02-05T12:00:00.000Z', 5678, false],
      ['pg-logical', 'seed-script', '2026-02-04T12:00:00.000Z', 1234 + 14, false],
    ]);
    // Foreign sets carry no signature: `--signed` leaves them out.
    expect(json<unknown[]>(lifeboat(laptop, 'sets', '--system', 'myproject_nexa', '--signed', '--json'))).toEqual([]);
    // A folder without a label is named by its path, as `lifeboat media` lists it (a trailing slash too).
    expect(
      json<unknown[]>(lifeboat(laptop, 'sets', '--system', 'myproject_nexa', '--medium', `${seed}/`, '--json')),
    ).toHaveLength(2);
    expect(
      json<unknown[]>(lifeboat(laptop, 'sets', '--system', 'myproject_nexa', '--medium', medium, '--json')),
    ).toEqual([]);
    const where = json<{ rows: Array<{ setPath: string; location: string }> }>(
      lifeboat(laptop, 'where', sets[1]!.key, '--json'),
    );
    expect(where.rows[0]!.setPath).toBe('database/postgres_myproject_nexa_20260204_120000.sql.gz');
  });

  it('catalogs a pgBackRest repository without the pgbackrest binary', () => {
    const repo = join(dir.path, 'pgbackrest-repo');
    const stanza = join(repo, 'backup', 'main');
    mkdirSync(join(stanza, '20261120-020000F'), { recursive: true });
    mkdirSync(join(stanza, '20261120-020000F_20261121-020000I'), { recursive: true });
    copyFileSync(join(FIXTURES, 'pgbackrest/backup.info'), join(stanza, 'backup.info'));
    copyFileSync(join(FIXTURES, 'pgbackrest/backup.manifest'), join(stanza, '20261120-020000F', 'backup.manifest'));
    const wal = join(repo, 'archive', 'main', '15-1', '0000000100000000');
    mkdirSync(wal, { recursive: true });
    for (const seg of ['04', '05', '06', '07', '09'])
      writeFileSync(join(wal, `0000000100000000000000${seg}-0123456789abcdef0123456789abcdef01234567.gz`), 'x');
    const s = scan(repo);
    expect(s.foreign.pgbackrest).toBe(2);
    const sets = json<
      Array<{ key: string; kind: string; origin: string; createdAt: string; parentKey: string | null }>
    >(lifeboat(laptop, 'sets', '--system', 'main', '--json'));
    expect(sets.map((x) => [x.key, x.kind, x.origin, x.createdAt, x.parentKey])).toEqual([
      [
        'main/20261120-020000F_20261121-020000I',
        'pg-base',
        'pgbackrest',
        '2026-11-21T02:00:00.000Z',
        'main/20261120-020000F',
      ],
      ['main/20261120-020000F', 'pg-base', 'pgbackrest', '2026-11-20T02:00:00.000Z', null],
    ]);
    // Types, WAL start/stop, LSNs and the archive's contiguous WAL ranges are recorded.
    const db = new Database(join(dir.path, 'laptop', 'catalog.sqlite'), { readonly: true });
    const full = JSON.parse(
      db.prepare('SELECT facts_json FROM sets WHERE key = ?').pluck().get('main/20261120-020000F') as string,
    ) as { facts: Record<string, unknown> };
    db.close();
    expect(full.facts).toMatchObject({
      type: 'full',
      wal_start: '000000010000000000000004',
      lsn_start: '0/4000028',
      lsn_stop: '0/4000100',
      pg_version: '15',
      wal_ranges: [
        { timeline: '00000001', first: '000000010000000000000004', last: '000000010000000000000007', segments: 4 },
        { timeline: '00000001', first: '000000010000000000000009', last: '000000010000000000000009', segments: 1 },
      ],
    });
  });
});

describe('the catalog itself', () => {
  it('is rebuilt from the media it knew when it is damaged', () => {
    writeFileSync(join(dir.path, 'laptop', 'catalog.sqlite'), 'garbage '.repeat(4096));
    const broken = lifeboat(laptop, 'sets');
    expect(broken.status).toBe(2);
    expect(broken.stderr).toMatch(/scan --rebuild/);
    const r = lifeboat(laptop, 'scan', '--rebuild', '--json');
    expect(r.status, r.stderr).toBe(0);
    const rebuilt = json<{ media: Array<{ location: string }>; previous_catalog: string }>(r);
    expect(rebuilt.media).toHaveLength(3);
    expect(rebuilt.previous_catalog).toMatch(/broken/);
    expect(json<unknown[]>(lifeboat(laptop, 'sets', '--json')).length).toBeGreaterThanOrEqual(2 + 4 + 2);
  });

  it('a catalog whose tables another build changed is reported as such, and rebuilt', () => {
    const db = new Database(join(dir.path, 'laptop', 'catalog.sqlite'));
    db.exec('ALTER TABLE sets DROP COLUMN facts_json');
    db.close();
    // A manifest to read again, so the scan writes a set.
    const siteDir = join(medium, 'sets/site');
    utimesSync(join(siteDir, readdirSync(siteDir)[0]!, 'manifest.json'), new Date(), new Date(Date.now() + 60_000));
    const r = lifeboat(laptop, 'scan', medium, '--json');
    expect(r.status).toBe(2);
    expect(json<{ error: { code: string; message: string; hint: string } }>(r).error).toMatchObject({
      code: 'CATALOG_CORRUPT',
      message: expect.stringMatching(/do not match this version of Lifeboat \(SQLite: .*facts_json/),
      hint: expect.stringMatching(/scan --rebuild/),
    });
    expect(lifeboat(laptop, 'scan', '--rebuild', '--json').status).toBe(0);
    expect(scan(medium).sets.total).toBeGreaterThanOrEqual(2);
  });

  it('answers systems with the age of the newest set against its objectives', () => {
    const systems = json<Array<{ system: string; status: string; reason: string }>>(
      lifeboat(laptop, 'systems', '--json'),
    );
    const site = systems.find((s) => s.system === 'site')!;
    expect(site.status).toBe('unverified');
    expect(site.reason).toMatch(/no verified set/);
  });

  it('refuses a bad time filter clearly', () => {
    const r = lifeboat(laptop, 'sets', '--since', 'yesterday-ish');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Not a time/);
  });
});
