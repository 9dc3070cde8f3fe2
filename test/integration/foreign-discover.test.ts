import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';

/**
 * Never a silent zero (issue 19 item 5): whatever a scan recognises and cannot read is listed per
 * file or folder with what it is and what it needs; a folder with nothing known says what it saw;
 * past the listing's depth bound, the scan says where it stopped. A real Borg repository (borg init),
 * hand-made Kopia and Duplicati markers, encrypted files made by the openssl and age CLIs.
 */
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;

interface Finding {
  path: string;
  what: string;
  needs: string;
  blocking: boolean;
}
interface ScanJson {
  ok: boolean;
  sets: { total: number };
  findings: Finding[];
  hints: string[];
}

function folder(name: string): string {
  const p = join(dir.path, name);
  mkdirSync(p, { recursive: true });
  return p;
}

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
}, 10_000);

afterAll(() => dir?.cleanup());

describe('other tools and unknown files', () => {
  it('Borg, Kopia, Duplicati and encrypted files: one finding each, naming the tool and what it needs; none blocking', () => {
    const m = folder('mixed');
    execFileSync('borg', ['init', '-e', 'none', join(m, 'borg-repo')], {
      env: { ...process.env, BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes' },
      stdio: 'pipe',
    });
    mkdirSync(join(m, 'kopia', 'p0'), { recursive: true });
    writeFileSync(join(m, 'kopia', 'kopia.repository.f'), '{"uniqueID":"x","encryption":"AES256-GCM-HMAC-SHA256"}');
    writeFileSync(join(m, 'kopia', 'p0', 'p0a1b2'), 'blob');
    mkdirSync(join(m, 'nas', 'duplicati'), { recursive: true });
    writeFileSync(join(m, 'nas', 'duplicati', 'duplicati-20261201T030000Z.dlist.zip.aes'), 'AES\x02junk');
    writeFileSync(join(m, 'nas', 'duplicati', 'duplicati-b0123456789.dblock.zip.aes'), 'AES\x02junk');
    writeFileSync(join(m, 'plain.txt'), 'secret words');
    execFileSync('openssl', [
      'enc',
      '-aes-256-cbc',
      '-pbkdf2',
      '-pass',
      'pass:x',
      '-in',
      join(m, 'plain.txt'),
      '-out',
      join(m, 'dump.bin.enc'),
    ]);
    const recipient = lifeboat(env, 'keys', 'age-new', '--out', join(dir.path, 'id.age')).stdout.trim();
    execFileSync('age', ['-r', recipient, '-o', join(m, 'archive.tar.age'), join(m, 'plain.txt')]);
    const r = lifeboat(env, 'scan', m, '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const s = json<ScanJson>(r);
    const by = (path: string): Finding | undefined => s.findings.find((f) => f.path === path);
    expect(by('borg-repo')).toMatchObject({
      blocking: false,
      what: expect.stringMatching(/^Borg repository/),
      needs: expect.stringMatching(/borg list/),
    });
    expect(by('kopia')).toMatchObject({
      blocking: false,
      what: expect.stringMatching(/^Kopia repository/),
      needs: expect.stringMatching(/kopia repository connect/),
    });
    expect(by('nas/duplicati')).toMatchObject({
      blocking: false,
      what: expect.stringMatching(/^Duplicati backup .*2 files, 1 backup version, AES-encrypted/),
    });
    expect(by('dump.bin.enc')).toMatchObject({ what: expect.stringMatching(/OpenSSL enc \(Salted__\)/) });
    expect(by('archive.tar.age')).toMatchObject({
      what: expect.stringMatching(/\(age\)/),
      needs: expect.stringMatching(/age -d/),
    });
    // Files inside a recognised repository are not listed again one by one.
    expect(s.findings.filter((f) => f.path.startsWith('borg-repo/') || f.path.startsWith('kopia/'))).toEqual([]);
    const text = lifeboat(env, 'scan', m);
    expect(text.stdout).toMatch(/FOUND borg-repo: Borg repository \(BorgBackup\) at borg-repo — needs borg itself/);
    expect(text.stdout).not.toMatch(/medium init/);
  }, 60_000);

  it('a restic repository without its password: blocking, exit 2, with what is needed', () => {
    const m = folder('with-restic');
    const pw = join(dir.path, 'pw');
    writeFileSync(pw, 'pw\n');
    execFileSync('restic', ['-r', join(m, 'r'), 'init'], {
      env: { ...process.env, RESTIC_PASSWORD_FILE: pw },
      stdio: 'pipe',
    });
    const r = lifeboat(env, 'scan', m);
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(
      /NEEDS r: restic repository at r \(0 snapshot files\) — needs its password, in a file given with --password-file <file>/,
    );
  }, 60_000);

  it('an encrypted pgBackRest repository without its passphrase: named, blocking, exit 2, no binary printed', () => {
    const m = folder('pgbr-enc');
    mkdirSync(join(m, 'backup', 'shop'), { recursive: true });
    writeFileSync(join(dir.path, 'info.txt'), '[backup:current]\n');
    execFileSync('openssl', [
      'enc',
      '-aes-256-cbc',
      '-pass',
      'pass:x',
      '-in',
      join(dir.path, 'info.txt'),
      '-out',
      join(m, 'backup', 'shop', 'backup.info'),
    ]);
    const r = lifeboat(env, 'scan', m);
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(
      /NEEDS backup\/shop(\/backup\.info)?: encrypted pgBackRest repository shop — needs its passphrase, in a file given with --passphrase-file <file>/,
    );
    expect(r.stdout).not.toMatch(/Salted__|Not an INI line/);
  }, 60_000);

  it('0 sets on a folder that is not empty says what it saw', () => {
    const m = folder('other-things');
    for (let i = 0; i < 3; i++) writeFileSync(join(m, `app-${i}.log`), 'x'.repeat(100 * (i + 1)));
    writeFileSync(join(m, 'report.pdf'), 'y'.repeat(5000));
    const r = lifeboat(env, 'scan', m, '--json');
    expect(r.status, r.stderr).toBe(0);
    const s = json<ScanJson>(r);
    expect(s.sets.total).toBe(0);
    expect(s.hints.join('\n')).toMatch(
      /0 sets: saw 4 files \([0-9.]+ KiB\): 3 \.log, 1 \.pdf; largest report\.pdf, app-2\.log, app-1\.log/,
    );
  }, 60_000);

  it('past the depth bound: a finding says where the listing stopped and what to do', () => {
    const m = folder('deep');
    const deep = join(m, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i');
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'postgres_x_20261202_030000.sql.gz'), 'not found this deep');
    writeFileSync(join(m, 'a', 'shallow.txt'), 'seen');
    const r = lifeboat(env, 'scan', m, '--json');
    expect(r.status, r.stderr).toBe(0);
    const s = json<ScanJson>(r);
    expect(s.sets.total).toBe(0);
    expect(s.findings).toEqual([
      expect.objectContaining({
        path: 'a/b/c/d/e/f/g/h',
        blocking: false,
        what: expect.stringMatching(/^stopped listing at depth 8/),
        needs: expect.stringMatching(/scan of a narrower folder/),
      }),
    ]);
    // At depth 8 exactly the seed file is found.
    const closer = lifeboat(env, 'scan', join(m, 'a'), '--json');
    expect(json<ScanJson>(closer).sets.total).toBe(1);
  }, 60_000);
});
