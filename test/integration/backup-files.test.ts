import { execSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';

let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let recipient: string;
let identity: string;
let src: string;

interface TreeEntry {
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  sha256?: string;
  target?: string;
  mtime?: number;
}

/** Paths, contents' hashes, modes, symlink targets and file mtimes of a tree. */
function snapshot(root: string): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const abs = join(d, name);
      const rel = relative(root, abs);
      const st = lstatSync(abs);
      if (st.isSymbolicLink()) out[rel] = { type: 'symlink', mode: 0, target: readlinkSync(abs) };
      else if (st.isDirectory()) {
        out[rel] = { type: 'dir', mode: st.mode & 0o7777 };
        walk(abs);
      } else
        out[rel] = {
          type: 'file',
          mode: st.mode & 0o7777,
          sha256: createHash('sha256').update(readFileSync(abs)).digest('hex'),
          mtime: Math.floor(st.mtimeMs / 1000),
        };
    }
  };
  walk(root);
  return out;
}

function sh(cmd: string, cwd: string): string {
  return execSync(cmd, { cwd, encoding: 'utf8', shell: '/bin/bash' });
}

function decryptTar(setDir: string, into: string): void {
  mkdirSync(into, { recursive: true });
  sh(`age -d -i ${identity} files.tar.zst.age | zstd -d | tar -xpf - -C ${into}`, setDir);
}

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'nas');
  identity = join(dir.path, 'id.age');
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'nas').status).toBe(0);
  recipient = lifeboat(env, 'keys', 'age-new', '--out', identity).stdout.trim();
  src = join(dir.path, 'uploads');
  mkdirSync(join(src, 'invoices/2026'), { recursive: true });
  mkdirSync(join(src, 'node_modules/pkg'), { recursive: true });
  mkdirSync(join(src, 'cache'), { recursive: true });
  writeFileSync(join(src, 'invoices/2026/inv-001.pdf'), randomBytes(300_000));
  writeFileSync(join(src, 'invoices/readme.txt'), 'invoices by year\n');
  writeFileSync(join(src, 'node_modules/pkg/index.js'), 'excluded');
  writeFileSync(join(src, 'scratch.tmp'), 'excluded');
  writeFileSync(join(src, 'cache/big.bin'), 'excluded by --exclude');
  const long = `${'very-long-directory-name-'.repeat(6)}/ünïcødé-名前.txt`;
  mkdirSync(join(src, long, '..'), { recursive: true });
  writeFileSync(join(src, long), 'a long, non-ASCII path needs pax headers');
  writeFileSync(join(src, 'secret.key'), 'private');
  chmodSync(join(src, 'secret.key'), 0o600);
  writeFileSync(join(src, 'run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(src, 'run.sh'), 0o750);
  symlinkSync('invoices/readme.txt', join(src, 'readme-link'));
  symlinkSync('/etc/passwd', join(src, 'outside-link'));
  utimesSync(join(src, 'invoices/readme.txt'), new Date('2024-02-03T04:05:06Z'), new Date('2024-02-03T04:05:06Z'));
});
afterAll(() => dir.cleanup());

function expected(): Record<string, TreeEntry> {
  const snap = snapshot(src);
  for (const k of Object.keys(snap))
    if (k.startsWith('node_modules') || k === 'scratch.tmp' || k.startsWith('cache')) delete snap[k];
  return snap;
}

describe('backup files', () => {
  it('untar of the decrypted artifact reproduces the tree (paths, contents, modes, links, mtimes)', () => {
    const r = lifeboat(
      env,
      'backup',
      'files',
      '--system',
      'uploads',
      '--path',
      src,
      '--exclude',
      'cache',
      '--to',
      medium,
      '--recipient',
      recipient,
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    const set = json<{ path: string; artifacts: Array<{ path: string; role: string }> }>(r);
    expect(set.artifacts.map((a) => a.role)).toEqual(['files-tar', 'file-index']);
    const setDir = join(medium, set.path);
    expect(sh('sha256sum -c SHA256SUMS', setDir)).toMatch(/files.tar.zst.age: OK/);
    const out = join(dir.path, 'restore-full');
    decryptTar(setDir, out);
    expect(snapshot(join(out, 'uploads'))).toEqual(expected());
    // Symlinks are stored as links, never followed.
    expect(readlinkSync(join(out, 'uploads/outside-link'))).toBe('/etc/passwd');
  });

  // Incremental chains restored by hand: test/integration/restore-by-hand.test.ts (runs docs/restore-by-hand.md verbatim).

  it('refuses an unencrypted config set unless --allow-plaintext', () => {
    let r = lifeboat(
      env,
      'backup',
      'files',
      '--class',
      'config',
      '--system',
      'app-config',
      '--path',
      join(src, 'invoices'),
      '--to',
      medium,
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/written encrypted/);
    r = lifeboat(
      env,
      'backup',
      'files',
      '--class',
      'config',
      '--system',
      'app-config',
      '--path',
      join(src, 'invoices'),
      '--to',
      medium,
      '--allow-plaintext',
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    expect(json<{ kind: string; encrypted_to: string[] }>(r)).toMatchObject({ kind: 'config', encrypted_to: [] });
  });

  it('a missing source directory exits 2', () => {
    const r = lifeboat(env, 'backup', 'files', '--system', 'uploads', '--path', join(dir.path, 'nope'), '--to', medium);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Cannot read/);
  });
});
