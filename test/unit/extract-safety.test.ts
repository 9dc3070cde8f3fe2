import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LifeboatError } from '../../electron/engine/errors';
import { extractTar } from '../../electron/engine/restore/extract';
import { restoreTree, type TreeRestoreReport } from '../../electron/engine/restore/files';
import { IndexReader } from '../../electron/engine/restore/index-reader';
import { IndexStore } from '../../electron/engine/restore/index-store';
import { SafeTree } from '../../electron/engine/restore/safe-tree';
import { consumerFor } from '../../electron/engine/verify/consumers';
import { indexLine, paxTar, type TarSpec } from '../helpers/pax-tar';
import { tempDir } from '../helpers/temp';
import { sentinelState } from '../helpers/tree-state';

const ROOT = join(__dirname, '../..');
let dir: ReturnType<typeof tempDir>;
let sentinel: string;
let n = 0;

/** Every entry under a folder: kind, mode, owner, mtime, content hash or link target. */
const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

/** The process's peak RSS since the last reset, from /proc (sampling from JS would miss synchronous stretches). */
function resetPeakRss(): number {
  writeFileSync('/proc/self/clear_refs', '5');
  return peakRss();
}
function peakRss(): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
}

interface Case {
  tars: Record<string, Buffer>;
  index: string[];
  canMakeDevices?: boolean;
  sameOwner?: boolean;
  /** A set's tar stream (default: the tar of `tars` in one piece), given the staging folder. */
  source?(set: string, staging: string): Readable;
  deferFolders?: boolean;
}
/** The staging folder of the last case restored. */
let lastStaging = '';

/** A restore of hand-made tars and index into a fresh target's staging folder. */
async function restore(c: Case): Promise<{ report: TreeRestoreReport; staging: string }> {
  const base = join(dir.path, `case-${++n}`);
  const staging = join(base, 'target', '.lifeboat-restore-x');
  lastStaging = staging;
  mkdirSync(staging, { recursive: true });
  const store = await IndexStore.load(
    Readable.from([Buffer.from(c.index.join('\n') + '\n')]),
    [],
    join(base, 'index.sqlite'),
  );
  try {
    const report = await restoreTree({
      store,
      staging,
      openTar: async (set) => ({
        source: c.source?.(set, staging) ?? Readable.from([c.tars[set] ?? paxTar([])]),
        stages: [],
        label: `set ${set}`,
      }),
      sameOwner: c.sameOwner ?? false,
      canMakeDevices: c.canMakeDevices ?? false,
      deferFolders: c.deferFolders ?? false,
      log: () => undefined,
      progress: () => undefined,
    });
    return { report, staging };
  } finally {
    store.close();
  }
}

async function refused(c: Case | (() => Promise<unknown>)): Promise<LifeboatError> {
  const before = sentinelState(sentinel);
  let err: unknown = null;
  try {
    await (typeof c === 'function' ? c() : restore(c));
  } catch (e) {
    err = e;
  }
  expect(err, 'the restore should have been refused').toBeInstanceOf(LifeboatError);
  // Nothing outside the target was created, changed or chmod-ed.
  expect(sentinelState(sentinel)).toEqual(before);
  return err as LifeboatError;
}

beforeAll(() => {
  dir = tempDir();
  sentinel = join(dir.path, 'sentinel');
  mkdirSync(join(sentinel, 'etc'), { recursive: true });
  writeFileSync(join(sentinel, 'etc', 'passwd'), 'root:x:0:0\n', { mode: 0o644 });
  chmodSync(join(sentinel, 'etc'), 0o755);
  utimesSync(join(sentinel, 'etc'), 1000, 1000);
});

afterAll(() => dir?.cleanup());

describe('extraction never writes through a link', () => {
  it('the symlink chain of issue 17 (x/s -> ., x/s/s/s/l -> ../.., then x/l/<dir>/pwned.txt 4755) is refused by index and by tar', async () => {
    // From <base>/target/.lifeboat-restore-x/x/s/s/s the link climbs to <base>/.. = dir.path.
    const climb = '../../../../../..';
    const entries: TarSpec[] = [
      { name: 'x', type: 'dir' },
      { name: 'x/s', type: 'symlink', linkname: '.' },
      { name: 'x/s/s/s/l', type: 'symlink', linkname: climb },
      { name: 'x/l/sentinel/etc/pwned.txt', type: 'file', mode: 0o4755, body: 'pwned' },
    ];
    const e1 = await refused({
      tars: { s1: paxTar(entries) },
      index: [
        indexLine({ path: 'x', type: 'dir', in: 's1' }),
        indexLine({ path: 'x/s', type: 'symlink', target: '.', in: 's1' }),
        indexLine({ path: 'x/s/s/s/l', type: 'symlink', target: climb, in: 's1' }),
        indexLine({
          path: 'x/l/sentinel/etc/pwned.txt',
          type: 'file',
          size: 5,
          mode: 0o4755,
          sha256: sha('pwned'),
          in: 's1',
        }),
      ],
    });
    expect(e1.code).toBe('UNSAFE_PATH');
    expect(e1.message).toMatch(/x\/s\/s\/s\/l.*under x\/s/);
    // The same tar through the generic extraction (dumps, base backups): links come last, and the
    // second link's folder x/s is by then a link: refused.
    const into = join(dir.path, 'generic', 'target');
    mkdirSync(into, { recursive: true });
    const e2 = await refused(() => extractTar(Readable.from([paxTar(entries)]), [], into, { accept: () => true }));
    expect(e2.code).toBe('UNSAFE_PATH');
  });

  it('index entries with ../../../victim are refused before anything is written, naming the line', async () => {
    const e = await refused({
      tars: {},
      index: [
        indexLine({ path: 'ok', type: 'dir', in: 's1' }),
        indexLine({ path: '../../../sentinel/etc', type: 'dir', mode: 0o777, mtime_ms: 0, in: 's1' }),
      ],
    });
    expect(e.code).toBe('UNSAFE_PATH');
    expect(e.message).toMatch(/line 2/);
    for (const bad of ['/abs/path', '', 'a/\u0000/b']) {
      const r = await refused({ tars: {}, index: [indexLine({ path: bad, type: 'dir', in: 's1' })] });
      expect(r.code).toBe('UNSAFE_PATH');
    }
  });

  it('a symlink then a file through it: refused (index), and a link already on disk is never followed', async () => {
    const target = join(sentinel, 'etc');
    const e = await refused({
      tars: {
        s1: paxTar([
          { name: 'a', type: 'symlink', linkname: target },
          { name: 'a/pwned', type: 'file', body: 'x' },
        ]),
      },
      index: [
        indexLine({ path: 'a', type: 'symlink', target, in: 's1' }),
        indexLine({ path: 'a/pwned', type: 'file', size: 1, sha256: sha('x'), in: 's1' }),
      ],
    });
    expect(e.code).toBe('UNSAFE_PATH');
    // Tar only: the file comes first and makes a real folder; the link then cannot replace it.
    const into = join(dir.path, 'generic2');
    mkdirSync(into);
    await refused(() =>
      extractTar(
        Readable.from([
          paxTar([
            { name: 'a', type: 'symlink', linkname: target },
            { name: 'a/pwned', type: 'file', body: 'x' },
          ]),
        ]),
        [],
        into,
        { accept: () => true },
      ),
    );
    // A link planted in the folder before the extraction.
    const planted = join(dir.path, 'planted');
    mkdirSync(planted);
    symlinkSync(target, join(planted, 'evil'));
    const tree = new SafeTree(planted);
    const before = sentinelState(sentinel);
    expect(() => tree.createFile(Buffer.from('evil/pwned'))).toThrow(/symbolic link/);
    expect(() => tree.mkdir(Buffer.from('evil/sub'))).toThrow(/symbolic link/);
    expect(() => tree.hardlink(Buffer.from('evil/passwd'), Buffer.from('copy'))).toThrow(/symbolic link/);
    expect(sentinelState(sentinel)).toEqual(before);
    const e3 = await refused(() =>
      extractTar(Readable.from([paxTar([{ name: 'evil/pwned', type: 'file', body: 'x' }])]), [], planted, {
        accept: () => true,
      }),
    );
    expect(e3.code).toBe('UNSAFE_PATH');
  });

  it('hard links only to files of the tree', async () => {
    const out = await refused({
      tars: { s1: paxTar([]) },
      index: [indexLine({ path: 'h', type: 'hardlink', target: '../../sentinel/etc/passwd', in: 's1' })],
    });
    expect(out.code).toBe('UNSAFE_PATH');
    const missing = await refused({
      tars: { s1: paxTar([]) },
      index: [indexLine({ path: 'h', type: 'hardlink', target: 'nothing', in: 's1' })],
    });
    const orphan = await refused({
      tars: { s1: paxTar([]) },
      index: [indexLine({ path: 'no/folder', type: 'dir', in: 's1' })],
    });
    expect(orphan.message).toMatch(/not its folder no/);
    expect(missing.message).toMatch(/not a file of the restored tree/);
    const abs = await refused(() =>
      extractTar(
        Readable.from([paxTar([{ name: 'h', type: 'hardlink', linkname: join(sentinel, 'etc/passwd') }])]),
        [],
        join(dir.path, 'g3'),
        { accept: () => true },
      ),
    );
    expect(abs.code).toBe('UNSAFE_PATH');
  });

  it('a name past the file system limit is a clear error naming the path', async () => {
    const long = 'n'.repeat(300);
    const e = await refused({
      tars: { s1: paxTar([{ name: long, type: 'file', body: 'y' }]) },
      index: [indexLine({ path: long, type: 'file', size: 1, sha256: sha('y'), in: 's1' })],
    });
    expect(e.code).toBe('PRECONDITION_FAILED');
    expect(e.message).toContain(long);
  });

  it('a file whose content differs from the index is refused', async () => {
    const e = await refused({
      tars: { s1: paxTar([{ name: 'f', type: 'file', body: 'evil' }]) },
      index: [indexLine({ path: 'f', type: 'file', size: 4, sha256: sha('good'), in: 's1' })],
    });
    expect(e.code).toBe('CHECKSUM_MISMATCH');
  });
});

describe('the exact state of the index', () => {
  it('an incremental chain: only the final entries, type changes right, modes and mtimes, links whatever their target', async () => {
    const s1 = paxTar([
      { name: 'keep.txt', type: 'file', body: 'kept' },
      { name: 'gone', type: 'dir' },
      { name: 'gone/old.txt', type: 'file', body: 'deleted later' },
      { name: 'x', type: 'file', body: 'was a file' },
      { name: 'y', type: 'dir' },
    ]);
    const s2 = paxTar([
      { name: 'x', type: 'dir' },
      { name: 'x/inner.txt', type: 'file', body: 'now a folder' },
      { name: 'y', type: 'file', body: 'was a folder' },
      { name: 'run.sh', type: 'file', body: '#!/bin/sh\n', mode: 0o4755 },
    ]);
    const { report, staging } = await restore({
      tars: { s1, s2 },
      index: [
        indexLine({
          path: 'keep.txt',
          type: 'file',
          size: 4,
          sha256: sha('kept'),
          mtime_ms: 1_600_000_000_000,
          mode: 0o640,
          in: 's1',
        }),
        indexLine({ path: 'x', type: 'dir', mode: 0o750, mtime_ms: 1_500_000_000_000, in: 's2' }),
        indexLine({ path: 'x/inner.txt', type: 'file', size: 12, sha256: sha('now a folder'), in: 's2' }),
        indexLine({ path: 'y', type: 'file', size: 12, sha256: sha('was a folder'), in: 's2' }),
        indexLine({
          path: 'run.sh',
          type: 'file',
          size: 10,
          sha256: sha('#!/bin/sh\n'),
          mode: 0o4755,
          uid: 1234,
          gid: 1234,
          in: 's2',
        }),
        indexLine({ path: 'etc-link', type: 'symlink', target: '/etc/alternatives/editor', in: 's2' }),
        indexLine({ path: 'up-link', type: 'symlink', target: '../../outside', in: 's2' }),
        indexLine({ path: 'fifo', type: 'fifo', mode: 0o600, in: 's2' }),
        indexLine({ path: 'null', type: 'char', rdev: [1, 3], mode: 0o666, in: 's2' }),
      ],
    });
    expect(readdirSync(staging).sort()).toEqual(['etc-link', 'fifo', 'keep.txt', 'run.sh', 'up-link', 'x', 'y']);
    expect(readdirSync(join(staging, 'x'))).toEqual(['inner.txt']);
    expect(readFileSync(join(staging, 'y'), 'utf8')).toBe('was a folder');
    expect(lstatSync(join(staging, 'keep.txt')).mode & 0o7777).toBe(0o640);
    expect(lstatSync(join(staging, 'keep.txt')).mtimeMs).toBe(1_600_000_000_000);
    expect(lstatSync(join(staging, 'x')).mode & 0o7777).toBe(0o750);
    expect(lstatSync(join(staging, 'x')).mtimeMs).toBe(1_500_000_000_000);
    // No owner restored: the setuid bit goes, as with GNU tar --no-same-owner.
    expect(lstatSync(join(staging, 'run.sh')).mode & 0o7777).toBe(0o755);
    expect(readlinkSync(join(staging, 'etc-link'))).toBe('/etc/alternatives/editor');
    expect(readlinkSync(join(staging, 'up-link'))).toBe('../../outside');
    expect(lstatSync(join(staging, 'fifo')).isFIFO()).toBe(true);
    expect(report.linksOutside).toBe(2);
    expect(report.notCreated).toEqual({ count: 1, examples: ['null'] });
  });

  it.runIf(process.getuid?.() === 0)('as root: owners, setuid kept with its owner, device nodes made', async () => {
    const { staging } = await restore({
      sameOwner: true,
      canMakeDevices: true,
      tars: { s1: paxTar([{ name: 'run.sh', type: 'file', body: 'x', mode: 0o4755, uid: 1234, gid: 1234 }]) },
      index: [
        indexLine({
          path: 'run.sh',
          type: 'file',
          size: 1,
          sha256: sha('x'),
          mode: 0o4755,
          uid: 1234,
          gid: 1234,
          in: 's1',
        }),
        indexLine({ path: 'null', type: 'char', rdev: [1, 3], mode: 0o666, uid: 0, gid: 0, in: 's1' }),
        indexLine({ path: 'link', type: 'symlink', target: 'run.sh', uid: 1234, gid: 99, in: 's1' }),
      ],
    });
    const st = lstatSync(join(staging, 'run.sh'));
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([1234, 1234, 0o4755]);
    const dev = lstatSync(join(staging, 'null'));
    expect(dev.isCharacterDevice()).toBe(true);
    expect(dev.rdev).toBe(0x103);
    expect([lstatSync(join(staging, 'link')).uid, lstatSync(join(staging, 'link')).gid]).toEqual([1234, 99]);
  });

  it('raw non-UTF-8 names (pax hdrcharset=BINARY, path_b64) come back byte for byte', async () => {
    const raw = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x74, 0x78, 0x74]); // caf\xe9.txt
    const { staging } = await restore({
      tars: { s1: paxTar([{ name: raw, type: 'file', body: 'latin1' }]) },
      index: [
        indexLine({
          path: raw.toString('utf8'),
          path_b64: raw.toString('base64'),
          type: 'file',
          size: 6,
          sha256: sha('latin1'),
          in: 's1',
        }),
      ],
    });
    const names = readdirSync(staging, { encoding: 'buffer' });
    expect(names).toHaveLength(1);
    expect(names[0]!.equals(raw)).toBe(true);
  });
});

describe('many files in flight at once', () => {
  /** Files of a few hundred bytes to a few KiB (and one past the whole-file size, streamed), modes and mtimes varied. */
  const files = Array.from({ length: 120 }, (_, i) => ({
    path: `d${i % 4}/f${i}.txt`,
    body: i === 77 ? Buffer.alloc(1536 * 1024, i) : Buffer.from(`file ${i} `.repeat(20 + ((i * 37) % 300))),
    mode: [0o600, 0o664, 0o444, 0o755][i % 4]!, // 0664: more than the umask (022) lets open() give
    mtime_ms: 1_600_000_000_000 + i * 1000 + 0.5,
  }));
  const dirs = [0, 1, 2, 3].map((d) => ({
    path: `d${d}`,
    mode: [0o700, 0o750, 0o711, 0o555][d]!,
    mtime_ms: 1_500_000_000_000 + d * 1000,
  }));
  const tarOf = (fs: typeof files): TarSpec[] => [
    ...dirs.map((d) => ({ name: d.path, type: 'dir' as const })),
    ...fs.map((f) => ({ name: f.path, type: 'file' as const, body: f.body })),
  ];
  const indexOf = (fs: typeof files, set = 's1'): string[] => [
    ...dirs.map((d) => indexLine({ ...d, type: 'dir', in: set })),
    ...fs.map((f) =>
      indexLine({
        path: f.path,
        type: 'file',
        size: f.body.length,
        sha256: sha(f.body),
        mode: f.mode,
        mtime_ms: f.mtime_ms,
        in: set,
      }),
    ),
  ];

  it('folders, their files, then their modes and times; a hard link to a file written beside others', async () => {
    const { staging } = await restore({
      tars: { s1: paxTar(tarOf(files)) },
      index: [...indexOf(files), indexLine({ path: 'd3/link', type: 'hardlink', target: 'd1/f61.txt', in: 's1' })],
    });
    for (const f of files) {
      const st = lstatSync(join(staging, f.path));
      expect(readFileSync(join(staging, f.path)).equals(f.body), f.path).toBe(true);
      expect(st.mode & 0o7777, f.path).toBe(f.mode);
      expect(st.mtimeMs, f.path).toBeCloseTo(f.mtime_ms, 2);
    }
    // Folders got their modes and times after their contents (placing a file touches its folder's mtime).
    for (const d of dirs) {
      const st = lstatSync(join(staging, d.path));
      expect([st.mode & 0o7777, st.mtimeMs]).toEqual([d.mode, d.mtime_ms]);
    }
    const link = lstatSync(join(staging, 'd3/link'));
    expect(link.ino).toBe(lstatSync(join(staging, 'd1/f61.txt')).ino);
    expect(link.nlink).toBe(2);
    chmodSync(join(staging, 'd3'), 0o755);
  });

  it('a symbolic link planted mid-restore where a later file goes is refused, never written through', async () => {
    const first = paxTar(tarOf(files.slice(0, 60)), { end: false });
    const rest = paxTar(files.slice(60).map((f) => ({ name: f.path, type: 'file' as const, body: f.body })));
    const e = await refused({
      tars: {},
      index: indexOf(files),
      deferFolders: true,
      source: (_set, staging) =>
        Readable.from(
          (async function* () {
            yield first;
            // The first files are on disk (written by the pool while the tar went on): now the link.
            while (!existsSync(join(staging, files[0]!.path))) await new Promise((r) => setTimeout(r, 5));
            symlinkSync(join(sentinel, 'etc', 'passwd'), join(staging, files[119]!.path));
            yield rest;
          })(),
        ),
    });
    expect(e.code).toBe('FORMAT_INVALID');
    expect(e.message).toContain(files[119]!.path);
  });

  it('a file that differs from the index, last of the last set of a chain: refused, its bytes never written', async () => {
    const later = files.slice(100).map((f, i) => (i === 19 ? { ...f, body: Buffer.from('tampered') } : f));
    const e = await refused({
      tars: {
        s1: paxTar(tarOf(files.slice(0, 100))),
        s2: paxTar(later.map((f) => ({ name: f.path, type: 'file' as const, body: f.body }))),
      },
      index: [...indexOf(files.slice(0, 100)), ...indexOf(files.slice(100), 's2').slice(dirs.length)],
      deferFolders: true,
    });
    expect(e.code).toBe('CHECKSUM_MISMATCH');
    expect(e.message).toContain(files[119]!.path);
    // Checked before a byte of it was written; the caller removes the staging folder (nothing was put in place).
    expect(existsSync(join(lastStaging, files[119]!.path))).toBe(false);
  });
});

describe('verification reports what a restore will do', () => {
  async function walk(tar: Buffer): Promise<{ verdict: string; detail: string | null }> {
    const c = consumerFor('files-tar', null)!;
    await pipeline(Readable.from([tar]), c.sink).catch(() => undefined);
    return c.outcome();
  }

  it('links out of the tree are information, `..` names unsafe, devices counted', async () => {
    const ok = await walk(
      paxTar([
        { name: 'etc', type: 'dir' },
        { name: 'etc/editor', type: 'symlink', linkname: '/usr/bin/vim' },
        { name: 'etc/null', type: 'char', devmajor: 1, devminor: 3 },
      ]),
    );
    expect(ok.verdict).toBe('ok');
    expect(ok.detail).toMatch(/1 link points outside the tree/);
    expect(ok.detail).toMatch(/1 device node/);
    expect((await walk(paxTar([{ name: '../x', type: 'file', body: '' }]))).verdict).toBe('unsafe-path');
    expect((await walk(paxTar([{ name: 'h', type: 'hardlink', linkname: '/etc/shadow' }]))).verdict).toBe(
      'unsafe-path',
    );
  });

  it('an entry under a symbolic link (the issue 17 chain) is unsafe at verification too, in the tar and in the index', async () => {
    const chainTar = paxTar([
      { name: 'x', type: 'dir' },
      { name: 'x/s', type: 'symlink', linkname: '.' },
      { name: 'x/s/s/s/l', type: 'symlink', linkname: '../../..' },
      { name: 'x/l/etc/pwned.txt', type: 'file', body: 'p' },
    ]);
    const t = await walk(chainTar);
    expect(t.verdict).toBe('unsafe-path');
    expect(t.detail).toMatch(/x\/s\/s\/s\/l lies under the symbolic link x\/s/);
    const c = consumerFor('file-index', null)!;
    const lines = [
      indexLine({ path: 'x', type: 'dir', in: 's' }),
      indexLine({ path: 'x/s', type: 'symlink', target: '.', in: 's' }),
      indexLine({ path: 'x/s/s/s/l', type: 'symlink', target: '../../..', in: 's' }),
    ];
    await pipeline(Readable.from([Buffer.from(lines.join('\n') + '\n')]), c.sink).catch(() => undefined);
    expect(await c.outcome()).toMatchObject({ verdict: 'unsafe-path' });
  });

  it('the file index: links outside counted, ../ unsafe, a line past 64 KiB corrupted naming the line', async () => {
    const check = async (text: string): Promise<{ verdict: string; detail: string | null }> => {
      const c = consumerFor('file-index', null)!;
      await pipeline(Readable.from([Buffer.from(text)]), c.sink).catch(() => undefined);
      return c.outcome();
    };
    const ok = await check(`${indexLine({ path: 'l', type: 'symlink', target: '/etc/x', in: 's' })}\n`);
    expect(ok).toMatchObject({ verdict: 'ok', detail: expect.stringMatching(/1 link points outside/) as unknown });
    expect((await check(`${indexLine({ path: '../../v', type: 'dir', in: 's' })}\n`)).verdict).toBe('unsafe-path');
    const long = await check(
      `${indexLine({ path: 'a', type: 'dir', in: 's' })}\n${indexLine({ path: 'b'.repeat(70_000), type: 'dir', in: 's' })}\n`,
    );
    expect(long.verdict).toBe('corrupted');
    expect(long.detail).toMatch(/line 2 is longer than 65536 bytes/);
  });
});

describe('the readers refuse what no honest archive holds', () => {
  it('a pax header over 1 MiB is refused before it is buffered', async () => {
    const h = Buffer.from(paxTar([{ name: 'x', type: 'file', body: '' }], { end: false }).subarray(0, 512));
    h.write('x', 156, 'latin1');
    h.write((64 * 1024 * 1024).toString(8).padStart(11, '0') + '\0', 124, 'latin1');
    h.write(' '.repeat(8), 148, 'latin1');
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    const c = consumerFor('files-tar', null)!;
    await pipeline(Readable.from([h, Buffer.alloc(4096)]), c.sink).catch(() => undefined);
    const out = await c.outcome();
    expect(out.verdict).toBe('corrupted');
    expect(out.detail).toMatch(/larger than any name needs/);
  });

  it('v1 index lines (no owners, no b64) are read; unknown fields and bad hashes are not', async () => {
    const seen: string[] = [];
    const read = (text: string): Promise<void> =>
      pipeline(
        Readable.from([Buffer.from(text)]),
        new IndexReader((e) => seen.push(`${e.type}:${e.display}:${e.uid}`)),
      );
    await read('{"path":"a","type":"dir","size":0,"mtime_ms":1,"mode":493,"sha256":null,"target":null,"in":"s"}\n');
    expect(seen).toEqual(['dir:a:null']);
    await expect(
      read('{"path":"a","type":"dir","size":0,"mtime_ms":1,"mode":493,"in":"s","evil":1}\n'),
    ).rejects.toThrow(/line 1 is invalid \(unknown field/);
    await expect(
      read('{"path":"a","type":"file","size":0,"mtime_ms":1,"mode":420,"sha256":"xyz","in":"s"}\n'),
    ).rejects.toThrow(/sha256/);
    await expect(read('{"path":"a/./b","type":"dir","size":0,"mtime_ms":1,"mode":493,"in":"s"}\n')).rejects.toThrow(
      /plain relative path/,
    );
  });

  it('a GNU tar made with -C dir . (a "./" root entry) extracts through the generic path', async () => {
    const src = join(dir.path, 'dot-src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'sub', 'f'), 'dot');
    const tar = execFileSync('tar', ['--format=pax', '-C', src, '-cf', '-', '.']);
    const into = join(dir.path, 'dot-into');
    mkdirSync(into);
    const r = await extractTar(Readable.from([tar]), [], into, { accept: () => true });
    expect(r.files).toBe(1);
    expect(readFileSync(join(into, 'sub', 'f'), 'utf8')).toBe('dot');
  });
});

describe('bounded memory', () => {
  it('a 5 GiB file of zeros walks through the tar parser in constant memory', async () => {
    const size = 5 * 1024 ** 3;
    const head = paxTar([{ name: 'zeros', type: 'file', body: '' }], { end: false });
    // The same header with the size patched in (octal, with the checksum recomputed).
    const h = Buffer.from(head.subarray(0, 512));
    h.write(size.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
    h.write(' '.repeat(8), 148, 'latin1');
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    const chunk = Buffer.alloc(4 * 1024 * 1024);
    async function* body(): AsyncGenerator<Buffer> {
      yield h;
      for (let left = size; left > 0; left -= chunk.length)
        yield left >= chunk.length ? chunk : chunk.subarray(0, left);
      yield Buffer.alloc(1024);
    }
    const c = consumerFor('files-tar', null)!;
    const base = resetPeakRss();
    await pipeline(Readable.from(body()), c.sink);
    const out = await c.outcome();
    expect(out.detail).toContain(`1 files, ${size} bytes`);
    console.log(`5 GiB tar walk: RSS ${Math.round(base / 1e6)} MB before, peak ${Math.round(peakRss() / 1e6)} MB`);
    expect(peakRss() - base).toBeLessThan(100 * 1024 * 1024);
  }, 120_000);

  it('an index of 1 million entries is read into the store by a plain Node process under 150 MB RSS', () => {
    // Bundled with rolldown (vite's bundler) and run as its own process: the runner's worker
    // keeps allocations of its own that are not the engine's.
    const probe = join(dir.path, 'probe.cjs');
    execFileSync(
      join(ROOT, 'node_modules/.bin/rolldown'),
      [
        join(ROOT, 'test/helpers/index-memory-probe.ts'),
        '--format',
        'cjs',
        '--platform',
        'node',
        '-e',
        'better-sqlite3',
        '-o',
        probe,
      ],
      { stdio: 'pipe' },
    );
    const out = execFileSync(process.execPath, [probe, '1000000', join(dir.path, 'big.sqlite')], {
      env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') },
      encoding: 'utf8',
    });
    const r = JSON.parse(out) as { files: number; found: number | null; peakRss: number; seconds: number };
    console.log(`1M-entry index: peak RSS ${Math.round(r.peakRss / 1e6)} MB, ${r.seconds} s`);
    expect(r.files).toBe(1_000_000);
    expect(r.found).toBe(10);
    expect(r.peakRss).toBeLessThan(150 * 1024 * 1024);
  }, 600_000);

  it('the line reader streams: a line is limited, the rest is never held', async () => {
    let seen = 0;
    const reader = new IndexReader(() => seen++);
    await pipeline(
      Readable.from([
        Buffer.from(
          `${indexLine({ path: 'a', type: 'dir', in: 's' })}\n${indexLine({ path: 'b', type: 'dir', in: 's' })}`,
        ),
      ]),
      reader,
    );
    expect(seen).toBe(2);
  });
});
