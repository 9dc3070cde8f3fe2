import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, lifeboat, lifeboatAsync } from '../helpers/cli';
import { tempDir } from '../helpers/temp';

/**
 * A real restic repository (restic 0.14, Debian), made here with restic init + backup: cataloged
 * through the restic CLI with --password-file, its files found, verified by restic check, one file
 * restored into a target holding a planted link; the wrong password is an exit 2 that says so.
 */
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let pw: string;
let key: string;

interface ScanJson {
  ok: boolean;
  sets: { total: number };
  foreign: { restic: number };
  findings: Array<{ path: string; what: string; needs: string; blocking: boolean }>;
}

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'usb');
  const src = join(dir.path, 'src');
  mkdirSync(join(src, 'invoices', '2026'), { recursive: true });
  writeFileSync(join(src, 'invoices', '2026', 'inv-001.pdf'), 'invoice one');
  writeFileSync(join(src, 'notes.txt'), 'notes');
  pw = join(dir.path, 'restic-pw');
  writeFileSync(join(dir.path, 'restic-pw'), 'correct horse\n');
  const repo = join(medium, 'restic-repo');
  const renv = { ...process.env, RESTIC_PASSWORD_FILE: pw };
  execFileSync('restic', ['-r', repo, 'init'], { env: renv, stdio: 'pipe' });
  execFileSync(
    'restic',
    ['-r', repo, 'backup', '--host', 'web01', '--tag', 'system=shop-files', 'invoices', 'notes.txt'],
    { env: renv, cwd: src, stdio: 'pipe' },
  );
}, 120_000);

afterAll(() => dir?.cleanup());

describe('restic through its CLI', () => {
  it('without the password: the repository is named with what it needs, exit 2, nothing cataloged', () => {
    const r = lifeboat(env, 'scan', medium, '--json');
    expect(r.status, r.stderr).toBe(2);
    const s = json<ScanJson>(r);
    expect(s.ok).toBe(false);
    expect(s.sets.total).toBe(0);
    expect(s.findings).toEqual([
      expect.objectContaining({ path: 'restic-repo', blocking: true, needs: expect.stringMatching(/--password-file/) }),
    ]);
    const text = lifeboat(env, 'scan', medium);
    expect(text.stdout).toMatch(/NEEDS restic-repo: restic repository at restic-repo .* needs its password/);
    expect(text.stdout).not.toMatch(/medium init/);
  }, 60_000);

  it('the wrong password: a clear error, exit 2, the password never printed', () => {
    const wrong = join(dir.path, 'wrong-pw');
    writeFileSync(wrong, 'Tr0ub4dor\n');
    const r = lifeboat(env, 'scan', medium, '--password-file', wrong);
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/the right password \(The password given does not open the restic repository/);
    expect(r.stdout + r.stderr).not.toContain('Tr0ub4dor');
  }, 60_000);

  it('with --password-file: each snapshot a files set (system from its tag), its files found', () => {
    const r = lifeboat(env, 'scan', medium, '--password-file', pw, '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const s = json<ScanJson>(r);
    expect(s.foreign.restic).toBe(1);
    expect(s.findings).toEqual([]);
    const sets = json<Array<{ key: string; origin: string; kind: string }>>(lifeboat(env, 'sets', '--json'));
    expect(sets).toHaveLength(1);
    expect(sets[0]).toMatchObject({ origin: 'restic', kind: 'files' });
    key = sets[0]!.key;
    expect(key).toMatch(/^shop-files\/\d{8}T\d{6}Z-files-restic-[0-9a-f]{8}$/);
    const found = json<Array<{ path: string; setKey?: string; set?: string }>>(
      lifeboat(env, 'find', '*/inv-*.pdf', '--json'),
    );
    expect(found.map((f) => f.path)).toEqual(['invoices/2026/inv-001.pdf']);
  }, 60_000);

  it('verify: integrity is restic check, deep reads every pack; authenticity names the format state', () => {
    for (const level of ['integrity', 'authenticity', 'deep']) {
      const r = lifeboat(env, 'verify', medium, '--level', level, '--password-file', pw, '--json');
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const [res] = json<{ results: Array<{ verdict: string; detail: string; trust?: string | null }> }>(r).results;
      expect(res!.verdict).toBe('ok');
      expect(res!.detail).toMatch(
        level === 'deep' ? /restic check --read-data: no errors were found/ : /restic check: no errors were found/,
      );
      if (level !== 'integrity')
        expect(res!.trust).toMatch(/^foreign: integrity data of the format \(restic content hashes\); first verified/);
    }
    const subset = lifeboat(
      env,
      'verify',
      medium,
      '--level',
      'deep',
      '--read-data-subset',
      '1/2',
      '--password-file',
      pw,
    );
    expect(subset.status, subset.stdout + subset.stderr).toBe(0);
    expect(subset.stdout).toMatch(/restic check --read-data-subset=1\/2/);
  }, 120_000);

  it('restore files of one file into a target holding a planted link: the link is replaced, never written through', async () => {
    const target = join(dir.path, 'target');
    const outside = join(dir.path, 'outside');
    mkdirSync(target);
    mkdirSync(outside);
    symlinkSync(outside, join(target, 'invoices'));
    const r = await lifeboatAsync(
      env,
      'restore',
      'files',
      key,
      '--to',
      target,
      '--path',
      'invoices/2026/inv-001.pdf',
      '--into-existing',
      '--overwrite',
      '--password-file',
      pw,
      '--json',
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(readdirSync(outside)).toEqual([]);
    expect(lstatSync(join(target, 'invoices')).isDirectory()).toBe(true);
    expect(readFileSync(join(target, 'invoices', '2026', 'inv-001.pdf'), 'utf8')).toBe('invoice one');
    expect(existsSync(join(target, 'notes.txt'))).toBe(false);
    expect(readdirSync(target).filter((n) => n.startsWith('.lifeboat-restore'))).toEqual([]);
  }, 120_000);

  it('a damaged pack fails integrity as corrupted', () => {
    const data = join(medium, 'restic-repo', 'data');
    const sub = readdirSync(data).find((d) => readdirSync(join(data, d)).length > 0)!;
    const pack = join(data, sub, readdirSync(join(data, sub))[0]!);
    const bytes = readFileSync(pack);
    const mid = Math.floor(bytes.length / 2);
    bytes[mid] = bytes[mid]! ^ 0xff;
    writeFileSync(pack, bytes);
    const r = lifeboat(env, 'verify', medium, '--level', 'deep', '--password-file', pw, '--json');
    expect(r.status, r.stdout + r.stderr).toBe(1);
    const [res] = json<{ results: Array<{ verdict: string; detail: string }> }>(r).results;
    expect(res!.verdict).toBe('corrupted');
    expect(res!.detail).toMatch(/restic check --read-data/);
  }, 120_000);
});
