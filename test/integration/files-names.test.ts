import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';
import { bjoin, treeState } from '../helpers/tree-state';

/**
 * File names are bytes (issue 18 item 1) and every kind of entry is recorded (issue 17 items 5
 * and 6, backup side): names that are not UTF-8 (Latin-1, invalid sequences; files, directories
 * and link targets) go through the tar and the index exactly; owners, hardlinks, FIFOs, device
 * nodes and long paths are in the tar as GNU tar reads them; absolute links warn of nothing.
 */

let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let src: string;

const LATIN1 = Buffer.from('caf\xe9.txt', 'latin1'); // "café.txt" in Latin-1: 0xe9 alone is not UTF-8
const BADDIR = Buffer.concat([Buffer.from('dir'), Buffer.from([0xe9, 0xff])]);
const LONG = `${'d'.repeat(120)}/${'f'.repeat(200)}`;

interface IndexLine {
  path: string;
  path_b64?: string;
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  target: string | null;
  target_b64?: string;
  rdev?: [number, number];
  in: string;
}

function setDir(setId: string, system: string): string {
  return join(medium, 'sets', system, setId);
}

function index(setId: string, system: string): IndexLine[] {
  const text = execFileSync('zstd', ['-dc', join(setDir(setId, system), 'index.jsonl.zst')], { encoding: 'utf8' });
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as IndexLine);
}

const bytesOf = (e: IndexLine): Buffer =>
  e.path_b64 ? Buffer.from(e.path_b64, 'base64') : Buffer.from(e.path, 'utf8');

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'drive');
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'drive').status).toBe(0);
  src = join(dir.path, 'src');
  mkdirSync(src);
  writeFileSync(bjoin(src, LATIN1), 'latin-1 name\n');
  mkdirSync(bjoin(src, BADDIR));
  writeFileSync(bjoin(src, BADDIR, LATIN1), 'both levels not UTF-8\n');
  writeFileSync(join(src, 'ünïcødé-名前.txt'), 'valid UTF-8 stays text\n');
  symlinkSync(LATIN1, bjoin(src, 'link-to-latin1'));
  symlinkSync('/etc/passwd', join(src, 'absolute-link'));
  symlinkSync('../../outside', join(src, 'outside-link'));
  mkdirSync(join(src, LONG, '..'));
  writeFileSync(join(src, LONG), 'a 321-byte path\n');
  writeFileSync(join(src, 'suid'), '#!/bin/sh\n');
  chownSync(join(src, 'suid'), 1234, 2345);
  chmodSync(join(src, 'suid'), 0o4750);
  writeFileSync(join(src, 'a-first'), 'one inode, three names\n');
  linkSync(join(src, 'a-first'), join(src, 'b-second'));
  linkSync(join(src, 'a-first'), bjoin(src, BADDIR, 'third'));
  execFileSync('mkfifo', [join(src, 'fifo')]);
  execFileSync('mknod', [join(src, 'null-device'), 'c', '1', '3']);
});
afterAll(() => dir.cleanup());

describe('file names are bytes, every kind of entry is recorded', () => {
  let setId: string;

  it('backs up names that are not UTF-8 with no warning, and the index keeps their bytes', () => {
    const r = lifeboat(
      env,
      'backup',
      'files',
      '--system',
      'names',
      '--path',
      src,
      '--to',
      medium,
      '--allow-plaintext',
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    const set = json<{ set_id: string; warnings: string[] }>(r);
    expect(set.warnings).toEqual([]);
    expect(r.stderr).not.toMatch(/warning|vanished|skipped/i);
    setId = set.set_id;
    const lines = index(setId, 'names');
    const byBytes = new Map(lines.map((e) => [bytesOf(e).toString('hex'), e]));
    const latin = byBytes.get(bjoin('src', LATIN1).toString('hex'));
    expect(latin).toMatchObject({ path: 'src/caf\\xe9.txt', type: 'file', size: 13 });
    const badDir = byBytes.get(bjoin('src', BADDIR).toString('hex'));
    expect(badDir).toMatchObject({ path: 'src/dir\\xe9\\xff', type: 'dir' });
    expect(byBytes.get(bjoin('src', BADDIR, LATIN1).toString('hex'))).toMatchObject({
      path: 'src/dir\\xe9\\xff/caf\\xe9.txt',
      type: 'file',
    });
    // A valid UTF-8 name has no path_b64: it is its own text.
    expect(lines.find((e) => e.path === 'src/ünïcødé-名前.txt')).not.toHaveProperty('path_b64');
    const link = lines.find((e) => e.path === 'src/link-to-latin1')!;
    expect(link).toMatchObject({ type: 'symlink', target: 'caf\\xe9.txt' });
    expect(Buffer.from(link.target_b64!, 'base64').equals(LATIN1)).toBe(true);
    expect(lines.find((e) => e.path === 'src/absolute-link')).toMatchObject({ type: 'symlink', target: '/etc/passwd' });
    // Owners, hardlinks (the first name met is the file), FIFOs and devices.
    expect(lines.find((e) => e.path === 'src/suid')).toMatchObject({ uid: 1234, gid: 2345, mode: 0o4750 });
    expect(lines.find((e) => e.path === 'src/a-first')).toMatchObject({ type: 'file', size: 23 });
    expect(lines.find((e) => e.path === 'src/b-second')).toMatchObject({
      type: 'hardlink',
      target: 'src/a-first',
      size: 0,
    });
    expect(lines.find((e) => e.path === 'src/dir\\xe9\\xff/third')).toMatchObject({
      type: 'hardlink',
      target: 'src/a-first',
    });
    expect(lines.find((e) => e.path === 'src/fifo')).toMatchObject({ type: 'fifo', size: 0 });
    expect(lines.find((e) => e.path === 'src/null-device')).toMatchObject({ type: 'char', rdev: [1, 3] });
    expect(lines.find((e) => e.path === `src/${LONG}`)).toMatchObject({ type: 'file' });
    // Complete: every entry of the source, and nothing else.
    const source = Object.keys(treeState(src)).map((k) => bjoin('src', Buffer.from(k, 'hex')).toString('hex'));
    expect([...byBytes.keys()].sort()).toEqual([bjoin('src').toString('hex'), ...source].sort());
  });

  it('GNU tar lists the kinds and extracts every name byte for byte, with owners, modes, mtimes and links', () => {
    const tar = join(setDir(setId, 'names'), 'files.tar.zst');
    const listing = execFileSync('bash', ['-c', `zstd -dc "${tar}" | tar -tvf - --warning=no-unknown-keyword`], {
      encoding: 'latin1',
    });
    expect(listing).toMatch(/^p.* src\/fifo$/m);
    expect(listing).toMatch(/^c.* 1,3 .* src\/null-device$/m);
    expect(listing).toMatch(/^h.* src\/b-second link to src\/a-first$/m);
    expect(listing).toMatch(/^-rwsr-x--- 1234\/2345 .* src\/suid$/m);
    const out = join(dir.path, 'extracted');
    mkdirSync(out);
    const x = spawnSync('bash', ['-c', `zstd -dc "${tar}" | tar -xpf - -C "${out}" --warning=no-unknown-keyword`], {
      encoding: 'utf8',
    });
    expect(x.stderr).toBe('');
    expect(x.status).toBe(0);
    // Everything but the FIFO's and device's contents (there are none) compared: names as bytes,
    // types, modes, owners, ns mtimes, content hashes, link targets and link counts.
    expect(treeState(join(out, 'src'))).toEqual(treeState(src));
    expect(readFileSync(bjoin(out, 'src', BADDIR, LATIN1), 'utf8')).toBe('both levels not UTF-8\n');
  });

  it("Python's tarfile reads the same names (hdrcharset=BINARY is the POSIX way)", () => {
    const tar = join(setDir(setId, 'names'), 'files.tar.zst');
    const py = `import sys, tarfile\nfor m in tarfile.open(fileobj=sys.stdin.buffer, mode="r|"):\n    print(m.name.encode("utf-8", "surrogateescape").hex())`;
    const names = execFileSync('bash', ['-c', `zstd -dc "${tar}" | python3 -c '${py}'`], { encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(names).toContain(bjoin('src', BADDIR, LATIN1).toString('hex'));
    expect(names).toContain(bjoin('src', LATIN1).toString('hex'));
  });

  it('scan lists a medium holding stray names that are not UTF-8, and find shows them escaped', () => {
    // A stray file at the medium's root, one in sets/ and one in the system's folder.
    writeFileSync(bjoin(medium, LATIN1), 'copied here by hand');
    writeFileSync(bjoin(medium, 'sets', LATIN1), 'stray');
    mkdirSync(bjoin(medium, 'sets', BADDIR));
    writeFileSync(bjoin(medium, 'sets/names', LATIN1), 'stray');
    const r = lifeboat(env, 'scan', medium, '--json');
    expect(r.status, r.stderr).toBe(0);
    const sets = lifeboat(env, 'sets', '--json');
    expect(sets.stdout).toContain(setId);
    const found = lifeboat(env, 'find', '*caf*');
    expect(found.status, found.stderr).toBe(0);
    expect(found.stdout).toContain('src/caf\\xe9.txt');
    expect(found.stdout).toContain('src/dir\\xe9\\xff/caf\\xe9.txt');
  });

  it('a config backup of /etc succeeds with no warning (absolute links are data)', () => {
    const r = lifeboat(
      env,
      'backup',
      'files',
      '--class',
      'config',
      '--system',
      'etc',
      '--path',
      '/etc',
      '--to',
      medium,
      '--allow-plaintext',
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    const set = json<{ set_id: string; warnings: string[] }>(r);
    expect(set.warnings).toEqual([]);
    expect(index(set.set_id, 'etc').some((e) => e.type === 'symlink' && e.target?.startsWith('/'))).toBe(true);
  });
});
