import { execFileSync, execSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compress } from 'zstd-napi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { parseIdentityFile, type AgeIdentity } from '../../electron/engine/crypto/age';
import { mapError } from '../../electron/engine/errors';
import { parseManifest, sha256Hex, type Manifest } from '../../electron/engine/format/manifest';
import { parsePgUrl } from '../../electron/engine/postgres/connection';
import type { DumpMember } from '../../electron/engine/restore/dump-members';
import { restorePgLogical, type PgLogicalParams } from '../../electron/engine/restore/pg-logical';
import type { ActionContext } from '../../electron/engine/runbooks/actions/types';
import { BIN, lifeboat } from '../helpers/cli';
import { handMadeSet } from '../helpers/hand-made-set';
import { keyedMedium } from '../helpers/keyed-medium';
import { indexLine, paxTar, type TarSpec } from '../helpers/pax-tar';
import { writeSet } from '../../electron/engine/backup/set-writer';
import { loadSigningKey } from '../../electron/engine/crypto/signing';
import { FolderMedium } from '../../electron/engine/storage/folder-medium';
import { query, startPostgres, type ScratchCluster } from '../helpers/postgres';
import { loadSampleData } from '../helpers/sample-data';
import { tempDir } from '../helpers/temp';
import { restoreContext } from '../helpers/restore-context';

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

let hand = 0;

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
  const out = join(dir.path, 'plain');
  mkdirSync(out);
  execSync(`age -d -i ${km.identity} db.dir.tar.zst.age | zstd -d | tar -xf - -C ${out}`, {
    cwd: join(km.medium, set.path),
  });
  files = new Map(members.map((m) => [m.path, readFileSync(join(out, m.path))]));
  expect(lifeboat(env, 'scan', km.medium).status).toBe(0);
  catalog = Catalog.open(join(dir.path, 'home', 'catalog.sqlite'));
}, 120_000);

afterAll(async () => {
  catalog?.close();
  await pg?.destroy();
  dir?.cleanup();
});

/** toc.dat with the filename of one TABLE DATA entry replaced (ReadStr: sign byte, 4-byte LE length, bytes). */
function redirectToc(toc: Buffer, from: string, to: string): Buffer {
  const enc = (s: string): Buffer => {
    const h = Buffer.alloc(5);
    h.writeUInt32LE(Buffer.byteLength(s), 1);
    return Buffer.concat([h, Buffer.from(s)]);
  };
  const at = toc.indexOf(enc(from));
  expect(at, `${from} in toc.dat`).toBeGreaterThan(0);
  return Buffer.concat([toc.subarray(0, at), enc(to), toc.subarray(at + enc(from).length)]);
}

describe('rev22a: hostile directory dumps signed by a trusted key', () => {
  // pg_restore opens whatever file name toc.dat gives: restore and deep verification check the names (dump-toc.ts).
  it('a toc.dat data entry whose filename leads out of the dump folder: refused, nothing read from outside', async () => {
    const secret = join(dir.path, 'secret.txt');
    // notes is (id int, body text): a line of COPY text pg_restore would load from outside the set.
    writeFileSync(secret, '\\N\n\\N\n\\N\n\\.\n');
    const tocPath = members.find((m) => m.path.endsWith('/toc.dat'))!.path;
    const toc = files.get(tocPath)!;
    const dats = members.filter((m) => /\/\d+\.dat$/.test(m.path)).map((m) => m.path.split('/')[1]!);
    // empty_t's data (x int): the entry whose file is the last .dat named in toc.dat of the pair below.
    const listed = execFileSync('pg_restore', ['--list', join(dir.path, 'plain', 'dump')], { encoding: 'utf8' });
    const target = `${/^(\d+); \d+ \d+ TABLE DATA public empty_t /m.exec(listed)![1]}.dat`;
    expect(dats).toContain(target);
    const ups = '../'.repeat(30);
    const forgedToc = redirectToc(toc, target, `${ups}${secret.slice(1)}`);
    const list = members.map((m) =>
      m.path === tocPath ? { path: m.path, bytes: forgedToc.length, sha256: sha256Hex(forgedToc) } : m,
    );
    const set = forged(
      dumpEntries((name, b) => (name === tocPath ? forgedToc : b)),
      list,
    );
    expect(lifeboat(env, 'scan', km.medium).status).toBe(0);
    const ctx = ctxFor();
    const outcome = await restore(set, 'outside', ctx).then(
      () => null,
      (e: unknown) => mapError(e),
    );
    const leaked = (await exists('outside'))
      ? await query(dbUrl('outside'), 'SELECT count(*)::int AS n FROM empty_t WHERE x IS NULL').catch(() => [{ n: -1 }])
      : [{ n: 0 }];
    console.log('REV22A outcome', target, outcome?.code, outcome?.message, JSON.stringify(leaked));
    const dv = lifeboat(env, 'verify', set, '--level', 'deep', '--json', '--identity', km.identity);
    console.log('REV22A deep verify', dv.status, (dv.stdout.match(/"verdict": "[a-z]+"/g) ?? []).join(','));
    expect(leaked[0]!.n, 'a row read from a file outside the set').toBe(0);
    expect(outcome?.code).toBe('UNSAFE_PATH');
    expect(outcome?.message).toMatch(/toc\.dat sends pg_restore to read/);
    expect(dv.status).not.toBe(0);
    expect(dv.stdout).toMatch(/"verdict": "unsafe-path"/);
  }, 120_000);

  it('SIGINT to the CLI during an overlapped restore: no pg_restore left, the database dropped, a clear exit', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(
      process.execPath,
      [BIN, 'restore', 'pg', key, '--target', admin(), '--database', 'sigint', '--identity', km.identity],
      {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    let seen = false;
    for (let i = 0; i < 4000 && !seen; i++) {
      if (leftovers().length > 0) seen = true;
      else await new Promise((r) => setTimeout(r, 2));
    }
    child.kill('SIGINT');
    const code = await exited;
    console.log('REV22A sigint', seen, code, out.slice(-600));
    await new Promise((r) => setTimeout(r, 300));
    expect(leftovers()).toEqual([]);
    expect(await exists('sigint')).toBe(false);
    expect(seen).toBe(true);
    expect(code).toBe(1);
    // No --confirm-overwrite: there was never an existing database to speak of.
    expect(out).not.toMatch(/existing database/);
    expect(out).toMatch(/Cancelled/);
  }, 120_000);

  async function filesSet(system: string, tar: Buffer, lines: (id: string) => string[]): Promise<string> {
    let id = '';
    await writeSet(
      {
        media: [new FolderMedium(km.medium)],
        system,
        kind: 'files',
        tier: null,
        parent: null,
        recipients: [ids[0]!.recipient],
        signingKey: loadSigningKey(readFileSync(km.signKey)),
        startedAt: new Date(),
      },
      { signal: new AbortController().signal, step: () => undefined, log: () => undefined },
      async (add, setId) => {
        id = setId;
        await add({ name: 'files.tar', role: 'files-tar', source: tar });
        await add({ name: 'index.jsonl', role: 'file-index', source: Buffer.from(lines(setId).join('\n') + '\n') });
        return { source: {}, warnings: [] };
      },
    );
    expect(lifeboat(env, 'scan', km.medium).status).toBe(0);
    return `${system}/${id}`;
  }
  const h = (b: string | Buffer): string => sha256Hex(Buffer.from(b));
  it('files: hostile tars through the real CLI', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 7);
    const cases: Record<string, [Buffer, (id: string) => string[]]> = {
      dupSmallThenBig: [
        paxTar([
          { name: 'f', type: 'file', body: 'x' },
          { name: 'f', type: 'file', body: big },
        ]),
        (id) => [indexLine({ path: 'f', type: 'file', size: big.length, sha256: h(big), in: id })],
      ],
      dupBigThenSmall: [
        paxTar([
          { name: 'f', type: 'file', body: big },
          { name: 'f', type: 'file', body: 'x' },
        ]),
        (id) => [indexLine({ path: 'f', type: 'file', size: 1, sha256: h('x'), in: id })],
      ],
      dupBothMatch: [
        paxTar([
          { name: 'f', type: 'file', body: 'x' },
          { name: './f', type: 'file', body: 'x' },
          { name: 'g', type: 'hardlink', linkname: 'f' },
        ]),
        (id) => [
          indexLine({ path: 'f', type: 'file', size: 1, sha256: h('x'), in: id }),
          indexLine({ path: 'g', type: 'hardlink', target: 'f', in: id }),
        ],
      ],
      dir000: [
        paxTar([
          { name: 'd', type: 'dir' },
          { name: 'd/f', type: 'file', body: 'x' },
          { name: 'd', type: 'dir', mode: 0 },
        ]),
        (id) => [
          indexLine({ path: 'd', type: 'dir', mode: 0, in: id }),
          indexLine({ path: 'd/f', type: 'file', size: 1, sha256: h('x'), in: id }),
        ],
      ],
      symlinkThenFile: [
        paxTar([
          { name: 'l', type: 'symlink', linkname: '/tmp' },
          { name: 'l/rev22a-escape', type: 'file', body: 'x' },
        ]),
        (id) => [
          indexLine({ path: 'l', type: 'symlink', target: '/tmp', in: id }),
          indexLine({ path: 'l/rev22a-escape', type: 'file', size: 1, sha256: h('x'), in: id }),
        ],
      ],
    };
    for (const [name, [tar, lines]] of Object.entries(cases)) {
      const k = await filesSet(`f-${name.toLowerCase()}`, tar, lines);
      const into = join(dir.path, `files-${name}`);
      const r = lifeboat(env, 'restore', 'files', k, '--to', into, '--identity', km.identity);
      const v = lifeboat(env, 'verify', k, '--level', 'deep', '--json', '--identity', km.identity);
      expect(r.status, name).toBe(name === 'dir000' ? 0 : 1);
      // Deep verification and the restore agree: a set a restore refuses is not verified good.
      expect(v.status === 0, `${name}: deep verification agrees with the restore`).toBe(r.status === 0);
    }
    // dupBothMatch: deep verification says 'a restore would refuse this set'; the restore must.
    const k = await filesSet('f-dup-again', cases.dupBothMatch![0], cases.dupBothMatch![1]);
    const r = lifeboat(
      env,
      'restore',
      'files',
      k,
      '--to',
      join(dir.path, 'files-dup-again'),
      '--identity',
      km.identity,
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/holds f twice: corrupted/);
    expect(existsSync('/tmp/rev22a-escape')).toBe(false);
  }, 120_000);
});
