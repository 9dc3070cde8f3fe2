import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';
import { treeState, withMtimesWithin } from '../helpers/tree-state';

/**
 * Incremental semantics of restic and Kopia (issue 18 item 2): an entry is unchanged only if
 * type, size, mtime, ctime, inode and device match the parent's index line; each set's index is
 * the complete tree at that time; its tar holds what changed, every directory and hardlink.
 * Checked on the index and the tar of each set (restores: restore-by-hand.test.ts).
 */

let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let src: string;
const sets: string[] = [];
const states: Array<Set<string>> = [];

interface IndexLine {
  path: string;
  type: string;
  sha256: string | null;
  target: string | null;
  mode: number;
  in: string;
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

function backup(incremental: boolean): void {
  const r = lifeboat(
    env,
    'backup',
    'files',
    '--system',
    'inc',
    '--path',
    src,
    '--to',
    medium,
    '--allow-plaintext',
    '--json',
    ...(incremental ? ['--incremental'] : []),
  );
  expect(r.status, r.stderr).toBe(0);
  sets.push(json<{ set_id: string }>(r).set_id);
  states.push(new Set(Object.keys(treeState(src)).map((k) => `src/${Buffer.from(k, 'hex').toString('utf8')}`)));
}

function index(n: number): Map<string, IndexLine> {
  const text = execFileSync('zstd', ['-dc', join(medium, 'sets/inc', sets[n]!, 'index.jsonl.zst')], {
    encoding: 'utf8',
  });
  return new Map(
    text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as IndexLine)
      .map((e) => [e.path, e]),
  );
}

/** The tar's members of set n: name -> type letter of `tar -tv` ('-', 'd', 'l', 'h'). */
function tarMembers(n: number): Map<string, string> {
  const tar = join(medium, 'sets/inc', sets[n]!, 'files.tar.zst');
  const out = execFileSync('bash', ['-c', `zstd -dc "${tar}" | tar -tvf - --warning=no-unknown-keyword`], {
    encoding: 'utf8',
  });
  const members = new Map<string, string>();
  for (const line of out.trim().split('\n')) {
    const name = line
      .replace(/^.*? \d{4}-\d\d-\d\d \d\d:\d\d /, '')
      .replace(/ (->|link to) .*$/, '')
      .replace(/\/$/, '');
    members.set(name, line[0]!);
  }
  return members;
}

function tarContent(n: number, member: string): string {
  const tar = join(medium, 'sets/inc', sets[n]!, 'files.tar.zst');
  return execFileSync('bash', ['-c', `zstd -dc "${tar}" | tar -xOf - "${member}"`], { encoding: 'utf8' });
}

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'drive');
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'drive').status).toBe(0);
  src = join(dir.path, 'src');
  mkdirSync(join(src, 'olddir/sub'), { recursive: true });
  writeFileSync(join(src, 'olddir/sub/f.txt'), 'renamed, then deleted\n');
  mkdirSync(join(src, 'willbefile'));
  writeFileSync(join(src, 'willbefile/x'), 'x\n');
  writeFileSync(join(src, 'willbedir'), 'file\n');
  writeFileSync(join(src, 'willbelink'), 'file\n');
  writeFileSync(join(src, 'acct'), 'balance=100\n');
  writeFileSync(join(src, 'keep.txt'), 'never changes\n');
  writeFileSync(join(src, 'meta.txt'), 'only its mode changes\n');
  backup(false);

  renameSync(join(src, 'olddir'), join(src, 'newdir'));
  rmSync(join(src, 'willbefile'), { recursive: true });
  writeFileSync(join(src, 'willbefile'), 'was a directory\n');
  rmSync(join(src, 'willbedir'));
  mkdirSync(join(src, 'willbedir'));
  writeFileSync(join(src, 'willbedir/inside'), 'was a file\n');
  rmSync(join(src, 'willbelink'));
  symlinkSync('keep.txt', join(src, 'willbelink'));
  // Same size, mtime put back: only the ctime (which no one can set) tells.
  const before = statSync(join(src, 'acct'), { bigint: true });
  execFileSync('touch', ['-r', join(src, 'acct'), join(dir.path, 'acct-mtime')]);
  writeFileSync(join(src, 'acct'), 'balance=999\n');
  execFileSync('touch', ['-r', join(dir.path, 'acct-mtime'), join(src, 'acct')]);
  expect(statSync(join(src, 'acct'), { bigint: true }).mtimeNs).toBe(before.mtimeNs);
  chmodSync(join(src, 'meta.txt'), 0o600);
  backup(true);

  rmSync(join(src, 'newdir'), { recursive: true });
  backup(true);
});
afterAll(() => dir.cleanup());

describe('incremental sets: exact state, restic/Kopia change detection', () => {
  it('each index is the complete tree at its time, nothing more', () => {
    for (let n = 0; n < 3; n++) expect(new Set(index(n).keys())).toEqual(new Set(['src', ...states[n]!]));
  });

  it('a same-size change whose mtime was put back is stored (ctime changed)', () => {
    const acct = index(1).get('src/acct')!;
    expect(acct).toMatchObject({ in: sets[1], sha256: sha('balance=999\n') });
    expect(tarContent(1, 'src/acct')).toBe('balance=999\n');
    expect(index(2).get('src/acct')).toMatchObject({ in: sets[1], sha256: sha('balance=999\n') });
  });

  it('an unchanged file stays in the set that holds it, a mode change is stored again', () => {
    expect(index(1).get('src/keep.txt')!.in).toBe(sets[0]);
    expect(index(2).get('src/keep.txt')!.in).toBe(sets[0]);
    expect(tarMembers(1).has('src/keep.txt')).toBe(false);
    expect(index(1).get('src/meta.txt')).toMatchObject({ in: sets[1], mode: 0o600 });
    expect(tarMembers(1).get('src/meta.txt')).toBe('-');
  });

  it('a renamed directory is stored under its new name; deleted, it leaves the index', () => {
    const second = index(1);
    expect([...second.keys()].filter((p) => p.startsWith('src/olddir'))).toEqual([]);
    expect(second.get('src/newdir/sub/f.txt')).toMatchObject({ in: sets[1], type: 'file' });
    expect(tarMembers(1).get('src/newdir/sub/f.txt')).toBe('-');
    expect([...index(2).keys()].filter((p) => p.includes('dir/sub'))).toEqual([]);
  });

  it('type changes dir -> file, file -> dir, file -> symlink are stored with their new type', () => {
    const second = index(1);
    expect(second.get('src/willbefile')).toMatchObject({ type: 'file', in: sets[1], sha256: sha('was a directory\n') });
    expect(second.has('src/willbefile/x')).toBe(false);
    expect(second.get('src/willbedir')).toMatchObject({ type: 'dir', in: sets[1] });
    expect(second.get('src/willbedir/inside')).toMatchObject({ type: 'file', in: sets[1] });
    expect(second.get('src/willbelink')).toMatchObject({ type: 'symlink', target: 'keep.txt', in: sets[1] });
    const members = tarMembers(1);
    expect(members.get('src/willbefile')).toBe('-');
    expect(members.get('src/willbedir')).toBe('d');
    expect(members.get('src/willbelink')).toBe('l');
    expect(tarContent(1, 'src/willbefile')).toBe('was a directory\n');
  });

  it('restore.files (lifeboat run) of the newest set builds exactly the source', () => {
    const into = join(dir.path, 'restored');
    const runbook = join(dir.path, 'restore.yaml');
    writeFileSync(
      runbook,
      [
        'id: inc',
        'title: Inc',
        'description: d',
        'level: 1',
        'objectives: { rto: 1h, rpo: 1h }',
        'steps:',
        '  - { id: pick, title: Pick, kind: action, action: catalog.select-set, with: { system: inc, kind: files } }',
        `  - { id: files, title: Files, kind: action, action: restore.files, with: { set: "{{ steps.pick.output.key }}", into: "${into}", allow_unsigned: true } }`,
        '',
      ].join('\n'),
    );
    const r = lifeboat(env, 'run', runbook, '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    // Modes, owners, contents, links exact; mtimes within the 2 µs Node's utimes can set (GNU tar by hand: to the ns, restore-by-hand.test.ts).
    const want = treeState(src);
    expect(withMtimesWithin(want, treeState(join(into, 'src')), 2_000)).toEqual(want);
  });

  it('every directory is in every set, with its index line pointing at that set', () => {
    for (let n = 0; n < 3; n++) {
      const members = tarMembers(n);
      for (const e of index(n).values()) {
        if (e.type !== 'dir') continue;
        expect(members.get(e.path), `${e.path} in set ${n}`).toBe('d');
        expect(e.in).toBe(sets[n]);
      }
    }
  });
});
