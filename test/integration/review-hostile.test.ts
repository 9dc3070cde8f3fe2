import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSet } from '../../electron/engine/backup/set-writer';
import { parseIdentityFile } from '../../electron/engine/crypto/age';
import { loadSigningKey } from '../../electron/engine/crypto/signing';
import { FolderMedium } from '../../electron/engine/storage/folder-medium';
import { BIN, lifeboat } from '../helpers/cli';
import { indexLine, paxTar } from '../helpers/pax-tar';
import { tempDir } from '../helpers/temp';

/**
 * Review R1: a hostile tester of the restore path (issues 17 and 18), through the real CLI's
 * `restore files` and `verify --level deep`. Each case is a defect found in review: it failed
 * before its fix.
 */

let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let identity: string;
let recipient: string;
let signKey: string;

/** A GNU long-name ('L') or long-link ('K') header and its data, for the entry after it. */
function gnuLong(flag: 'L' | 'K', value: string): Buffer {
  const body = Buffer.from(value + '\0');
  const h = Buffer.alloc(512);
  h.write('././@LongLink', 0, 'latin1');
  const octal = (n: number, w: number): string => n.toString(8).padStart(w - 1, '0') + '\0';
  h.write(octal(0o644, 8), 100, 'latin1');
  h.write(octal(0, 8), 108, 'latin1');
  h.write(octal(0, 8), 116, 'latin1');
  h.write(octal(body.length, 12), 124, 'latin1');
  h.write(octal(0, 12), 136, 'latin1');
  h.write(' '.repeat(8), 148, 'latin1');
  h.write(flag, 156, 'latin1');
  h.write('ustar  \0', 257, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'latin1');
  return Buffer.concat([h, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

/** A files set written by hand: the given tar and index lines, signed by the pinned key and encrypted. */
async function handMadeSet(system: string, tar: Buffer, lines: (setId: string) => string[]): Promise<string> {
  const ids = parseIdentityFile(readFileSync(identity, 'utf8'));
  let id = '';
  await writeSet(
    {
      media: [new FolderMedium(medium)],
      system,
      kind: 'files',
      tier: null,
      parent: null,
      recipients: [ids[0]!.recipient],
      signingKey: loadSigningKey(readFileSync(signKey)),
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

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'medium');
  identity = join(dir.path, 'id.age');
  signKey = join(dir.path, 'sign.pem');
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'review').status).toBe(0);
  recipient = lifeboat(env, 'keys', 'age-new', '--out', identity).stdout.trim();
  lifeboat(env, 'keys', 'signing-new', '--out', signKey);
  expect(lifeboat(env, 'keys', 'trust', `${signKey}.pub`, '--label', 'servers').status).toBe(0);
}, 60_000);

afterAll(() => dir?.cleanup());

/** `restore files` of a set into a new folder through the real CLI; the folder and the outcome. */
function restoreFiles(key: string, name: string): { into: string; status: number | null; out: string } {
  const into = join(dir.path, `out-${name}`);
  const r = lifeboat(env, 'restore', 'files', key, '--to', into, '--identity', identity);
  return { into, status: r.status, out: r.stdout + r.stderr };
}

describe('names with a backslash are ordinary names on Linux', () => {
  it.runIf(process.platform !== 'win32')(
    '`..\\notes` and `x\\..\\y` back up, pass deep verification and restore exactly (a full set and an incremental)',
    () => {
      const src = join(dir.path, 'bs-src');
      mkdirSync(join(src, 'tree', 'sub'), { recursive: true });
      writeFileSync(join(src, 'tree', '..\\notes'), 'a');
      writeFileSync(join(src, 'tree', 'sub', 'x\\..\\y'), 'b');
      writeFileSync(join(src, 'tree', 'plain'), 'c');
      const backup = (...extra: string[]): void => {
        const r = lifeboat(
          env,
          'backup',
          'files',
          '--path',
          join(src, 'tree'),
          '--system',
          'backslash',
          '--to',
          medium,
          '--recipient',
          recipient,
          '--sign-key',
          signKey,
          ...extra,
        );
        expect(r.status, r.stderr).toBe(0);
      };
      backup();
      writeFileSync(join(src, 'tree', 'sub', '..\\new'), 'd');
      writeFileSync(join(src, 'tree', 'plain'), 'changed');
      backup('--incremental');
      expect(lifeboat(env, 'scan', medium).status).toBe(0);
      const keys = (JSON.parse(lifeboat(env, 'sets', '--json').stdout) as Array<{ key: string; system: string }>)
        .filter((x) => x.system === 'backslash')
        .map((x) => x.key);
      expect(keys).toHaveLength(2);
      for (const key of keys) {
        const v = lifeboat(env, 'verify', key, '--level', 'deep', '--identity', identity);
        expect(v.status, v.stdout + v.stderr).toBe(0);
        expect(v.stdout).not.toMatch(/unsafe-path/);
      }
      const newest = keys[0]!;
      const r = restoreFiles(newest, 'backslash');
      expect(r.status, r.out).toBe(0);
      execFileSync('diff', ['-r', '--no-dereference', join(src, 'tree'), join(r.into, 'tree')]);
      expect(readFileSync(join(r.into, 'tree', '..\\notes'), 'utf8')).toBe('a');
    },
    120_000,
  );
});

describe('deep verification says what a restore will do when the tar and the index disagree', () => {
  const cases: Array<[string, Buffer, (id: string) => string[], RegExp]> = [
    [
      'missing-in-tar',
      paxTar([{ name: 'f', type: 'file', body: 'x' }]),
      (id) => [
        indexLine({ path: 'f', type: 'file', size: 1, sha256: sha('x'), in: id }),
        indexLine({ path: 'g', type: 'file', size: 1, sha256: sha('y'), in: id }),
      ],
      /lacks 1 file/,
    ],
    [
      'hash-differs',
      paxTar([{ name: 'f', type: 'file', body: 'x' }]),
      (id) => [indexLine({ path: 'f', type: 'file', size: 1, sha256: sha('y'), in: id })],
      /SHA-256 differs/,
    ],
    [
      'symlink-in-tar',
      paxTar([{ name: 'f', type: 'symlink', linkname: '/etc/passwd' }]),
      (id) => [indexLine({ path: 'f', type: 'file', size: 1, sha256: sha('y'), in: id })],
      /lacks 1 file/,
    ],
  ];
  for (const [name, tar, lines, refusal] of cases) {
    it(`${name}: deep verification fails the set, as the restore refuses it`, async () => {
      const key = await handMadeSet(name, tar, lines);
      const r = restoreFiles(key, name);
      expect(r.status).toBe(1);
      expect(r.out).toMatch(refusal);
      const v = lifeboat(env, 'verify', key, '--level', 'deep', '--identity', identity);
      expect(v.status, v.stdout).toBe(1);
      expect(v.stdout).toMatch(/FAIL .*\[corrupted\].*disagree/);
    }, 120_000);
  }

  it('a tar of ./-prefixed names agrees with its index (as the restore reads it): deep verification and restore pass', async () => {
    const key = await handMadeSet(
      'dot-prefixed',
      paxTar([
        { name: './d', type: 'dir' },
        { name: './d/f', type: 'file', body: 'x' },
      ]),
      (id) => [
        indexLine({ path: 'd', type: 'dir', in: id }),
        indexLine({ path: 'd/f', type: 'file', size: 1, sha256: sha('x'), in: id }),
      ],
    );
    const v = lifeboat(env, 'verify', key, '--level', 'deep', '--identity', identity);
    expect(v.status, v.stdout).toBe(0);
    const r = restoreFiles(key, 'dot-prefixed');
    expect(r.status, r.out).toBe(0);
    expect(readFileSync(join(r.into, 'd', 'f'), 'utf8')).toBe('x');
  }, 120_000);
});

describe('GNU long names cannot smuggle a name past the checks', () => {
  it("a GNU 'L' long name with .. and a 'K' long link target out of the tree: refused by deep verification and restore", async () => {
    for (const [name, tar] of [
      [
        'gnu-longname',
        Buffer.concat([
          gnuLong('L', '../../../escaped-by-longname'),
          paxTar([{ name: 'placeholder', type: 'file', body: 'x' }]),
        ]),
      ],
      [
        'gnu-longlink',
        Buffer.concat([
          gnuLong('K', '../../../../etc/passwd'),
          paxTar([{ name: 'h', type: 'hardlink', linkname: 'placeholder' }]),
        ]),
      ],
    ] as const) {
      const key = await handMadeSet(name, tar, (id) => [
        indexLine({ path: 'placeholder', type: 'file', size: 1, sha256: sha('x'), in: id }),
      ]);
      const v = lifeboat(env, 'verify', key, '--level', 'deep', '--identity', identity);
      expect(v.status).toBe(1);
      expect(v.stdout).toMatch(/unsafe-path/);
      const r = restoreFiles(key, name);
      expect(r.status).toBe(1);
      expect(r.out).toMatch(/would escape the restore folder/);
      expect(existsSync(join(dir.path, 'escaped-by-longname'))).toBe(false);
      expect(existsSync(r.into) ? readdirSync(r.into) : []).toEqual([]);
    }
  }, 120_000);
});

describe('index fields past what a file system can hold are a named refusal, never "a bug"', () => {
  const cases: Array<[string, Buffer, (id: string) => string[], RegExp]> = [
    [
      'mtime-huge',
      paxTar([{ name: 'f', type: 'file', body: 'x' }]),
      (id) => [indexLine({ path: 'f', type: 'file', size: 1, sha256: sha('x'), mtime_ms: 1e20, in: id })],
      /mtime_ms/,
    ],
    [
      'uid-huge',
      paxTar([{ name: 'f', type: 'file', body: 'x' }]),
      (id) => [indexLine({ path: 'f', type: 'file', size: 1, sha256: sha('x'), uid: 2 ** 40, gid: 0, in: id })],
      /uid/,
    ],
    [
      'rdev-huge',
      paxTar([{ name: 'n', type: 'char', devmajor: 1, devminor: 3 }]),
      (id) => [indexLine({ path: 'n', type: 'char', rdev: [2 ** 40, 1], in: id })],
      /rdev/,
    ],
  ];
  for (const [name, tar, lines, field] of cases) {
    it(`${name}: deep verification and restore both refuse it, naming the line and field`, async () => {
      const key = await handMadeSet(name, tar, lines);
      const v = lifeboat(env, 'verify', key, '--level', 'deep', '--identity', identity);
      expect(v.status).toBe(1);
      expect(v.stdout + v.stderr).not.toMatch(/This is a bug|Unexpected error/);
      expect(v.stdout).toMatch(/File index line 1 is invalid/);
      expect(v.stdout).toMatch(field);
      const r = restoreFiles(key, name);
      expect(r.status).toBe(1);
      expect(r.out).not.toMatch(/This is a bug|Unexpected error/);
      expect(r.out).toMatch(/File index line 1 is invalid/);
      expect(existsSync(r.into) ? readdirSync(r.into) : []).toEqual([]);
    }, 120_000);
  }
});

describe('a non-root operator restores over an earlier restore', () => {
  const NOBODY = 65534;
  it.runIf(process.getuid?.() === 0)(
    'a read-only folder (mode 555) already in the target takes the restored files, and keeps its mode',
    () => {
      const src = join(dir.path, 'ro-src');
      mkdirSync(join(src, 't', 'ro'), { recursive: true });
      writeFileSync(join(src, 't', 'ro', 'f'), 'hi');
      writeFileSync(join(src, 't', 'w'), 'w');
      chmodSync(join(src, 't', 'ro'), 0o555);
      expect(
        lifeboat(
          env,
          'backup',
          'files',
          '--path',
          join(src, 't'),
          '--system',
          'readonly',
          '--to',
          medium,
          '--recipient',
          recipient,
          '--sign-key',
          signKey,
        ).status,
      ).toBe(0);
      // The operator's own catalog, key and identity, as the nobody user.
      chmodSync(dir.path, 0o755);
      execFileSync('chmod', ['-R', 'a+rX', medium]);
      const home = join(dir.path, 'nobody-home');
      const into = join(dir.path, 'nobody-target');
      mkdirSync(home);
      mkdirSync(into);
      const id = join(dir.path, 'nobody-id.age');
      copyFileSync(identity, id);
      for (const p of [home, into, id]) chownSync(p, NOBODY, NOBODY);
      const asNobody = (...args: string[]): { status: number | null; out: string } => {
        const r = spawnSync(process.execPath, [BIN, ...args], {
          uid: NOBODY,
          gid: NOBODY,
          env: { ...process.env, LIFEBOAT_HOME: home },
          encoding: 'utf8',
          timeout: 60_000,
        });
        return { status: r.status, out: r.stdout + r.stderr };
      };
      expect(asNobody('keys', 'trust', `${signKey}.pub`, '--label', 'servers').status).toBe(0);
      expect(asNobody('scan', medium).status).toBe(0);
      const listed = asNobody('sets', '--json').out;
      const key = (JSON.parse(listed.slice(listed.indexOf('['))) as Array<{ key: string; system: string }>).find(
        (x) => x.system === 'readonly',
      )!.key;
      const first = asNobody('restore', 'files', key, '--to', into, '--identity', id);
      expect(first.status, first.out).toBe(0);
      expect(lstatSync(join(into, 't', 'ro')).mode & 0o7777).toBe(0o555);
      // Again over it (the usual second attempt): the 555 folder is there now, on both sides.
      const again = asNobody('restore', 'files', key, '--to', into, '--identity', id, '--into-existing', '--overwrite');
      expect(again.status, again.out).toBe(0);
      expect(readFileSync(join(into, 't', 'ro', 'f'), 'utf8')).toBe('hi');
      expect(lstatSync(join(into, 't', 'ro')).mode & 0o7777).toBe(0o555);
      expect(readdirSync(into).filter((n) => n.startsWith('.lifeboat-restore-'))).toEqual([]);
    },
    120_000,
  );
});

describe('restore files into odd targets', () => {
  it.runIf(existsSync('/proc/self'))(
    '--to under /proc ends with an error instead of spinning forever (Node recursive mkdir retries ENOENT)',
    async () => {
      const key = await handMadeSet('odd-target', paxTar([{ name: 'f', type: 'file', body: 'x' }]), (id) => [
        indexLine({ path: 'f', type: 'file', size: 1, sha256: sha('x'), in: id }),
      ]);
      const started = Date.now();
      const r = spawnSync(
        process.execPath,
        [BIN, 'restore', 'files', key, '--to', '/proc/lifeboat-review/x', '--identity', identity],
        { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' },
      );
      expect(r.signal, 'the restore had to be killed').toBeNull();
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/\/proc\/lifeboat-review/);
      // A new nested target is an ordinary folder (umask), like its parents: only the staging inside it was private.
      const into = join(dir.path, 'new', 'nested', 'target');
      const made = lifeboat(env, 'restore', 'files', key, '--to', into, '--identity', identity);
      expect(made.status, made.stderr).toBe(0);
      mkdirSync(join(dir.path, 'reference'));
      const usual = lstatSync(join(dir.path, 'reference')).mode & 0o777;
      for (const p of [join(dir.path, 'new'), into])
        expect((lstatSync(p).mode & 0o777).toString(8)).toBe(usual.toString(8));
    },
    120_000,
  );
});

describe('names that are not UTF-8 after deep verification', () => {
  it('find shows caf\\xe9 (not U+FFFD) once deep verification indexed the set, and restore --path takes that form', () => {
    const src = join(dir.path, 'latin1-src');
    mkdirSync(join(src, 'docs'), { recursive: true });
    writeFileSync(Buffer.from(`${src}/docs/caf\xe9.txt`, 'latin1'), 'e9');
    writeFileSync(Buffer.from(`${src}/docs/caf\xe8.txt`, 'latin1'), 'e8');
    expect(
      lifeboat(
        env,
        'backup',
        'files',
        '--path',
        join(src, 'docs'),
        '--system',
        'latin1',
        '--to',
        medium,
        '--recipient',
        recipient,
        '--sign-key',
        signKey,
      ).status,
    ).toBe(0);
    expect(lifeboat(env, 'scan', medium).status).toBe(0);
    const key = (JSON.parse(lifeboat(env, 'sets', '--json').stdout) as Array<{ key: string; system: string }>).find(
      (x) => x.system === 'latin1',
    )!.key;
    expect(lifeboat(env, 'verify', key, '--level', 'deep', '--identity', identity).status).toBe(0);
    const found = JSON.parse(lifeboat(env, 'find', 'docs/caf*', '--json').stdout) as Array<{ path: string }>;
    expect(found.map((f) => f.path).sort()).toEqual(['docs/caf\\xe8.txt', 'docs/caf\\xe9.txt']);
    const into = join(dir.path, 'out-latin1');
    const r = lifeboat(
      env,
      'restore',
      'files',
      key,
      '--to',
      into,
      '--identity',
      identity,
      '--path',
      'docs/caf\\xe9.txt',
    );
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(join(into, 'docs'), { encoding: 'buffer' }).map((b) => b.toString('latin1'))).toEqual([
      'caf\xe9.txt',
    ]);
  }, 120_000);
});
