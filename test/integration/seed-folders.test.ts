import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDetector } from '../../electron/engine/foreign/seed';
import type { ForeignSecrets } from '../../electron/engine/foreign/types';
import { FolderMedium } from '../../electron/engine/storage/folder-medium';
import { json, lifeboat, lifeboatAsync } from '../helpers/cli';
import { query, startPostgres, type ScratchCluster } from '../helpers/postgres';
import { tempDir } from '../helpers/temp';

let pg: ScratchCluster;
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
/** The scanned folder: the backups lie four levels down (var/backups/platform/<kind>/). */
let root: string;
let platform: string;
let marker: string;
let pwFile: string;
const PASS = 'correct horse battery staple';
const ROWS = 137;

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const sh = (cmd: string, args: string[], opts: { cwd?: string; input?: Buffer } = {}): Buffer =>
  execFileSync(cmd, args, { cwd: opts.cwd, input: opts.input, maxBuffer: 1 << 28 });

interface Report {
  results: Array<{
    key: string;
    verdict: string;
    detail: string | null;
    artifacts: Array<{ path: string; verdict: string; detail: string | null }>;
  }>;
}

beforeAll(async () => {
  dir = tempDir();
  pg = await startPostgres();
  await query(
    pg.url(),
    `CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, ${ROWS}) g`,
  );
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  root = join(dir.path, 'root');
  platform = join(root, 'var', 'backups', 'platform');
  for (const d of ['database', 'files', 'config']) mkdirSync(join(platform, d), { recursive: true });
  const db = join(platform, 'database');
  const pgDump = join(pg.binDir, 'pg_dump');
  const url = pg.url();
  const plain = sh(pgDump, ['-d', url]);
  pwFile = join(dir.path, 'pass.txt');
  writeFileSync(pwFile, `${PASS}\n`);
  // The name variants, made with the real tools.
  writeFileSync(join(db, 'postgres_shop_20261202_030000.sql.gz'), sh('gzip', ['-c'], { input: plain }));
  sh(pgDump, ['-Fc', '-d', url, '-f', join(db, 'postgres_shop_2026-12-02_090000.dump')]);
  writeFileSync(join(db, 'postgres_shop_20261203_030000.sql.zst'), sh('zstd', ['-c', '-q'], { input: plain }));
  const gz = join(dir.path, 'x.sql.gz');
  writeFileSync(gz, sh('gzip', ['-c'], { input: plain }));
  sh('openssl', [
    'enc',
    '-aes-256-cbc',
    '-pbkdf2',
    '-salt',
    '-in',
    gz,
    '-out',
    join(db, 'postgres_shop_20261202-1500.sql.gz.enc'),
    '-pass',
    `file:${pwFile}`,
  ]);
  const sqlFile = join(dir.path, 'x.sql');
  writeFileSync(sqlFile, plain);
  sh('openssl', [
    'enc',
    '-aes-256-cbc',
    '-md',
    'sha256',
    '-salt',
    '-in',
    sqlFile,
    '-out',
    join(db, 'postgres_shop_2026-12-02T18-00-00.sql.enc'),
    '-pass',
    `file:${pwFile}`,
  ]);
  // Truncated (a full disk): its hash recorded by the script's manifest, so integrity passes and deep must say why it fails.
  const whole = readFileSync(join(db, 'postgres_shop_20261202_030000.sql.gz'));
  writeFileSync(join(db, 'postgres_shop_20261201_030000.sql.gz'), whole.subarray(0, Math.floor(whole.length / 2)));
  // Hostile: a psql shell escape inside a dump.
  marker = join(dir.path, 'pwned');
  writeFileSync(
    join(db, 'postgres_evil_20261202_040000.sql'),
    `--\n-- PostgreSQL database dump\n--\n\nCREATE TABLE t (x int);\n\\! touch ${marker}\n\n--\n-- PostgreSQL database dump complete\n--\n\n`,
  );
  writeFileSync(join(db, 'stray.sql.gz'), sh('gzip', ['-c'], { input: plain }));
  // Tarballs with GNU tar: the app's files; a hostile one with a `../` member.
  const app = join(dir.path, 'app');
  mkdirSync(join(app, 'uploads', 'invoices'), { recursive: true });
  writeFileSync(join(app, 'uploads', 'invoices', 'inv-0042.pdf'), 'pdf '.repeat(500));
  writeFileSync(join(app, 'uploads', 'readme.txt'), 'hello\n');
  sh('tar', ['-czf', join(platform, 'files', 'files_backup_20261202_030000.tar.gz'), '-C', dir.path, 'app']);
  writeFileSync(join(dir.path, 'outside.txt'), 'escape\n');
  mkdirSync(join(dir.path, 'inner'));
  sh('tar', ['-czPf', join(platform, 'files', 'uploads_20261202_0300.tgz'), '../outside.txt'], {
    cwd: join(dir.path, 'inner'),
  });
  sh('tar', [
    '-czf',
    join(platform, 'config', 'config_backup_2026-12-02_030000.tar.gz'),
    '-C',
    app,
    'uploads/readme.txt',
  ]);
  // Two manifests: one at the top (a --type all run), one beside the dumps.
  writeFileSync(
    join(platform, 'manifest_20261202_030000.json'),
    JSON.stringify({
      type: 'all',
      timestamp: '20261202_030000',
      files: [
        {
          file: 'database/postgres_shop_20261202_030000.sql.gz',
          sha256: sha(join(db, 'postgres_shop_20261202_030000.sql.gz')),
        },
      ],
    }),
  );
  writeFileSync(
    join(db, 'manifest_20261201_030000.json'),
    JSON.stringify({
      checksums: { 'postgres_shop_20261201_030000.sql.gz': sha(join(db, 'postgres_shop_20261201_030000.sql.gz')) },
    }),
  );
}, 240_000);

afterAll(async () => {
  await pg?.destroy();
  dir?.cleanup();
});

describe('seed-script folders', () => {
  it("the detector finds every variant at depth 4, with times read in the given zone, the KDF of each .enc and the manifests' hashes", async () => {
    const medium = new FolderMedium(root);
    const files = await medium.listFiles('', { maxDepth: 16 });
    const secrets: ForeignSecrets = {
      get: (kind, scope) => Promise.resolve(kind === 'openssl-enc' && scope.endsWith('.enc') ? PASS : null),
    };
    const { sets, findings } = await seedDetector.find(medium, files, {
      log: () => undefined,
      signal: new AbortController().signal,
      secrets,
      timeZone: 'Europe/Berlin',
    });
    const by = (name: string) => sets.find((s) => s.setPath.endsWith(name))!;
    expect(by('postgres_shop_20261202_030000.sql.gz')).toMatchObject({
      system: 'shop',
      kind: 'pg-logical',
      createdAt: '2026-12-02T02:00:00.000Z',
      setId: '20261202T030000-pg-logical-seed',
    });
    expect(by('postgres_shop_20261202_030000.sql.gz').facts.time_zone).toMatch(/^Europe\/Berlin/);
    expect(by('postgres_shop_20261202_030000.sql.gz').artifacts[0]!.sha256).toBe(
      sha(join(platform, 'database', 'postgres_shop_20261202_030000.sql.gz')),
    );
    expect(by('postgres_shop_20261202_030000.sql.gz').artifacts[1]).toMatchObject({
      role: 'seed-manifest',
      path: 'var/backups/platform/manifest_20261202_030000.json',
    });
    expect(by('postgres_shop_20261201_030000.sql.gz').artifacts[1]).toMatchObject({
      path: 'var/backups/platform/database/manifest_20261201_030000.json',
    });
    expect(by('postgres_shop_2026-12-02_090000.dump')).toMatchObject({
      createdAt: '2026-12-02T08:00:00.000Z',
      artifacts: [{ role: 'pg-dump' }],
    });
    expect(by('postgres_shop_20261202-1500.sql.gz.enc')).toMatchObject({
      createdAt: '2026-12-02T14:00:00.000Z',
      artifacts: [{ role: 'sql-dump-gz+enc' }],
    });
    expect(by('postgres_shop_20261202-1500.sql.gz.enc').facts.key_derivation).toMatch(
      /PBKDF2-SHA256, 10000 iterations/,
    );
    expect(by('postgres_shop_2026-12-02T18-00-00.sql.enc').facts.key_derivation).toMatch(/EVP_BytesToKey with sha256/);
    expect(by('files_backup_20261202_030000.tar.gz')).toMatchObject({ system: 'files', kind: 'files' });
    expect(by('uploads_20261202_0300.tgz')).toMatchObject({ system: 'uploads', kind: 'files' });
    expect(by('config_backup_2026-12-02_030000.tar.gz')).toMatchObject({ system: 'config', kind: 'config' });
    expect(sets).toHaveLength(10);
    expect(findings).toEqual([
      expect.objectContaining({
        path: 'var/backups/platform/database/stray.sql.gz',
        blocking: false,
        what: expect.stringMatching(/no date and time/),
      }),
    ]);
    // Without the passphrase: each .enc is a blocking finding, still cataloged (a newer backup is never hidden).
    const none = await seedDetector.find(medium, files, {
      log: () => undefined,
      signal: new AbortController().signal,
      secrets: { get: () => Promise.resolve(null) },
      timeZone: 'UTC',
    });
    expect(none.sets).toHaveLength(10);
    expect(none.findings.filter((f) => f.blocking).map((f) => f.what)).toEqual([
      'encrypted backup var/backups/platform/database/postgres_shop_2026-12-02T18-00-00.sql.enc',
      'encrypted backup var/backups/platform/database/postgres_shop_20261202-1500.sql.gz.enc',
    ]);
    const wrong = await seedDetector.find(medium, files, {
      log: () => undefined,
      signal: new AbortController().signal,
      secrets: { get: () => Promise.resolve('wrong') },
      timeZone: 'UTC',
    });
    expect(wrong.findings.filter((f) => f.blocking).every((f) => /does not open it/.test(f.what))).toBe(true);
  }, 60_000);

  it('scan from the top finds them all, in the zone given, and says what it cannot read', () => {
    const r = lifeboat(env, 'scan', root, '--time-zone', 'America/New_York');
    // Two .enc files without their passphrase: cataloged, named, and the scan is not complete (exit 2).
    expect(r.status, r.stderr).toBe(2);
    expect(r.stdout).toMatch(/10 seed-script sets/);
    expect(r.stdout).toMatch(
      /NEEDS \S*postgres_shop_20261202-1500\.sql\.gz\.enc: encrypted backup \S* — needs its passphrase/,
    );
    expect(r.stdout).toMatch(/FOUND .*stray\.sql\.gz/);
    const sets = json<Array<{ key: string; createdAt: string }>>(lifeboat(env, 'sets', '--system', 'shop', '--json'));
    expect(sets.find((s) => s.key === 'shop/20261202T030000-pg-logical-seed')?.createdAt).toBe(
      '2026-12-02T08:00:00.000Z',
    );
    expect(sets.map((s) => s.key)).toContain('shop/20261202T090000-pg-logical-seed-dump');
    expect(lifeboat(env, 'scan', root, '--time-zone', 'Mars/Olympus').status).toBe(2);
    // Past the listing's depth bound: said, never silently cut.
    const deep = join(dir.path, 'deep-root', ...Array.from({ length: 17 }, (_, i) => `d${i}`));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'postgres_far_20261202_030000.sql'), 'x');
    const far = lifeboat(env, 'scan', join(dir.path, 'deep-root'));
    // (Worded by the shared listing: the bound's depth and words may change, the statement may not.)
    expect(far.stdout).toMatch(/not looked (into|at)/);
    expect(far.stdout).toMatch(/under d0\/d1\//);
    const again = lifeboat(env, 'scan', root, '--passphrase-file', pwFile);
    expect(again.status, again.stdout).toBe(0);
    expect(again.stdout).not.toMatch(/NEEDS/);
    // The zone this medium was read in is kept: the rescan did not move the times back to the laptop's.
    expect(
      json<Array<{ key: string; createdAt: string }>>(lifeboat(env, 'sets', '--system', 'shop', '--json')).find(
        (s) => s.key === 'shop/20261202T030000-pg-logical-seed',
      )?.createdAt,
    ).toBe('2026-12-02T08:00:00.000Z');
  }, 120_000);

  it('verify --level deep: each kind its verdict; a truncated dump is said truncated, not a hash mismatch', () => {
    const r = lifeboat(env, 'verify', root, '--level', 'deep', '--json');
    const report = json<Report>(r);
    const art = (name: string) => report.results.flatMap((x) => x.artifacts).find((a) => a.path.endsWith(name))!;
    expect(art('postgres_shop_20261202_030000.sql.gz')).toMatchObject({
      verdict: 'ok',
      detail: expect.stringMatching(/plain SQL dump read whole/),
    });
    expect(art('postgres_shop_20261203_030000.sql.zst')).toMatchObject({
      verdict: 'ok',
      detail: expect.stringMatching(/plain SQL dump read whole/),
    });
    expect(art('postgres_shop_2026-12-02_090000.dump')).toMatchObject({
      verdict: 'ok',
      detail: expect.stringMatching(/pg_restore --list read \d+/),
    });
    expect(art('postgres_shop_20261201_030000.sql.gz')).toMatchObject({
      verdict: 'unreadable-dump',
      detail: expect.stringMatching(/truncated/),
    });
    expect(art('postgres_evil_20261202_040000.sql')).toMatchObject({
      verdict: 'unreadable-dump',
      detail: expect.stringMatching(/meta-command `\\! touch/),
    });
    expect(art('files_backup_20261202_030000.tar.gz')).toMatchObject({
      verdict: 'ok',
      detail: expect.stringMatching(/tar entries walked/),
    });
    expect(art('uploads_20261202_0300.tgz')).toMatchObject({ verdict: 'unsafe-path' });
    expect(art('postgres_shop_20261202-1500.sql.gz.enc')).toMatchObject({
      verdict: 'not-checked',
      detail: expect.stringMatching(/no passphrase/),
    });
    const withPass = json<Report>(
      lifeboat(env, 'verify', root, '--level', 'deep', '--passphrase-file', pwFile, '--json'),
    );
    const encArt = (name: string) => withPass.results.flatMap((x) => x.artifacts).find((a) => a.path.endsWith(name))!;
    expect(encArt('postgres_shop_20261202-1500.sql.gz.enc')).toMatchObject({
      verdict: 'ok',
      detail: expect.stringMatching(/decrypted \(openssl enc, PBKDF2-sha256\); plain SQL dump read whole/),
    });
    expect(encArt('postgres_shop_2026-12-02T18-00-00.sql.enc')).toMatchObject({
      verdict: 'ok',
      detail: expect.stringMatching(/decrypted \(openssl enc, EVP_BytesToKey-sha256\)/),
    });
    // A seed set is never failed for having no signature (the trust rule's foreign states).
    expect(report.results.find((x) => x.key === 'shop/20261202T030000-pg-logical-seed')?.verdict).toBe('ok');
    expect(report.results.find((x) => x.key === 'shop/20261202T090000-pg-logical-seed-dump')?.verdict).toBe('ok');
    expect(existsSync(marker)).toBe(false);
    expect(r.status).toBe(1);
  }, 180_000);

  it('find finds a file inside a seed tarball once deep-verified', () => {
    const r = lifeboat(env, 'find', '*/invoices/*.pdf', '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.stringify(json(r))).toMatch(/app\/uploads\/invoices\/inv-0042\.pdf/);
  }, 60_000);

  const admin = (): string => pg.url().replace(/\/[^/]*$/, '/postgres');

  it('restore pg of a .sql.gz and of a .dump into new databases, as the restore role', async () => {
    for (const [set, database] of [
      ['shop/20261202T030000-pg-logical-seed', 'from_sql_gz'],
      ['shop/20261202T090000-pg-logical-seed-dump', 'from_dump'],
    ] as const) {
      const r = await lifeboatAsync(env, 'restore', 'pg', set, '--target', admin(), '--database', database, '--json');
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const rows = await query<{ n: string }>(
        pg.url().replace(/\/[^/]*$/, `/${database}`),
        'SELECT count(*)::text AS n FROM items',
      );
      expect(rows[0]!.n).toBe(String(ROWS));
    }
  }, 180_000);

  it('restore pg of the openssl enc sets (pbkdf2 .sql.gz.enc, legacy .sql.enc) with their passphrase; without it, says what is missing', async () => {
    const keys = json<Array<{ key: string }>>(lifeboat(env, 'sets', '--system', 'shop', '--json')).map((x) => x.key);
    const encGz = keys.find((k) => k.includes('20261202T150000'))!;
    const encSql = keys.find((k) => k.includes('20261202T180000'))!;
    expect([encGz, encSql].every(Boolean), keys.join(', ')).toBe(true);
    const without = await lifeboatAsync(env, 'restore', 'pg', encGz, '--target', admin(), '--database', 'from_enc_x');
    expect(without.status).not.toBe(0);
    expect(without.stderr + without.stdout).toMatch(/passphrase/);
    expect(await query(admin(), "SELECT 1 FROM pg_database WHERE datname = 'from_enc_x'")).toHaveLength(0);
    for (const [set, database] of [
      [encGz, 'from_enc_gz'],
      [encSql, 'from_enc_sql'],
    ] as const) {
      const r = await lifeboatAsync(
        env,
        'restore',
        'pg',
        set,
        '--target',
        admin(),
        '--database',
        database,
        '--passphrase-file',
        pwFile,
        '--json',
      );
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const rows = await query<{ n: string }>(
        pg.url().replace(/\/[^/]*$/, `/${database}`),
        'SELECT count(*)::text AS n FROM items',
      );
      expect(rows[0]!.n).toBe(String(ROWS));
    }
  }, 180_000);

  it('a dump holding \\! is refused before psql runs, naming the line; nothing is created', async () => {
    const sets = json<Array<{ key: string }>>(lifeboat(env, 'sets', '--system', 'evil', '--json'));
    const r = await lifeboatAsync(
      env,
      'restore',
      'pg',
      sets[0]!.key,
      '--target',
      admin(),
      '--database',
      'from_evil',
      '--allow-unsigned',
      '--json',
    );
    expect(r.status).not.toBe(0);
    expect(json<{ error: { message: string } }>(r).error.message).toMatch(
      /meta-command `\\! touch .*` on line 6: refused before psql ran anything.*was not created/,
    );
    expect(existsSync(marker)).toBe(false);
    expect(await query(admin(), "SELECT 1 FROM pg_database WHERE datname = 'from_evil'")).toHaveLength(0);
  }, 120_000);

  it('restore files of a .tar.gz; a tarball with a ../ member is refused and nothing lands', async () => {
    const to = join(dir.path, 'restored');
    const sets = json<Array<{ key: string; set_id: string }>>(lifeboat(env, 'sets', '--system', 'files', '--json'));
    const r = await lifeboatAsync(env, 'restore', 'files', sets[0]!.key, '--to', to, '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(readFileSync(join(to, 'app', 'uploads', 'invoices', 'inv-0042.pdf'), 'utf8')).toBe('pdf '.repeat(500));
    const bad = json<Array<{ key: string }>>(lifeboat(env, 'sets', '--system', 'uploads', '--json'));
    const to2 = join(dir.path, 'restored2', 'x');
    const r2 = await lifeboatAsync(env, 'restore', 'files', bad[0]!.key, '--to', to2, '--allow-unsigned', '--json');
    expect(r2.status).not.toBe(0);
    expect(r2.stdout + r2.stderr).toMatch(/escape the restore folder/);
    expect(existsSync(join(dir.path, 'restored2', 'outside.txt'))).toBe(false);
    expect(existsSync(to2)).toBe(false);
  }, 120_000);
});
