import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadManifests, openPlainFile, readBackupInfo } from '../../electron/engine/foreign/pgbackrest';
import { openMedium } from '../../electron/engine/storage/open-medium';
import { postgresRunAs, runPgTool } from '../../electron/engine/postgres/scratch-cluster';
import { json, lifeboat, lifeboatAsync, type CliRun } from '../helpers/cli';
import { query, startPostgres, type ScratchCluster } from '../helpers/postgres';
import { pgbackrestConfig, type Pgbackrest } from '../helpers/pgbackrest';
import { tempDir } from '../helpers/temp';
import { chownForPostgres } from '../helpers/wal-archiving';

/**
 * Real pgBackRest 2.45 repositories, made here from a private cluster with WAL archiving
 * (archive_command = pgbackrest archive-push), read by Lifeboat without pgbackrest:
 * - repo1: gz (the default), no bundling: full + diff + incr;
 * - repo2: repo2-bundle=y, zst: full + incr;
 * - repo3: repo3-bundle=y + repo3-block=y (beta in 2.45), lz4: full + incr (blocks from both);
 * - repo4: aes-256-cbc, bz2: full + incr.
 */

const STANZA = 'shop';
const PASS = 'correct horse battery staple 19';
let dir: ReturnType<typeof tempDir>;
let pg: ScratchCluster;
let conf: string;
let laptop: NodeJS.ProcessEnv;
const repo = (n: number): string => join(dir.path, `repo${n}`);

let pgbr: Pgbackrest;
const pgbackrest = (...args: string[]): CliRun => pgbr.run(...args);

function ok(r: CliRun): CliRun {
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

interface InfoJson {
  name: string;
  backup: Array<{
    label: string;
    type: string;
    info: { size: number; delta: number; repository: { size?: number; delta: number } };
  }>;
}

interface SetRow {
  key: string;
  kind: string;
  origin: string;
  bytes: number;
  parentKey: string | null;
}

interface VerifyJson {
  ok: boolean;
  results: Array<{
    key: string;
    verdict: string;
    detail: string | null;
    bytes: number;
    artifacts: Array<{ path: string; verdict: string; detail: string | null }>;
  }>;
}

beforeAll(async () => {
  dir = tempDir();
  conf = join(dir.path, 'pgbackrest.conf');
  pg = await startPostgres({
    archive_mode: 'on',
    archive_command: `'pgbackrest --config=${conf} --stanza=${STANZA} archive-push %p'`,
  });
  chownForPostgres(dir.path);
  pgbr = pgbackrestConfig({
    dir: dir.path,
    pg,
    stanza: STANZA,
    global: [
      'compress-level=1',
      `repo1-path=${repo(1)}`,
      'repo1-retention-full=9',
      `repo2-path=${repo(2)}`,
      'repo2-retention-full=9',
      'repo2-bundle=y',
      `repo3-path=${repo(3)}`,
      'repo3-retention-full=9',
      'repo3-bundle=y',
      `repo4-path=${repo(4)}`,
      'repo4-retention-full=9',
      'repo4-cipher-type=aes-256-cbc',
      `repo4-cipher-pass=${PASS}`,
    ],
    stanzaLines: ['pg1-user=postgres'],
  });
  if (pgbr.conf !== conf) throw new Error(`pgbackrest config at ${pgbr.conf}, not ${conf}`);
  ok(pgbackrest('stanza-create'));
  await query(pg.url(), 'CREATE TABLE orders AS SELECT g AS id, md5(g::text) AS note FROM generate_series(1, 60000) g');
  // repo1's backups wait for their WAL in the archive (archive-check, pgBackRest's default); the others do not, to keep this quick.
  ok(pgbackrest('--repo=1', '--type=full', 'backup'));
  ok(pgbackrest('--repo=2', '--no-archive-check', '--type=full', '--compress-type=zst', 'backup'));
  // repo-block is a beta option in 2.45: only on the command line of the backups that use it.
  ok(
    pgbackrest(
      '--repo=3',
      '--no-archive-check',
      '--repo3-block',
      '--beta',
      '--type=full',
      '--compress-type=lz4',
      'backup',
    ),
  );
  ok(pgbackrest('--repo=4', '--no-archive-check', '--type=full', '--compress-type=bz2', 'backup'));
  await query(pg.url(), "UPDATE orders SET note = 'changed' WHERE id % 7 = 0");
  ok(pgbackrest('--repo=1', '--type=diff', 'backup'));
  ok(pgbackrest('--repo=2', '--no-archive-check', '--type=incr', '--compress-type=zst', 'backup'));
  ok(
    pgbackrest(
      '--repo=3',
      '--no-archive-check',
      '--repo3-block',
      '--beta',
      '--type=incr',
      '--compress-type=lz4',
      'backup',
    ),
  );
  ok(pgbackrest('--repo=4', '--no-archive-check', '--type=incr', '--compress-type=bz2', 'backup'));
  await query(pg.url(), 'INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(60001, 61000) g');
  ok(pgbackrest('--repo=1', '--type=incr', 'backup'));
  laptop = { LIFEBOAT_HOME: join(dir.path, 'laptop') };
  writeFileSync(join(dir.path, 'passphrase'), `${PASS}\n`);
}, 180_000);

afterAll(async () => {
  await pg?.destroy();
  dir?.cleanup();
});

/** `pgbackrest info` of a repository, asked once: its backups are all made in beforeAll. */
const infos = new Map<number, InfoJson>();
function info(n: number): InfoJson {
  if (!infos.has(n))
    infos.set(n, (JSON.parse(ok(pgbackrest(`--repo=${n}`, '--output=json', 'info')).stdout) as InfoJson[])[0]!);
  return infos.get(n)!;
}

function sets(env: NodeJS.ProcessEnv = laptop): SetRow[] {
  return json<SetRow[]>(lifeboat(env, 'sets', '--system', STANZA, '--json'));
}

function verify(where: string, level: string, ...extra: string[]): { run: CliRun; out: VerifyJson } {
  const run = lifeboat(laptop, 'verify', where, '--level', level, '--json', ...extra);
  return { run, out: json<VerifyJson>(run) };
}

/** Every repository file read and passed, and the set with them (its authenticity is the manifests' checksums: foreign/trust.ts). */
function allFilesPass(out: VerifyJson, sets: number): void {
  expect(out.results.length).toBe(sets);
  for (const r of out.results) {
    expect(r.artifacts.length, r.key).toBeGreaterThan(0);
    expect(
      r.artifacts.filter((a) => a.verdict !== 'ok'),
      r.key,
    ).toEqual([]);
    expect(r.verdict, `${r.key}: ${r.detail}`).toBe('ok');
  }
}

describe('pgBackRest repositories read natively', () => {
  it('scan finds every backup with the sizes pgbackrest info gives, in each layout', () => {
    for (const n of [1, 2, 3]) {
      const r = lifeboat(laptop, 'scan', repo(n), '--json');
      expect(r.status, r.stdout + r.stderr).toBe(0);
    }
    const rows = sets();
    for (const n of [1, 2, 3]) {
      for (const b of info(n).backup) {
        const row = rows.find((s) => s.key === `${STANZA}/${b.label}`);
        expect(row, b.label).toBeDefined();
        expect(row).toMatchObject({ kind: 'pg-base', origin: 'pgbackrest' });
        // pgbackrest info gives no repository size for block-incremental backups, only the delta (all of a full's);
        // an incremental's own delta is then a lower bound.
        const size = b.info.repository.size ?? (b.type === 'full' ? b.info.repository.delta : undefined);
        if (size !== undefined) expect(row!.bytes, b.label).toBe(size);
        else expect(row!.bytes, b.label).toBeGreaterThan(b.info.repository.delta);
      }
    }
    expect(rows.length).toBe(3 + 2 + 2);
    // The database size is the manifest's: the sum of its files, what pgbackrest info calls the backup's size.
    const db = lifeboat(laptop, 'sets', '--system', STANZA, '--json');
    expect(db.status).toBe(0);
    const diff = info(1).backup.find((b) => b.type === 'diff')!;
    expect(rows.find((s) => s.key === `${STANZA}/${diff.label}`)!.parentKey).toBe(
      `${STANZA}/${info(1).backup[0]!.label}`,
    );
  }, 60_000);

  it('verify --level integrity and deep read every file of every backup (gz unbundled, zst bundled) and pass', () => {
    for (const n of [1, 2]) {
      for (const level of ['integrity', 'deep']) {
        const { out } = verify(repo(n), level);
        allFilesPass(out, n === 1 ? 3 : 2);
        // Every byte the backup needs was read: pgbackrest's repository size of each backup.
        for (const b of info(n).backup)
          expect(out.results.find((r) => r.key === `${STANZA}/${b.label}`)!.bytes).toBe(b.info.repository.size);
      }
    }
  }, 60_000);

  it('block-incremental (repo-block=y, bundled, lz4): integrity and deep pass, the content assembled from the block maps', () => {
    allFilesPass(verify(repo(3), 'integrity').out, 2);
    const { out } = verify(repo(3), 'deep');
    allFilesPass(out, 2);
    const incr = out.results.find((r) => r.key.endsWith('I'))!;
    expect(incr.artifacts.some((a) => /block-incremental/.test(a.detail ?? ''))).toBe(true);
    // The incremental's changed table is stored block-incrementally in its own folder, its unchanged blocks in the full's.
    expect(incr.artifacts.some((a) => a.path.endsWith('.pgbi') && a.path.includes('I/'))).toBe(true);
  }, 60_000);

  it('openPlainFile gives every file of a backup as a restore writes it (references, bundles, blocks, encryption)', async () => {
    const cases: Array<{ n: number; pass: string | null }> = [
      { n: 1, pass: null },
      { n: 2, pass: null },
      { n: 3, pass: null },
      { n: 4, pass: PASS },
    ];
    for (const { n, pass } of cases) {
      const medium = await openMedium(repo(n));
      const backupInfo = await readBackupInfo(medium, '', STANZA, pass);
      const label = backupInfo.backups[backupInfo.backups.length - 1]!.label;
      const manifests = await loadManifests(medium, '', backupInfo, label);
      const files = manifests.get(label)!.files;
      expect(files.length).toBeGreaterThan(500);
      for (const f of files) {
        const hash = createHash('sha1');
        let size = 0;
        for await (const b of (await openPlainFile(
          medium,
          '',
          backupInfo,
          manifests,
          label,
          f.name,
        )) as AsyncIterable<Buffer>) {
          hash.update(b);
          size += b.length;
        }
        expect([f.name, size, hash.digest('hex')]).toEqual([f.name, f.size, f.checksum]);
      }
    }
  }, 90_000);

  it('4 bytes changed in a .gz data file: integrity and deep fail naming the file, as pgbackrest verify does', () => {
    const copy = join(dir.path, 'repo1-damaged');
    cpSync(repo(1), copy, { recursive: true });
    const full = info(1).backup[0]!.label;
    const base = join(copy, 'backup', STANZA, full, 'pg_data', 'base');
    // The largest relation file of the full backup: the orders table.
    const files = readdirSync(base).flatMap((db) => readdirSync(join(base, db)).map((f) => join(base, db, f)));
    const victim = files.filter((f) => f.endsWith('.gz')).sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
    const bytes = readFileSync(victim);
    bytes.writeUInt32BE(0xdeadbeef, Math.floor(bytes.length / 2));
    writeFileSync(victim, bytes);
    const name = victim.slice(join(copy, 'backup', STANZA, full).length + 1).replace(/\.gz$/, '');
    for (const level of ['integrity', 'deep']) {
      const { run, out } = verify(copy, level);
      expect(run.status).toBe(1);
      const bad = out.results.find((r) => r.key === `${STANZA}/${full}`)!;
      expect(bad.verdict).toBe('corrupted');
      expect(bad.artifacts.find((a) => a.verdict === 'corrupted')!.detail).toContain(name);
    }
    // pgbackrest itself agrees on the same copy.
    chownForPostgres(copy);
    const check = spawnSync(
      'pgbackrest',
      [
        `--config=${conf}`,
        `--stanza=${STANZA}`,
        `--repo1-path=${copy}`,
        '--repo=1',
        '--log-level-console=info',
        'verify',
      ],
      {
        encoding: 'utf8',
        cwd: dir.path,
        ...(pg.runAs ? { uid: pg.runAs.uid, gid: pg.runAs.gid } : {}),
      },
    );
    expect(check.stdout + check.stderr).toMatch(/checksum invalid: 1/);
    expect(check.stdout + check.stderr).toContain(name);
    // A damaged backup.info fails its own checksum: its .copy is read instead, and the scan says so in the facts.
    const infoPath = join(copy, 'backup', STANZA, 'backup.info');
    writeFileSync(infoPath, readFileSync(infoPath, 'utf8').replace('"backup-type":"full"', '"backup-type":"fulx"'));
    const fresh = { LIFEBOAT_HOME: join(dir.path, 'laptop-copy') };
    expect(lifeboat(fresh, 'scan', copy).status).toBe(0);
    expect(sets(fresh).length).toBe(3);
    const db = new Database(join(dir.path, 'laptop-copy', 'catalog.sqlite'), { readonly: true });
    const described = JSON.parse(
      db.prepare('SELECT facts_json FROM sets WHERE key = ?').pluck().get(`${STANZA}/${full}`) as string,
    ) as {
      facts: { notes?: string[] };
    };
    db.close();
    expect(described.facts.notes?.join(' ')).toMatch(
      /backup\.info does not match its own backrest-checksum; read .*backup\.info\.copy instead/,
    );
  }, 60_000);

  it('an encrypted repository: scan without its passphrase exits 2 saying so; with --passphrase-file sets are found and verified', () => {
    const other = { LIFEBOAT_HOME: join(dir.path, 'laptop-2') };
    const without = lifeboat(other, 'scan', repo(4));
    expect(without.status).toBe(2);
    expect(without.stdout).toContain(`encrypted pgBackRest repository ${STANZA} — needs its passphrase`);
    expect(without.stdout).not.toMatch(/Salted__/);
    const v = lifeboat(other, 'verify', repo(4), '--level', 'integrity');
    expect(v.status).toBe(2);
    expect(v.stderr + v.stdout).toContain(`encrypted pgBackRest repository ${STANZA}`);

    const pass = join(dir.path, 'passphrase');
    const withPass = lifeboat(other, 'scan', repo(4), '--passphrase-file', pass, '--json');
    expect(withPass.status, withPass.stdout + withPass.stderr).toBe(0);
    const found = sets(other);
    const backups = info(4).backup;
    expect(found.map((s) => s.key).sort()).toEqual(backups.map((b) => `${STANZA}/${b.label}`).sort());
    for (const b of backups)
      expect(found.find((s) => s.key === `${STANZA}/${b.label}`)!.bytes).toBe(b.info.repository.size);
    for (const level of ['integrity', 'deep']) {
      const run = lifeboat(other, 'verify', repo(4), '--level', level, '--json', '--passphrase-file', pass);
      allFilesPass(json<VerifyJson>(run), 2);
    }
    // A wrong passphrase is no pass either.
    writeFileSync(join(dir.path, 'wrong'), 'not it\n');
    const wrong = lifeboat(
      { LIFEBOAT_HOME: join(dir.path, 'laptop-3') },
      'scan',
      repo(4),
      '--passphrase-file',
      join(dir.path, 'wrong'),
    );
    expect(wrong.status).toBe(2);
    expect(wrong.stdout).toContain('the passphrase given does not open it');
  }, 60_000);
});

describe('pgBackRest sets restored by PITR, and sets gone from their medium', () => {
  it('a block-incremental backup (repo-block=y, bundled, lz4) restored by PITR: its rows, and the WAL after it to the target', async () => {
    const archived = async (): Promise<number> =>
      Number((await query<{ n: string }>(pg.url(), 'SELECT archived_count::text AS n FROM pg_stat_archiver'))[0]!.n);
    await new Promise((r) => setTimeout(r, 1100));
    const target = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 1100));
    // After the target: must not come back.
    await query(pg.url(), 'INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(61001, 62000) g');
    const before = await archived();
    await query(pg.url(), 'SELECT pg_switch_wal()');
    for (let i = 0; i < 400 && (await archived()) <= before; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await archived()).toBeGreaterThan(before);

    const data = join(dir.path, 'restored-block');
    const r = await lifeboatAsync(
      laptop,
      'restore',
      'pg-pitr',
      '--system',
      STANZA,
      '--from',
      repo(3),
      '--target-time',
      target,
      '--data-dir',
      data,
      '--allow-unsigned',
      '--json',
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const res = json<{ base: string; port: number; running: boolean }>(r);
    // The newest base before the target: repo3's block-incremental incremental (its blocks in its own folder and the full's).
    expect(res.base).toBe(info(3).backup.find((b) => b.type === 'incr')!.label);
    expect(res.running).toBe(true);
    try {
      const [row] = await query<{ n: string; changed: string }>(
        `postgres://postgres@127.0.0.1:${res.port}/postgres`,
        "SELECT count(*)::text AS n, count(*) FILTER (WHERE note = 'changed')::text AS changed FROM orders",
      );
      // 60,000 of the full, every 7th changed before the incremental, 1,000 inserted after it (replayed), none after the target.
      expect(row).toEqual({ n: '61000', changed: String(Math.floor(60000 / 7)) });
    } finally {
      await runPgTool(join(pg.binDir, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'], {
        runAs: postgresRunAs(),
      });
    }
  }, 120_000);

  it('systems: a system whose every set is gone from its medium is not OK, and says so', () => {
    const moved = join(dir.path, 'repo2-moved');
    cpSync(repo(2), moved, { recursive: true });
    const env = { LIFEBOAT_HOME: join(dir.path, 'laptop-gone') };
    ok(lifeboat(env, 'scan', moved));
    ok(lifeboat(env, 'verify', moved, '--level', 'integrity'));
    type Sys = { system: string; status: string; reason: string; newestSet: unknown; newestVerifiedSet: unknown };
    const shop = (): Sys => json<Sys[]>(lifeboat(env, 'systems', '--json')).find((s) => s.system === STANZA)!;
    expect(shop().status).toBe('ok');
    // The backups are gone from the medium (deleted, or another repository mounted there): the rescan marks them missing.
    rmSync(join(moved, 'backup'), { recursive: true });
    lifeboat(env, 'scan', moved);
    const after = shop();
    expect(after.status).toBe('no-sets');
    expect(after.reason).toContain('all 2 sets are missing from the media that held them');
    expect(after.newestVerifiedSet).toBeNull();
    const text = lifeboat(env, 'systems');
    expect(text.stdout).not.toMatch(/\bOK:/);
    expect(text.stdout).toContain('NO-SETS: all 2 sets are missing');
  }, 60_000);
});
