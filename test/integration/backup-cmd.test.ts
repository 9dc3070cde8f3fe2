import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, json, lifeboat, type CliRun } from '../helpers/cli';
import { keyedMedium, type KeyedMedium } from '../helpers/keyed-medium';
import { tempDir } from '../helpers/temp';
import { treeState } from '../helpers/tree-state';

/**
 * `lifeboat backup cmd` / `restore cmd` with real commands (tar, sh, head): a stream set round trip
 * byte for byte, failures that leave no set, a --shell pipeline, commands that stop reading, a
 * tampered stream at deep level, and a cancel that kills the command's children.
 */
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let km: KeyedMedium;
let src: string;

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  km = keyedMedium(env, dir.path);
  src = join(dir.path, 'src');
  mkdirSync(join(src, 'conf'), { recursive: true });
  writeFileSync(join(src, 'conf', 'app.yml'), 'port: 8080\n');
  // Incompressible and larger than a pipe buffer: a command that stops reading is seen.
  writeFileSync(join(src, 'blob.bin'), Buffer.from(Array.from({ length: 600_000 }, (_, i) => (i * 7919) % 251)));
});
afterAll(() => dir.cleanup());

const backupCmd = (system: string, ...args: string[]): CliRun =>
  lifeboat(
    env,
    'backup',
    'cmd',
    '--system',
    system,
    '--to',
    km.medium,
    '--recipient',
    km.recipient,
    '--sign-key',
    km.signKey,
    '--json',
    ...args,
  );
const restoreCmd = (set: string, ...args: string[]): CliRun =>
  lifeboat(env, 'restore', 'cmd', set, '--identity', km.identity, ...args);
/** The set folders of a system on the medium (partial ones are hidden dot folders, removed on failure). */
const setsOf = (system: string): string[] => {
  const d = join(km.medium, 'sets', system);
  return existsSync(d) ? readdirSync(d) : [];
};

describe('backup cmd and restore cmd (kind stream)', { timeout: 60_000 }, () => {
  let key: string;

  it('stores tar -c as a signed, encrypted set; deep verify passes; restore cmd feeds tar -x byte for byte', () => {
    const r = backupCmd(
      'app',
      '--kind',
      'tar-archive',
      '--command',
      `tar -c -C ${src} .`,
      '--version-command',
      'tar --version',
    );
    expect(r.status, r.stderr).toBe(0);
    const out = json<{ set_id: string; kind: string; path: string }>(r);
    expect(out.kind).toBe('stream');
    expect(out.set_id).toMatch(/Z-stream$/);
    key = `app/${out.set_id}`;
    const manifest = JSON.parse(readFileSync(join(km.medium, out.path, 'manifest.json'), 'utf8')) as {
      source: Record<string, unknown>;
      artifacts: Array<{ path: string; role: string }>;
    };
    expect(manifest.artifacts.map((a) => [a.path, a.role])).toEqual([['stream.zst.age', 'stream']]);
    expect(manifest.source).toMatchObject({
      label: 'tar-archive',
      command: ['tar', '-c', '-C', src, '.'],
      shell: false,
      exit_status: 0,
      tool_version: expect.stringMatching(/^tar \(GNU tar\)/) as unknown,
    });
    expect(manifest.source.duration_ms).toEqual(expect.any(Number));

    const v = lifeboat(env, 'verify', key, '--level', 'deep', '--identity', km.identity, '--json');
    expect(v.status, v.stdout + v.stderr).toBe(0);

    const into = join(dir.path, 'restored');
    mkdirSync(into);
    // Without the typed confirmation (the system's name) nothing runs.
    const refused = restoreCmd(key, '--command', `tar -x -C ${into}`);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/Type the system name app/);
    expect(readdirSync(into)).toEqual([]);
    const back = restoreCmd(key, '--command', `tar -x -C ${into}`, '--confirm', 'app', '--json');
    expect(back.status, back.stdout + back.stderr).toBe(0);
    expect(json<{ output: { exit_status: number; staged: boolean; bytes_fed: number } }>(back).output).toMatchObject({
      exit_status: 0,
      staged: true,
    });
    // tar keeps whole seconds of mtime: every entry's type, mode and content as the source's.
    const noTime = (t: ReturnType<typeof treeState>): Record<string, unknown> =>
      Object.fromEntries(Object.entries(t).map(([k, { mtime: _m, ...rest }]) => [k, rest]));
    expect(noTime(treeState(into))).toEqual(noTime(treeState(src)));
  });

  it('a command that fails mid-way (exit 3 after output) or is refused leaves no set on the medium', () => {
    const before = setsOf('broken');
    const r = backupCmd(
      'broken',
      '--kind',
      'x',
      '--shell',
      '--command',
      `head -c 300000 ${src}/blob.bin; echo disk gone >&2; exit 3`,
    );
    expect(r.status).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/exit 3.*disk gone.*No set was written/s);
    expect(setsOf('broken')).toEqual(before);
    const killed = backupCmd('broken', '--kind', 'x', '--shell', '--command', 'echo partial; kill -9 $$');
    expect(killed.status).toBe(1);
    expect(killed.stdout + killed.stderr).toMatch(/SIGKILL/);
    expect(setsOf('broken')).toEqual(before);
    // A password on the command line is refused before anything runs, and never echoed.
    const secret = backupCmd(
      'broken',
      '--kind',
      'x',
      '--command',
      'mongodump --archive --uri=mongodb://app:Sup3rS3cret@db/x',
    );
    expect(secret.status).toBe(2);
    expect(secret.stdout + secret.stderr).toMatch(/environment/);
    expect(secret.stdout + secret.stderr).not.toContain('Sup3rS3cret');
  });

  it('a --shell pipeline on both sides; a restore command that stops reading or fails is reported', () => {
    const r = backupCmd('pipe', '--kind', 'text', '--shell', '--command', `printf 'abcabc' | tr a-c x-z`);
    expect(r.status, r.stderr).toBe(0);
    const set = `pipe/${json<{ set_id: string }>(r).set_id}`;
    const out = join(dir.path, 'piped.txt');
    const back = restoreCmd(set, '--shell', '--command', `tr x-z a-c > ${out}`, '--confirm', 'pipe');
    expect(back.status, back.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('abcabc');

    // The big set: `head -c 10` stops reading after 10 bytes and exits 0; `sh -c 'exit 4'` fails.
    const early = restoreCmd(key, '--command', 'head -c 10', '--confirm', 'app');
    expect(early.status).toBe(1);
    expect(early.stderr).toMatch(/exited 0 but read only \d+ of \d+ bytes/);
    const failing = restoreCmd(
      key,
      '--shell',
      '--command',
      'cat > /dev/null; echo no daemon >&2; exit 4',
      '--confirm',
      'app',
    );
    expect(failing.status).toBe(1);
    expect(failing.stderr).toMatch(/exit 4.*no daemon/);
  });

  it('a tampered stream fails deep verification; staged, the restore command never starts; streamed, it is told it read unverified bytes', () => {
    const r = backupCmd('tamper', '--kind', 'tar-archive', '--command', `tar -c -C ${src} .`);
    expect(r.status, r.stderr).toBe(0);
    const out = json<{ set_id: string; path: string }>(r);
    const set = `tamper/${out.set_id}`;
    const file = join(km.medium, out.path, 'stream.zst.age');
    const bytes = readFileSync(file);
    bytes[bytes.length - 100]! ^= 0xff;
    writeFileSync(file, bytes);
    const v = lifeboat(env, 'verify', set, '--level', 'deep', '--identity', km.identity);
    expect(v.status).toBe(1);
    expect(v.stdout).toMatch(/corrupted/i);
    const marker = join(dir.path, 'ran');
    const staged = restoreCmd(set, '--shell', '--command', `touch ${marker}; cat > /dev/null`, '--confirm', 'tamper');
    expect(staged.status).toBe(1);
    expect(existsSync(marker)).toBe(false);
    const streamed = restoreCmd(
      set,
      '--stream',
      '--shell',
      '--command',
      `touch ${marker}; cat > /dev/null`,
      '--confirm',
      'tamper',
    );
    expect(streamed.status).toBe(1);
    expect(existsSync(marker)).toBe(true);
    expect(streamed.stderr).toMatch(/had already read \d+ bytes/);
  });

  it('a cancel (SIGTERM) kills the command and its children, and leaves no set', async () => {
    const pidFile = join(dir.path, 'child.pid');
    const child = spawn(
      process.execPath,
      [
        BIN,
        'backup',
        'cmd',
        '--system',
        'slow',
        '--kind',
        'x',
        '--to',
        km.medium,
        '--shell',
        '--command',
        `echo started; sleep 30 & echo $! > ${pidFile}; wait`,
      ],
      { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    const deadline = Date.now() + 20_000;
    while (!existsSync(pidFile) || readFileSync(pidFile, 'utf8').trim() === '') {
      if (Date.now() > deadline) throw new Error(`the command never started: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const sleeper = Number(readFileSync(pidFile, 'utf8').trim());
    child.kill('SIGTERM');
    expect(await exited).toBe(1);
    expect(stderr).toMatch(/Cancelled/);
    const alive = (): boolean => {
      try {
        process.kill(sleeper, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 40 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
    expect(setsOf('slow')).toEqual([]);
  });
});
