import { execFileSync, execSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compress } from 'zstd-napi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { parseIdentityFile, type AgeIdentity } from '../../electron/engine/crypto/age';
import { LifeboatError, mapError } from '../../electron/engine/errors';
import { parseManifest, sha256Hex, type Manifest } from '../../electron/engine/format/manifest';
import { parsePgUrl } from '../../electron/engine/postgres/connection';
import type { DumpMember } from '../../electron/engine/restore/dump-members';
import { restorePgLogical, type PgLogicalParams } from '../../electron/engine/restore/pg-logical';
import type { ActionContext } from '../../electron/engine/runbooks/actions/types';
import { lifeboat } from '../helpers/cli';
import { handMadeSet } from '../helpers/hand-made-set';
import { keyedMedium } from '../helpers/keyed-medium';
import { paxTar, type TarSpec } from '../helpers/pax-tar';
import { query, startPostgres, type ScratchCluster } from '../helpers/postgres';
import { fingerprint, loadSampleData } from '../helpers/sample-data';
import { tempDir } from '../helpers/temp';
import { restoreContext } from '../helpers/restore-context';
import { runByHand } from '../helpers/by-hand';

/**
 * A directory-format set restored while it decodes (restore/pg-dir-overlap.ts): the result equals
 * a plain `pg_restore -j 2` of the same dump; every member is checked against the signed manifest
 * before pg_restore may read it, and any failure stops every pg_restore and drops the database.
 */
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let pg: ScratchCluster;
let km: ReturnType<typeof keyedMedium>;
let ids: AgeIdentity[];
let catalog: Catalog;
let key: string;
let manifest: Manifest;
let members: DumpMember[];
/** The dump's files by tar name (dump/toc.dat…), decoded by hand from the set. */
let files: Map<string, Buffer>;
/** The first data file of the dump (the largest: the backup archives them largest first). */
let biggest: DumpMember;

const admin = (): string => pg.url().replace(/\/[^/]*$/, '/postgres');
const dbUrl = (name: string): string => pg.url().replace(/\/[^/]*$/, `/${name}`);
const exists = async (name: string): Promise<boolean> =>
  (await query(admin(), 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length === 1;

const ctxFor = (o: { signal?: AbortSignal; onProgress?: (p: Record<string, unknown>) => void } = {}): ActionContext =>
  restoreContext({ catalog, dir: dir.path, identities: ids, signal: o.signal, progress: o.onProgress });

const params = (set: string, database: string, deep = false): PgLogicalParams => ({
  set,
  database,
  clean: false,
  jobs: 2,
  allow_unsigned: false,
  as_superuser: false,
  deep_check: deep,
});

const restore = (set: string, database: string, ctx = ctxFor(), deep = false): Promise<Record<string, unknown>> =>
  restorePgLogical(params(set, database, deep), ctx, () => Promise.resolve(parsePgUrl(admin())));

/** Schema (owners and grants left out, as the restore leaves them) and pg_dump's random \restrict key removed. */
function schema(db: string): string {
  const out = execFileSync('pg_dump', ['--schema-only', '--no-owner', '--no-privileges', dbUrl(db)], {
    encoding: 'utf8',
  });
  return out.replace(/^\\(un)?restrict .*$/gm, '');
}

async function extras(db: string): Promise<unknown> {
  return [
    await query(dbUrl(db), 'SELECT last_value::text AS v FROM counter'),
    await query(
      dbUrl(db),
      "SELECT encode(lo_get(oid), 'escape') AS b, obj_description(oid, 'pg_largeobject') AS c FROM pg_largeobject_metadata",
    ),
    await query(dbUrl(db), 'SELECT n::text FROM mv'),
  ];
}

let hand = 0;
/** The hostile sets, signed by the pinned key, by case. */
let forgedSets: Record<string, string>;

/** A signed set holding `entries` as its directory dump, with `list` as its signed members. */
function forged(entries: TarSpec[], list: DumpMember[], o: { cut?: number } = {}): string {
  let tar = paxTar(entries);
  if (o.cut) tar = tar.subarray(0, o.cut);
  const setId = `20261121T02000${hand++}Z-pg-logical`;
  handMadeSet(
    km.medium,
    km.signKey,
    { system: 'forged', setId, kind: 'pg-logical', source: { ...manifest.source, dump_members: list } },
    [
      {
        path: 'db.dir.tar.zst',
        role: 'pg-dump-dir',
        stored: compress(tar),
        plainBytes: tar.length,
        plainSha256: sha256Hex(tar),
      },
    ],
  );
  return `forged/${setId}`;
}

/** The dump as its backup archived it: folder, then members in the manifest's order. */
const dumpEntries = (change: (name: string, body: Buffer) => Buffer = (_n, b) => b): TarSpec[] => [
  { name: 'dump/', type: 'dir' },
  ...members.map((m) => ({ name: m.path, type: 'file' as const, body: change(m.path, files.get(m.path)!) })),
];

/** pg_restore processes started for a work folder of this test, still running. */
function leftovers(): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        return '';
      }
    })
    .filter((c) => c.includes('pg_restore') && c.includes(dir.path));
}

async function refused(set: string, db: string, code: string, message: RegExp): Promise<void> {
  const ctx = ctxFor();
  const err = await restore(set, db, ctx).then(
    () => null,
    (e: unknown) => mapError(e),
  );
  expect(err, 'the restore must fail').toBeInstanceOf(LifeboatError);
  expect(err!.code, err!.message).toBe(code);
  expect(err!.message).toMatch(message);
  expect(await exists(db)).toBe(false);
  expect(readdirSync(ctx.workDir)).toEqual([]);
  expect(leftovers()).toEqual([]);
}

beforeAll(async () => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  pg = await startPostgres();
  await loadSampleData(pg.url());
  await query(
    pg.url(),
    `CREATE TABLE notes (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text NOT NULL);
     COMMENT ON TABLE notes IS 'a table comment';
     COMMENT ON COLUMN notes.body IS 'a column comment';
     INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 500) g;
     CREATE INDEX notes_body ON notes (body);
     COMMENT ON INDEX notes_body IS 'an index comment';
     CREATE SEQUENCE counter;
     SELECT setval('counter', 42);
     CREATE TABLE empty_t (x int REFERENCES notes (id));
     CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM notes;
     CREATE VIEW v AS SELECT body FROM notes WHERE id < 10;`,
  );
  await query(pg.url(), "SELECT lo_from_bytea(424242, 'large object bytes')");
  await query(pg.url(), "COMMENT ON LARGE OBJECT 424242 IS 'a large object comment'");
  km = keyedMedium(env, dir.path);
  ids = parseIdentityFile(readFileSync(km.identity, 'utf8'));
  const set = km.backup(['pg', '--system', 'shop', '--db', pg.url(), '--format', 'directory', '--jobs', '2']);
  key = set.key;
  manifest = parseManifest(readFileSync(join(km.medium, set.path, 'manifest.json')));
  members = manifest.source.dump_members as DumpMember[];
  // The plain restore a DBA would make of the same dump (docs/restore-by-hand.md 3b).
  const out = join(dir.path, 'plain');
  mkdirSync(out);
  execSync(`age -d -i ${km.identity} db.dir.tar.zst.age | zstd -d | tar -xf - -C ${out}`, {
    cwd: join(km.medium, set.path),
  });
  files = new Map(members.map((m) => [m.path, readFileSync(join(out, m.path))]));
  await query(admin(), 'CREATE DATABASE plain');
  execFileSync('pg_restore', ['-j', '2', '--no-owner', '--no-privileges', '-d', dbUrl('plain'), join(out, 'dump')]);
  biggest = members.find((m) => m.path.endsWith('.dat') && !m.path.endsWith('toc.dat'))!;
  const last = members.at(-1)!;
  forgedSets = {
    // The artifact's own hashes are right for these bytes: only the member's signed hash can tell.
    tampered: forged(
      dumpEntries((name, b) =>
        name === biggest.path ? Buffer.from(b.toString('latin1').replace(/\d/, 'x'), 'latin1') : b,
      ),
      members,
    ),
    cut: forged(dumpEntries(), members, { cut: Math.floor(paxTar(dumpEntries()).length / 2) }),
    extra: forged([...dumpEntries(), { name: 'dump/extra.dat', type: 'file', body: 'x' }], members),
    absent: forged(
      dumpEntries().filter((e) => e.name !== last.path),
      members,
    ),
    dotdot: forged([...dumpEntries(), { name: 'dump/../escape.dat', type: 'file', body: 'x' }], members),
    absolute: forged([...dumpEntries(), { name: '/tmp/abs.dat', type: 'file', body: 'x' }], members),
    link: forged([...dumpEntries(), { name: 'dump/link.dat', type: 'symlink', linkname: '/etc/passwd' }], members),
  };
  expect(lifeboat(env, 'scan', km.medium).status).toBe(0);
  catalog = Catalog.open(join(dir.path, 'home', 'catalog.sqlite'));
}, 120_000);

afterAll(async () => {
  catalog?.close();
  await pg?.destroy();
  dir?.cleanup();
});

describe('directory-format sets: members signed, restored while decoding', () => {
  it('the manifest lists every file with its size and SHA-256, toc.dat first', () => {
    expect(members[0]!.path).toBe('dump/toc.dat');
    for (const m of members) {
      expect(files.get(m.path)!.length).toBe(m.bytes);
      expect(sha256Hex(files.get(m.path)!)).toBe(m.sha256);
    }
    expect(members.some((m) => /blob/.test(m.path))).toBe(true);
  });

  it('equals a plain pg_restore -j 2 of the same dump: schema, rows, sequences, large objects, comments', async () => {
    // With the deep check in the same pass (a runbook's one_pass verify step, then this restore).
    const out = await restore(key, 'overlapped', ctxFor(), true);
    expect(out).toMatchObject({
      overlapped: true,
      restored_as: 'lifeboat_restore',
      verification: { level: 'deep', verdict: 'ok' },
    });
    expect(schema('overlapped')).toBe(schema('plain'));
    expect(await fingerprint(dbUrl('overlapped'))).toEqual(await fingerprint(dbUrl('plain')));
    expect(await extras('overlapped')).toEqual(await extras('plain'));
  }, 60_000);

  it('verify --level deep checks every member against the manifest', () => {
    const r = lifeboat(env, 'verify', key, '--level', 'deep', '--identity', km.identity, '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/every dump file matched its signed SHA-256 and size/);
  });

  it('docs/restore-by-hand.md 0, 1, 2 and 3b run verbatim: each file checked against the manifest, then pg_restore', async () => {
    const r = runByHand({
      km,
      sections: /^(0|1|2|3b)\. /,
      blocks: 5,
      set: key,
      work: join(dir.path, 'by-hand'),
      env: { PGHOST: '127.0.0.1', PGPORT: new URL(pg.url()).port },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(dir.path, 'by-hand', 'dump.sha256'), 'utf8').split('\n').length).toBe(members.length + 1);
    expect(await fingerprint(dbUrl('customer_restored'))).toEqual(await fingerprint(dbUrl('plain')));
  }, 60_000);

  it('a member whose bytes differ from its signed hash: corrupted, pg_restore stopped, the new database dropped, nothing left', async () => {
    await refused(
      forgedSets.tampered!,
      'tampered',
      'CHECKSUM_MISMATCH',
      new RegExp(`${biggest.path} has SHA-256 .* corrupted`),
    );
    const v = lifeboat(env, 'verify', forgedSets.tampered!, '--level', 'deep', '--json');
    expect(v.stdout).toMatch(new RegExp(`"verdict": "corrupted",\\s*"detail": "the dump: ${biggest.path} has SHA-256`));
  }, 60_000);

  it('a truncated tar, a member not listed, a listed member absent: refused, nothing left', async () => {
    await refused(forgedSets.cut!, 'cut', 'FORMAT_INVALID', /./);
    await refused(
      forgedSets.extra!,
      'extra',
      'CHECKSUM_MISMATCH',
      /dump\/extra\.dat, which its signed manifest does not list/,
    );
    await refused(forgedSets.absent!, 'absent', 'CHECKSUM_MISMATCH', new RegExp(`lacks ${members.at(-1)!.path}`));
  }, 60_000);

  it('a member named with .., an absolute name, a link: refused', async () => {
    await refused(forgedSets.dotdot!, 'dotdot', 'UNSAFE_PATH', /escape/);
    await refused(forgedSets.absolute!, 'absolute', 'UNSAFE_PATH', /abs\.dat/);
    await refused(forgedSets.link!, 'link', 'UNSAFE_PATH', /a link named dump\/link\.dat/);
  }, 60_000);

  it('a cancel mid-restore ends every pg_restore and drops the database', async () => {
    const cancel = new AbortController();
    const ctx = ctxFor({
      signal: cancel.signal,
      // The table of contents is in: pre-data is starting.
      onProgress: (p) => {
        if (p.itemsTotal !== undefined) setTimeout(() => cancel.abort(), 20);
      },
    });
    const err = await restore(key, 'cancelled', ctx).then(
      () => null,
      (e: unknown) => mapError(e),
    );
    expect(err?.code).toBe('CANCELLED');
    expect(leftovers()).toEqual([]);
    expect(await exists('cancelled')).toBe(false);
    expect(readdirSync(ctx.workDir)).toEqual([]);
  }, 60_000);
});
