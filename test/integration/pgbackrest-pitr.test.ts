import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers } from '../../electron/engine/api/handlers';
import { dispatch } from '../../electron/engine/api/dispatch';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { Engine } from '../../electron/engine/engine';
import { silentLogger } from '../../electron/engine/log/logger';
import { postgresRunAs, runPgTool } from '../../electron/engine/postgres/scratch-cluster';
import { json, lifeboat, lifeboatAsync } from '../helpers/cli';
import { query, type ScratchCluster } from '../helpers/postgres';
import { nextSecond } from '../helpers/clock';
import { pgbackrestArchivePush, pgbackrestConfig, type Pgbackrest } from '../helpers/pgbackrest';
import { tempDir } from '../helpers/temp';
import { chownForPostgres, startArchivingPostgres, switchAndArchive } from '../helpers/wal-archiving';

/**
 * Point-in-time recovery from real pgBackRest 2.x repositories, without pgbackrest on the restore
 * side: a cluster archives with `pgbackrest archive-push` into two repositories at once (A: gz,
 * plain; B: zst, aes-256-cbc), a full backup goes to each, rows are inserted in two batches with
 * a target time between, and Lifeboat plans, verifies and restores from each repository.
 */

let pg: ScratchCluster;
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
const repo = { a: '', b: '' };
const conf = { a: '', b: '' };
let passFile: string;
let target = '';
/** The warnings of the last restore (the trust rule's named state is one). */
let warnings = '';
const FIRST = ['a1', 'a2', 'a3'];
/** Rows a restore to the target brings back: the one inserted before the incremental backup, and the first batch. */
const BEFORE_TARGET = [...FIRST, 'before-incr'];
const SECOND = ['b1', 'b2'];
/** The archived segments of a repository (their stored files). */
function segments(root: string): string[] {
  const base = join(root, 'archive', 'shop', '15-1');
  const out: string[] = [];
  for (const d of readdirSync(base).filter((x) => /^[0-9A-F]{16}$/.test(x))) {
    for (const f of readdirSync(join(base, d))) if (/^[0-9A-F]{24}-[0-9a-f]{40}/.test(f)) out.push(join(base, d, f));
  }
  return out.sort();
}

beforeAll(async () => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  chownForPostgres(dir.path);
  // Both repositories get every segment: A's push, then B's (PostgreSQL retries the whole command on failure).
  pg = await startArchivingPostgres(
    dir.path,
    `${pgbackrestArchivePush(dir.path, 'pgbackrest-a')} && ${pgbackrestArchivePush(dir.path, 'pgbackrest-b')}`,
    { script: 'pgbackrest-archive-push.sh' },
  );
  const repoConfig = (name: 'a' | 'b', extra: string[]): Pgbackrest => {
    repo[name] = join(dir.path, `repo-${name}`);
    mkdirSync(repo[name]);
    chownForPostgres(repo[name]);
    const p = pgbackrestConfig({
      dir: dir.path,
      pg,
      name: `pgbackrest-${name}`,
      global: [`repo1-path=${repo[name]}`, 'repo1-retention-full=2', ...extra],
    });
    conf[name] = p.conf;
    return p;
  };
  const a = repoConfig('a', ['compress-type=gz']);
  const b = repoConfig('b', [
    'compress-type=zst',
    'repo1-bundle=y',
    'repo1-cipher-type=aes-256-cbc',
    'repo1-cipher-pass=correct horse battery staple',
  ]);
  passFile = join(dir.path, 'repo-b.pass');
  writeFileSync(passFile, 'correct horse battery staple\n', { mode: 0o600 });
  a.ok('stanza-create');
  b.ok('stanza-create');
  await query(pg.url(), 'CREATE TABLE marks (tag text PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())');
  a.ok('backup', '--type=full');
  b.ok('backup', '--type=full');
  // A: an incremental on top, so the restore follows references into the full backup's folder.
  await query(pg.url(), "INSERT INTO marks (tag) VALUES ('before-incr')");
  a.ok('backup', '--type=incr');
  // Each event in a second of its own (pgBackRest's labels and stamps are to the second).
  await nextSecond();
  for (const t of FIRST) await query(pg.url(), 'INSERT INTO marks (tag) VALUES ($1)', [t]);
  await switchAndArchive(pg);
  await nextSecond();
  target = new Date().toISOString();
  await nextSecond();
  for (const t of SECOND) await query(pg.url(), 'INSERT INTO marks (tag) VALUES ($1)', [t]);
  await switchAndArchive(pg);
}, 120_000);

afterAll(async () => {
  await pg?.destroy();
  dir?.cleanup();
});

interface Plan {
  origin: string;
  medium: string;
  bases: Array<{ setId: string; startLsn: string }>;
  gaps: unknown[];
  timelines: Array<{ timeline: number; segments: number }>;
  windows: Array<{ base: string; segments: number; to: string; toBasis: string }>;
  target: { inside: boolean; base: string; segments: string[] };
}

async function restoreAndCount(from: string, name: string, ...extra: string[]): Promise<string[]> {
  const data = join(dir.path, name);
  const r = await lifeboatAsync(
    env,
    'restore',
    'pg-pitr',
    '--system',
    'shop',
    '--from',
    from,
    '--target-time',
    target,
    '--data-dir',
    data,
    '--json',
    ...extra,
  );
  expect(r.status, r.stdout + r.stderr).toBe(0);
  const res = json<{ port: number; running: boolean; warnings: string[] }>(r);
  expect(res.running).toBe(true);
  expect(res.warnings.join(' ')).toContain('pgBackRest backup (foreign; ');
  warnings = res.warnings.join(' ');
  try {
    const rows = await query<{ tag: string }>(
      `postgres://postgres@127.0.0.1:${res.port}/postgres`,
      'SELECT tag FROM marks ORDER BY tag',
    );
    // Modes from the manifest: PostgreSQL's files 0600 in a 0700 data directory.
    expect((await import('node:fs')).statSync(join(data, 'PG_VERSION')).mode & 0o777).toBe(0o600);
    return rows.map((x) => x.tag);
  } finally {
    await runPgTool(join(pg.binDir, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'], { runAs: postgresRunAs() });
  }
}

describe('a plain (gz) pgBackRest repository', () => {
  it('pitr plan shows the pgBackRest base backup and contiguous WAL, the target inside', () => {
    const r = lifeboat(env, 'pitr', 'plan', '--system', 'shop', '--from', repo.a, '--target-time', target, '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const plan = json<Plan>(r);
    expect(plan.origin).toBe('pgbackrest');
    expect(plan.bases.map((b) => b.setId)).toEqual([
      expect.stringMatching(/^\d{8}-\d{6}F$/),
      expect.stringMatching(/^\d{8}-\d{6}F_\d{8}-\d{6}I$/),
    ]);
    expect(plan.gaps).toEqual([]);
    expect(plan.windows[1]!.segments).toBeGreaterThanOrEqual(3);
    expect(plan.windows[1]!.toBasis).toBe('commit record (pg_waldump)');
    expect(plan.target.inside).toBe(true);
    // The newest backup before the target: the incremental (its unchanged files are the full's).
    expect(plan.target.base).toBe(plan.bases[1]!.setId);
  });

  it('verify --wal decodes every segment and checks its SHA-1; a corrupted segment fails, by name', () => {
    const ok = lifeboat(env, 'verify', repo.a, '--wal', 'shop', '--json');
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    const c = json<{ ok: boolean; origin: string; files: number; corrupt: Array<{ name: string; reason: string }> }>(
      ok,
    );
    expect(c.ok).toBe(true);
    expect(c.origin).toBe('pgbackrest');
    expect(c.files).toBeGreaterThanOrEqual(4);

    // A copy of the repository with one segment re-compressed from changed content: gzip is valid, the SHA-1 is not.
    const copy = join(dir.path, 'repo-a-corrupt');
    cpSync(repo.a, copy, { recursive: true });
    const victim = segments(copy)[1]!;
    const name = victim.split('/').pop()!.slice(0, 24);
    const plain = spawnSync('gzip', ['-dc', victim]).stdout;
    plain[4096] = plain[4096]! ^ 0xff;
    writeFileSync(victim, spawnSync('gzip', ['-c'], { input: plain }).stdout);
    const bad = lifeboat(env, 'verify', copy, '--wal', 'shop');
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain(`FAIL  ${name}: The archived ${name} is corrupted`);
    expect(bad.stdout).toContain('SHA-1');
  });

  it('restore pg-pitr refuses a backup never verified here (the trust rule), then, verified, brings back exactly the rows before the target', async () => {
    const refused = await lifeboatAsync(
      env,
      'restore',
      'pg-pitr',
      '--system',
      'shop',
      '--from',
      repo.a,
      '--target-time',
      target,
      '--data-dir',
      join(dir.path, 'refused'),
    );
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('never verified successfully here');
    expect(lifeboat(env, 'scan', repo.a).status).toBe(0);
    // systems shows the stanza's WAL archive like Lifeboat's own: its newest segment and when it was archived.
    const systems = json<
      Array<{
        system: string;
        wal: Array<{ files: number; gaps: number; lastSegment: string; lastArchivedAt: string }>;
      }>
    >(lifeboat(env, 'systems', '--json'));
    const wal = systems.find((x) => x.system === 'shop')!.wal;
    expect(wal).toHaveLength(1);
    expect(wal[0]!.files).toBeGreaterThanOrEqual(4);
    expect(wal[0]!.gaps).toBe(0);
    expect(wal[0]!.lastSegment).toBe(segments(repo.a).pop()!.split('/').pop()!.slice(0, 24));
    expect(Date.parse(wal[0]!.lastArchivedAt)).toBeGreaterThan(Date.parse(target));
    const verified = lifeboat(env, 'verify', repo.a, '--level', 'integrity');
    expect(verified.status, verified.stdout + verified.stderr).toBe(0);
    expect(await restoreAndCount(repo.a, 'restored-a')).toEqual(BEFORE_TARGET);
    expect(warnings).toContain('foreign: integrity data of the format (pgBackRest manifest checksums); first verified');
  }, 60_000);

  it('refuses a data file that does not match the manifest before anything starts', async () => {
    const copy = join(dir.path, 'repo-a-badfile');
    cpSync(repo.a, copy, { recursive: true });
    // PG_VERSION is unchanged since the full backup: the incremental refers to the full's copy.
    const backups = readdirSync(join(copy, 'backup', 'shop')).filter((x) => /F$/.test(x));
    const pgVersion = join(copy, 'backup', 'shop', backups[0]!, 'pg_data', 'PG_VERSION.gz');
    writeFileSync(pgVersion, spawnSync('gzip', ['-c'], { input: '16\n' }).stdout);
    const data = join(dir.path, 'restored-badfile');
    const r = await lifeboatAsync(
      env,
      'restore',
      'pg-pitr',
      '--system',
      'shop',
      '--from',
      copy,
      '--target-time',
      target,
      '--data-dir',
      data,
      '--allow-unsigned',
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('PG_VERSION');
    expect(r.stderr).toContain('does not match its manifest');
    // The file never reached its name, and its unproven bytes are gone from the data directory.
    expect(readdirSync(data).filter((n) => n.includes('PG_VERSION'))).toEqual([]);
  }, 60_000);
});

describe('a zst-compressed, encrypted pgBackRest repository', () => {
  it('without the passphrase, planning names what is missing', () => {
    const r = lifeboat(env, 'pitr', 'plan', '--system', 'shop', '--from', repo.b);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('encrypted');
    expect(r.stderr).toContain('--passphrase-file');
    expect(r.stderr).not.toContain('correct horse');
  });

  it('verify --wal with the passphrase decrypts and checks every segment', () => {
    const names = segments(repo.b).map((f) => f.split('/').pop()!);
    expect(names.every((n) => n.endsWith('.zst'))).toBe(true);
    expect(readFileSync(segments(repo.b)[0]!).subarray(0, 8).toString('latin1')).toBe('Salted__');
    const r = lifeboat(env, 'verify', repo.b, '--wal', 'shop', '--passphrase-file', passFile, '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(json<{ ok: boolean }>(r).ok).toBe(true);
  });

  it("the app's PITR plan reads the passphrase from the keychain (pgbackrest:shop), as the CLI and runbooks do", async () => {
    // The app's catalog knows the repository (a scan with the passphrase); the keychain starts empty.
    const appHome = join(dir.path, 'app');
    const scan = lifeboat({ LIFEBOAT_HOME: appHome }, 'scan', repo.b, '--passphrase-file', passFile);
    expect(scan.status, scan.stdout + scan.stderr).toBe(0);
    const credentials = new MemoryCredentialStore();
    const engine = new Engine({ dataDir: appHome, credentials, frontDoor: 'bridge', throttleMs: 10 });
    try {
      const handlers = createHandlers(engine);
      const plan = (): ReturnType<typeof dispatch> =>
        dispatch(handlers, 'planPitr', { system: 'shop', targetTime: target }, silentLogger);
      const locked = await plan();
      expect(locked.ok).toBe(false);
      expect(JSON.stringify(locked)).toContain('encrypted');
      expect(JSON.stringify(locked)).not.toContain('correct horse');
      await credentials.set('pgbackrest:shop', 'correct horse battery staple');
      const r = await plan();
      expect(r.ok, JSON.stringify(r)).toBe(true);
      const value = (r as { value: Plan }).value;
      // The wire plan names the stanza's repository and its full backup (pgBackRest's label).
      expect(value.medium).toContain('repo-b');
      expect(value.bases.map((b) => b.setId)).toEqual([expect.stringMatching(/^\d{8}-\d{6}F$/)]);
      expect(value.gaps).toEqual([]);
      expect(value.target.inside).toBe(true);
      expect(value.target.base).toBe(value.bases[0]!.setId);
    } finally {
      await engine.close();
    }
  }, 60_000);

  it('restore pg-pitr, accepted with the override, brings back exactly the rows before the target', async () => {
    expect(await restoreAndCount(repo.b, 'restored-b', '--passphrase-file', passFile, '--allow-unsigned')).toEqual(
      BEFORE_TARGET,
    );
    expect(warnings).toContain('accepted with the override (--allow-unsigned)');
  }, 60_000);
});
