import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSet } from '../../electron/engine/backup/set-writer';
import { parseIdentityFile } from '../../electron/engine/crypto/age';
import { loadSigningKey } from '../../electron/engine/crypto/signing';
import { FolderMedium } from '../../electron/engine/storage/folder-medium';
import { json, lifeboat } from '../helpers/cli';
import { indexLine, paxTar, type TarSpec } from '../helpers/pax-tar';
import { tempDir } from '../helpers/temp';
import { sentinelState } from '../helpers/tree-state';

/**
 * Hostile media, extraction side (issue 17 items 1, 3, 5, 6): sets crafted by hand, signed by a
 * pinned key and encrypted (and also neither), restored through the real CLI's restore.files
 * step. Each must be refused with a clear error and leave a sentinel tree outside the target
 * exactly as it was; a legitimate /etc-like tree made by GNU tar must come back exactly.
 */

let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let identity: string;
let signKey: string;
let sentinel: string;
const isRoot = process.getuid?.() === 0;

interface RunResult {
  ok: boolean;
  steps: Array<{
    id: string;
    status: string;
    output: Record<string, unknown> | null;
    error: { code: string; message: string } | null;
  }>;
}

const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

/** A files set written by hand: the given tar and index lines, signed and encrypted, or neither. */
async function handMadeSet(
  system: string,
  tar: Buffer,
  lines: (setId: string) => string[],
  protect = true,
): Promise<string> {
  const ids = parseIdentityFile(readFileSync(identity, 'utf8'));
  let id = '';
  await writeSet(
    {
      media: [new FolderMedium(medium)],
      system,
      kind: 'files',
      tier: null,
      parent: null,
      recipients: protect ? [ids[0]!.recipient] : [],
      signingKey: protect ? loadSigningKey(readFileSync(signKey)) : null,
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
  expect(lifeboat(env, 'scan', medium).status).toBe(0);
  return `${system}/${id}`;
}

/** restore.files of a set into a folder, through a runbook run of the real CLI. */
function restoreRun(key: string, into: string, drill = false, allowUnsigned = false): RunResult['steps'][number] {
  const file = join(dir.path, `rb-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    [
      'id: hostile',
      'title: Hostile',
      'description: d',
      'level: 1',
      'objectives: { rto: 1h, rpo: 1h }',
      'steps:',
      `  - { id: files, title: Files, kind: action, action: restore.files, with: { set: "${key}"${drill ? '' : `, into: "${into}"`}${allowUnsigned ? ', allow_unsigned: true' : ''} } }`,
      '',
    ].join('\n'),
  );
  const r = lifeboat(env, 'run', file, '--identity', identity, ...(drill ? ['--drill', '--yes'] : []), '--json');
  return json<RunResult>(r).steps.find((s) => s.id === 'files')!;
}

/** The restore is refused with `code`, the sentinel is untouched and the target holds nothing. */
function expectRefused(key: string, code: string, drill = false, allowUnsigned = false): string {
  const before = sentinelState(sentinel);
  const into = join(dir.path, `target-${Math.random().toString(36).slice(2)}`);
  mkdirSync(into);
  const step = restoreRun(key, into, drill, allowUnsigned);
  expect(step.status).toBe('failed');
  expect(step.error?.code, step.error?.message).toBe(code);
  expect(sentinelState(sentinel)).toEqual(before);
  expect(readdirSync(into)).toEqual([]);
  return step.error!.message;
}

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'medium');
  identity = join(dir.path, 'id.age');
  signKey = join(dir.path, 'sign.pem');
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'hostile').status).toBe(0);
  lifeboat(env, 'keys', 'age-new', '--out', identity);
  lifeboat(env, 'keys', 'signing-new', '--out', signKey);
  expect(lifeboat(env, 'keys', 'trust', `${signKey}.pub`, '--label', 'servers').status).toBe(0);
  sentinel = join(dir.path, 'sentinel');
  mkdirSync(join(sentinel, 'victim', 'bin'), { recursive: true });
  writeFileSync(join(sentinel, 'victim', 'bin', 'tool'), 'original', { mode: 0o755 });
  utimesSync(join(sentinel, 'victim'), 1_000_000, 1_000_000);
}, 60_000);

afterAll(() => dir?.cleanup());

describe('hostile sets are refused and write nothing outside the target', () => {
  // The staging folder is <target>/.lifeboat-restore-<run>/: eight levels up from x/s/s/s is
  // above dir.path, so the link lands on the sentinel through "sentinel/victim".
  const climb = '../../../../../../../..';
  const chain = (): { tar: Buffer; lines: (id: string) => string[] } => {
    const entries: TarSpec[] = [
      { name: 'x', type: 'dir' },
      { name: 'x/s', type: 'symlink', linkname: '.' },
      { name: 'x/s/s/s/l', type: 'symlink', linkname: climb },
      { name: `x/l${dir.path}/sentinel/victim/pwned.txt`, type: 'file', mode: 0o4755, body: 'pwned' },
    ];
    return {
      tar: paxTar(entries),
      lines: (id) => [
        indexLine({ path: 'x', type: 'dir', in: id }),
        indexLine({ path: 'x/s', type: 'symlink', target: '.', in: id }),
        indexLine({ path: 'x/s/s/s/l', type: 'symlink', target: climb, in: id }),
        indexLine({
          path: `x/l${dir.path}/sentinel/victim/pwned.txt`,
          type: 'file',
          size: 5,
          sha256: sha('pwned'),
          mode: 0o4755,
          in: id,
        }),
      ],
    };
  };

  it('the symlink chain (x/s -> ., x/s/s/s/l -> ../.., x/l/<dir>/pwned.txt 4755), signed and encrypted, live and in a drill', async () => {
    const c = chain();
    const key = await handMadeSet('chain', c.tar, c.lines);
    // Deep verification says what the restore will do.
    const v = lifeboat(env, 'verify', key, '--level', 'deep', '--identity', identity, '--json');
    expect(v.status).toBe(1);
    expect(v.stdout).toMatch(/unsafe-path/);
    expect(v.stdout).toMatch(/lies under the symbolic link x\/s/);
    expect(expectRefused(key, 'UNSAFE_PATH')).toMatch(/symbolic link/);
    expectRefused(key, 'UNSAFE_PATH', true);
    expect(existsSync(join(sentinel, 'victim', 'pwned.txt'))).toBe(false);
  }, 120_000);

  it('the same chain unsigned and unencrypted', async () => {
    const c = chain();
    const key = await handMadeSet('chain-plain', c.tar, c.lines, false);
    // Not signed by a pinned key: refused by the trust rule before a byte is read…
    expect(expectRefused(key, 'UNTRUSTED_SIGNER')).toMatch(/not signed/);
    // …and when the operator accepts it anyway, the extraction itself still refuses the chain.
    expectRefused(key, 'UNSAFE_PATH', false, true);
    expectRefused(key, 'UNSAFE_PATH', true, true);
  }, 120_000);

  it('an index with ../../../victim dir entries (mode 777, mtime 0) changes nothing outside', async () => {
    const key = await handMadeSet('dotdot', paxTar([{ name: 'ok', type: 'dir' }]), (id) => [
      indexLine({ path: 'ok', type: 'dir', in: id }),
      indexLine({ path: '../../sentinel/victim', type: 'dir', mode: 0o777, mtime_ms: 0, in: id }),
      indexLine({ path: '../../sentinel/new-dir', type: 'dir', mode: 0o777, mtime_ms: 0, in: id }),
    ]);
    expect(expectRefused(key, 'UNSAFE_PATH')).toMatch(/line 2/);
  }, 120_000);

  it('a symlink then a file through it, and a hard link to outside', async () => {
    const through = await handMadeSet(
      'through',
      paxTar([
        { name: 'a', type: 'symlink', linkname: join(sentinel, 'victim') },
        { name: 'a/pwned', type: 'file', body: 'x' },
      ]),
      (id) => [
        indexLine({ path: 'a', type: 'symlink', target: join(sentinel, 'victim'), in: id }),
        indexLine({ path: 'a/pwned', type: 'file', size: 1, sha256: sha('x'), in: id }),
      ],
    );
    expectRefused(through, 'UNSAFE_PATH');
    const hard = await handMadeSet(
      'hard',
      paxTar([{ name: 'h', type: 'hardlink', linkname: join(sentinel, 'victim/bin/tool') }]),
      (id) => [indexLine({ path: 'h', type: 'hardlink', target: '../../sentinel/victim/bin/tool', in: id })],
    );
    expectRefused(hard, 'UNSAFE_PATH');
  }, 120_000);

  it('a 300-character name is a clear error naming it', async () => {
    const long = 'L'.repeat(300);
    const key = await handMadeSet('longname', paxTar([{ name: long, type: 'file', body: 'z' }]), (id) => [
      indexLine({ path: long, type: 'file', size: 1, sha256: sha('z'), in: id }),
    ]);
    expect(expectRefused(key, 'PRECONDITION_FAILED')).toContain(long);
  }, 120_000);
});

describe('a symlinked set folder on the medium', () => {
  it('is never followed: the restore is refused and nothing is written', async () => {
    const key = await handMadeSet('linked', paxTar([{ name: 'f', type: 'file', body: 'ok' }]), (id) => [
      indexLine({ path: 'f', type: 'file', size: 2, sha256: sha('ok'), in: id }),
    ]);
    // The set's folder moves off the medium and a link takes its place.
    const setDir = join(medium, 'sets', key);
    const elsewhere = join(dir.path, 'elsewhere');
    mkdirSync(elsewhere);
    renameSync(setDir, join(elsewhere, 'set'));
    symlinkSync(join(elsewhere, 'set'), setDir);
    expect(expectRefused(key, 'UNSAFE_PATH')).toMatch(/symbolic link/);
  }, 120_000);
});

describe('a legitimate tree comes back exactly', () => {
  /** kind, mode, owner, size, mtime (not for links), content hash, link target, device number; hard links by inode group. */
  function statTree(root: string): Record<string, string> {
    const out: Record<string, string> = {};
    const inodes = new Map<number, string>();
    const walk = (abs: string, rel: string): void => {
      for (const name of readdirSync(abs).sort()) {
        const a = join(abs, name);
        const r = rel ? `${rel}/${name}` : name;
        const st = lstatSync(a);
        const kind = st.isSymbolicLink()
          ? `link:${readlinkSync(a)}`
          : st.isFile()
            ? `file:${sha(readFileSync(a))}`
            : st.isDirectory()
              ? 'dir'
              : st.isFIFO()
                ? 'fifo'
                : st.isCharacterDevice()
                  ? `char:${st.rdev}`
                  : 'other';
        const group =
          st.isFile() && st.nlink > 1 ? ` hardlink-group:${inodes.get(st.ino) ?? (inodes.set(st.ino, r), r)}` : '';
        out[r] =
          `${kind} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${st.isSymbolicLink() ? '' : Math.floor(st.mtimeMs / 1000)}${group}`;
        if (st.isDirectory()) walk(a, r);
      }
    };
    walk(root, '');
    return out;
  }

  /** The v2 index of a tree, in GNU tar's --sort=name order (the first of a hard-link group is the file). */
  function indexOf(root: string, top: string, setId: string): string[] {
    const lines: string[] = [];
    const seen = new Map<number, string>();
    const visit = (abs: string, rel: string): void => {
      const st = lstatSync(abs);
      const base = {
        path: rel,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        mtime_ms: Math.floor(st.mtimeMs),
        in: setId,
      };
      if (st.isSymbolicLink()) lines.push(indexLine({ ...base, type: 'symlink', target: readlinkSync(abs) }));
      else if (st.isDirectory()) {
        lines.push(indexLine({ ...base, type: 'dir' }));
        for (const name of readdirSync(abs).sort()) visit(join(abs, name), `${rel}/${name}`);
      } else if (st.isFile() && st.nlink > 1 && seen.has(st.ino))
        lines.push(indexLine({ ...base, type: 'hardlink', target: seen.get(st.ino) }));
      else if (st.isFile()) {
        seen.set(st.ino, rel);
        lines.push(indexLine({ ...base, type: 'file', size: st.size, sha256: sha(readFileSync(abs)) }));
      } else if (st.isFIFO()) lines.push(indexLine({ ...base, type: 'fifo' }));
      else if (st.isCharacterDevice())
        lines.push(indexLine({ ...base, type: 'char', rdev: [Math.floor(st.rdev / 256), st.rdev % 256] }));
    };
    visit(join(root, top), top);
    return lines;
  }

  it.runIf(isRoot)(
    'absolute links, setuid files of another uid, hard links, FIFOs, a device node and long names (GNU tar pax archive)',
    async () => {
      const src = join(dir.path, 'legit');
      const etc = join(src, 'etc');
      mkdirSync(join(etc, 'alternatives'), { recursive: true });
      const deep = join(etc, 'd'.repeat(60), 'e'.repeat(60), 'f'.repeat(60));
      mkdirSync(deep, { recursive: true });
      writeFileSync(join(deep, `${'n'.repeat(200)}.conf`), 'long name\n');
      writeFileSync(join(etc, 'passwd'), 'root:x:0:0\n', { mode: 0o644 });
      writeFileSync(join(etc, 'suid-tool'), '#!/bin/sh\n', { mode: 0o755 });
      chownSync(join(etc, 'suid-tool'), 1234, 1234);
      chmodSync(join(etc, 'suid-tool'), 0o4755);
      writeFileSync(join(etc, 'shadow'), 'secret\n', { mode: 0o640 });
      chownSync(join(etc, 'shadow'), 0, 42);
      linkSync(join(etc, 'passwd'), join(etc, 'passwd.hard'));
      symlinkSync('/usr/bin/vim.basic', join(etc, 'alternatives', 'editor'));
      symlinkSync('../../outside', join(etc, 'up-link'));
      symlinkSync('passwd', join(etc, 'rel-link'));
      execFileSync('mkfifo', ['-m', '0620', join(etc, 'initctl')]);
      execFileSync('mknod', ['-m', '0666', join(etc, 'null'), 'c', '1', '3']);
      chmodSync(join(etc, 'alternatives'), 0o751);
      for (const p of [join(etc, 'alternatives'), deep, etc]) utimesSync(p, 1_600_000_000, 1_600_000_000);
      const tar = execFileSync('tar', ['--format=pax', '--sort=name', '-C', src, '-cf', '-', 'etc'], {
        maxBuffer: 64 * 1024 * 1024,
      });
      const key = await handMadeSet('legit', tar, (id) => indexOf(src, 'etc', id));
      // Deep verification and restore say the same about links and devices.
      const v = lifeboat(env, 'verify', key, '--level', 'deep', '--identity', identity, '--json');
      expect(v.stdout).toMatch(/1 link points outside the tree|2 links point outside the tree/);
      expect(v.stdout).toMatch(/1 device node/);
      const into = join(dir.path, 'restored-legit');
      const step = restoreRun(key, into);
      expect(step.status, step.error?.message).toBe('done');
      expect(step.output).toMatchObject({ owners_restored: true, links_outside_tree: 2, devices_not_created: 0 });
      expect(statTree(into)).toEqual(statTree(src));
      expect(lstatSync(join(into, 'etc', 'passwd')).ino).toBe(lstatSync(join(into, 'etc', 'passwd.hard')).ino);
    },
    180_000,
  );
});
