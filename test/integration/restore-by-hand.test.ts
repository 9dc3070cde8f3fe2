import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeIndex } from '../../electron/engine/format/file-index';
import { writeSet } from '../../electron/engine/backup/set-writer';
import { parseIdentityFile } from '../../electron/engine/crypto/age';
import { loadSigningKey } from '../../electron/engine/crypto/signing';
import { TAR_END, tarHeader, tarPadding } from '../../electron/engine/format/tar-writer';
import { FolderMedium } from '../../electron/engine/storage/folder-medium';
import { json, lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';
import { dumpAll, freePort, loadRedisData, redisBackupArgs, startRedis } from '../helpers/redis';
import { bjoin, shellBlocks, treeState } from '../helpers/tree-state';

/**
 * docs/restore-by-hand.md, section by section, run VERBATIM: the `sh` blocks of sections 0, 1, 2
 * and 3d go to `bash -euo pipefail` with only the variables of section 0 set beforehand. The
 * chain has every kind of change; the result must equal the source (diff -r, and the stat of
 * every entry: type, mode, owner, mtime in ns for files and directories, link targets, link counts).
 */

const DOC = join(__dirname, '../../docs/restore-by-hand.md');
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let identity: string;
let recipient: string;
let signKey: string;
let src: string;
const setIds: string[] = [];
const snapshots: string[] = [];

const LATIN1 = Buffer.from('caf\xe9.txt', 'latin1');
const BADDIR = Buffer.concat([Buffer.from('dir'), Buffer.from([0xff, 0xfe])]);
const WEIRD = '-x \\ *?[a]\nnl';
const day = (iso: string): Date => new Date(iso);

function backup(incremental: boolean): string {
  const args = [
    'backup',
    'files',
    '--system',
    'docs',
    '--path',
    src,
    '--to',
    medium,
    '--recipient',
    recipient,
    '--sign-key',
    signKey,
    '--json',
  ];
  const r = lifeboat(env, ...args, ...(incremental ? ['--incremental'] : []));
  expect(r.status, r.stderr).toBe(0);
  const set = json<{ set_id: string; warnings: string[] }>(r);
  expect(set.warnings).toEqual([]);
  setIds.push(set.set_id);
  // The state of the source as this set saw it (cp -a keeps modes, owners, mtimes, hardlinks, links).
  const snap = join(dir.path, `snap-${setIds.length}`);
  mkdirSync(snap);
  execFileSync('cp', ['-a', src, snap]);
  snapshots.push(join(snap, 'src'));
  return set.set_id;
}

function byHand(
  set: string,
  restore: string,
  system = 'docs',
  section: { heading: RegExp; blocks: number; env?: Record<string, string> } = { heading: /^(0|1|2|3d)\. /, blocks: 8 },
): { stdout: string; stderr: string; status: number | null } {
  const md = readFileSync(DOC, 'utf8');
  const blocks = shellBlocks(md, section.heading);
  // 2 blocks in 0, 1 in 1, 1 in 2, 4 in 3d (1 in 3e): a heading renamed by mistake would drop some.
  expect(blocks.length).toBe(section.blocks);
  const work = join(dir.path, `work-${set}`);
  const prelude = {
    IDENTITY: identity,
    SIGNER_PUB: `${signKey}.pub`,
    MEDIUM: medium,
    SYSTEM: system,
    SET: set,
    RESTORE: restore,
    WORK: work,
    ...section.env,
  };
  const r = spawnSync('bash', ['-euo', 'pipefail', '-c', blocks.join('\n')], {
    env: { ...process.env, ...prelude },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'drive');
  identity = join(dir.path, 'keys/laptop.age');
  signKey = join(dir.path, 'keys/sign.pem');
  mkdirSync(join(dir.path, 'keys'));
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'drive').status).toBe(0);
  recipient = lifeboat(env, 'keys', 'age-new', '--out', identity).stdout.trim();
  expect(lifeboat(env, 'keys', 'signing-new', '--out', signKey).status).toBe(0);

  // Set 1: a bit of everything.
  src = join(dir.path, 'src');
  mkdirSync(join(src, 'keep'), { recursive: true });
  writeFileSync(join(src, 'keep/unchanged.txt'), 'never changes\n');
  utimesSync(join(src, 'keep/unchanged.txt'), day('2020-01-02T03:04:05Z'), day('2020-01-02T03:04:05Z'));
  mkdirSync(join(src, 'olddir/sub'), { recursive: true });
  writeFileSync(join(src, 'olddir/sub/f.txt'), 'in a directory renamed, then deleted\n');
  mkdirSync(join(src, 'willbefile'));
  writeFileSync(join(src, 'willbefile/x'), 'x\n');
  writeFileSync(join(src, 'willbedir'), 'a file now\n');
  writeFileSync(join(src, 'willbelink'), 'a file now\n');
  writeFileSync(join(src, 'acct'), 'balance=100\n');
  writeFileSync(join(src, 'gone.txt'), 'deleted in set 2\n');
  writeFileSync(bjoin(src, LATIN1), 'latin-1 name\n');
  mkdirSync(bjoin(src, BADDIR));
  writeFileSync(bjoin(src, BADDIR, 'in.txt'), 'in a directory whose name is not UTF-8\n');
  writeFileSync(join(src, WEIRD), 'a name with a backslash, wildcards, a leading dash and a newline\n');
  mkdirSync(join(src, 'links'));
  writeFileSync(join(src, 'links/h1'), randomBytes(20_000));
  linkSync(join(src, 'links/h1'), join(src, 'h2'));
  symlinkSync('/etc/passwd', join(src, 'links/abs'));
  symlinkSync('../keep/unchanged.txt', join(src, 'links/rel'));
  symlinkSync(LATIN1, bjoin(src, 'links/to-latin1'));
  const long = join(src, 'd'.repeat(120), 'f'.repeat(120));
  mkdirSync(join(long, '..'));
  writeFileSync(long, 'a path of more than 100 bytes\n');
  writeFileSync(join(src, 'suid'), '#!/bin/sh\n');
  chownSync(join(src, 'suid'), 1234, 1234);
  chmodSync(join(src, 'suid'), 0o4755);
  mkdirSync(join(src, 'ro'));
  writeFileSync(join(src, 'ro/file'), 'in a read-only directory\n');
  chmodSync(join(src, 'ro'), 0o555);
  utimesSync(join(src, 'keep'), day('2021-05-06T07:08:09Z'), day('2021-05-06T07:08:09Z'));
  backup(false);

  // Set 2: rename a directory, type changes both ways and to a link, a same-size change with
  // its mtime put back, a deletion, an addition.
  renameSync(join(src, 'olddir'), join(src, 'newdir'));
  rmSync(join(src, 'willbefile'), { recursive: true });
  writeFileSync(join(src, 'willbefile'), 'was a directory\n');
  rmSync(join(src, 'willbedir'));
  mkdirSync(join(src, 'willbedir'));
  writeFileSync(join(src, 'willbedir/inside'), 'was a file\n');
  rmSync(join(src, 'willbelink'));
  symlinkSync('keep/unchanged.txt', join(src, 'willbelink'));
  execFileSync('touch', ['-r', join(src, 'acct'), join(dir.path, 'acct-mtime')]);
  writeFileSync(join(src, 'acct'), 'balance=999\n');
  execFileSync('touch', ['-r', join(dir.path, 'acct-mtime'), join(src, 'acct')]);
  rmSync(join(src, 'gone.txt'));
  writeFileSync(join(src, 'new.txt'), 'added in set 2\n');
  backup(true);

  // Set 3: the renamed directory deleted, a mode change only, directory mtimes set back.
  rmSync(join(src, 'newdir'), { recursive: true });
  chmodSync(bjoin(src, LATIN1), 0o600);
  utimesSync(join(src, 'willbedir'), day('2019-09-09T09:09:09Z'), day('2019-09-09T09:09:09Z'));
  utimesSync(src, day('2018-08-08T08:08:08Z'), day('2018-08-08T08:08:08Z'));
  backup(true);
});
afterAll(() => dir.cleanup());

describe('docs/restore-by-hand.md, run verbatim', () => {
  it('restores the newest set of a three-set chain to exactly the source', () => {
    const restore = join(dir.path, 'restore-3');
    const r = byHand(setIds[2]!, restore);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/Signature Verified Successfully/);
    expect(r.stdout).toMatch(/0 problem\(s\)/);
    // Section 0 printed the key ids Lifeboat writes: the manifest's recipients and the signature's.
    const setDir = join(medium, 'sets/docs', setIds[2]!);
    const manifest = JSON.parse(readFileSync(join(setDir, 'manifest.json'), 'utf8')) as {
      artifacts: Array<{ recipients: string[] }>;
    };
    expect(r.stdout.split('\n')).toContain(manifest.artifacts[0]!.recipients[0]);
    expect(r.stdout.split('\n')).toContain(
      readFileSync(join(setDir, 'manifest.json.sig'), 'utf8').split('\n')[0]!.split(' ')[2],
    );
    // Every set of the chain was read: set 1 still holds keep/unchanged.txt, set 2 willbedir/inside.
    expect(
      readFileSync(join(dir.path, `work-${setIds[2]}`, 'sets'), 'utf8')
        .trim()
        .split('\n'),
    ).toEqual(setIds);

    const diff = spawnSync('diff', ['-r', '--no-dereference', src, join(restore, 'src')], { encoding: 'utf8' });
    expect(diff.stdout + diff.stderr).toBe('');
    expect(diff.status).toBe(0);
    expect(treeState(join(restore, 'src'))).toEqual(treeState(src));
    // The parts the issue named, spelled out.
    expect(readFileSync(join(restore, 'src/acct'), 'utf8')).toBe('balance=999\n');
    expect(readdirSync(join(restore, 'src'))).not.toContain('newdir');
    expect(readdirSync(join(restore, 'src'))).not.toContain('olddir');
    expect(statSync(join(restore, 'src')).mtime.toISOString()).toBe('2018-08-08T08:08:08.000Z');
    expect(statSync(join(restore, 'src/h2')).ino).toBe(statSync(join(restore, 'src/links/h1')).ino);
    expect(statSync(join(restore, 'src/suid'))).toMatchObject({ uid: 1234, gid: 1234, mode: 0o104755 });
  });

  it('section 3e: a stream set (backup cmd of a tar stream) checked and loaded by tar -x', () => {
    const streamSrc = join(dir.path, 'stream-src');
    mkdirSync(join(streamSrc, 'conf'), { recursive: true });
    writeFileSync(join(streamSrc, 'conf/app.yml'), 'port: 8080\n');
    writeFileSync(join(streamSrc, 'blob'), randomBytes(50_000));
    const r = lifeboat(
      env,
      'backup',
      'cmd',
      '--system',
      'images',
      '--kind',
      'tar-archive',
      '--command',
      `tar -c -C ${streamSrc} .`,
      '--to',
      medium,
      '--recipient',
      recipient,
      '--sign-key',
      signKey,
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    const set = json<{ set_id: string }>(r).set_id;
    const restore = join(dir.path, 'restore-stream');
    mkdirSync(restore);
    const load = { heading: /^(0|1|2|3e)\. /, blocks: 5, env: { LOAD: `tar -x -C ${restore}` } };
    const hand = byHand(set, restore, 'images', load);
    expect(hand.status, `${hand.stdout}\n${hand.stderr}`).toBe(0);
    expect(hand.stdout).toMatch(/Signature Verified Successfully/);
    expect(hand.stdout).toContain(`tar-archive: tar -c -C ${streamSrc} .`);
    expect(readFileSync(join(restore, 'conf/app.yml'), 'utf8')).toBe('port: 8080\n');
    expect(readFileSync(join(restore, 'blob'))).toEqual(readFileSync(join(streamSrc, 'blob')));
    // A stream decoded to other bytes than the manifest records stops before the tool runs.
    const other = join(dir.path, 'restore-stream-2');
    mkdirSync(other);
    const stream = join(medium, 'sets/images', set, 'stream.zst.age');
    const good = readFileSync(stream);
    const manifestPath = join(medium, 'sets/images', set, 'manifest.json');
    const manifest = readFileSync(manifestPath, 'utf8');
    const plain = (JSON.parse(manifest) as { artifacts: Array<{ plain_sha256: string }> }).artifacts[0]!.plain_sha256;
    try {
      // The manifest's plaintext hash edited (its signature then fails in step 2: the script stops there).
      writeFileSync(manifestPath, manifest.replace(plain, '0'.repeat(64)));
      const bad = byHand(set, other, 'images', { ...load, env: { LOAD: `tar -x -C ${other}` } });
      expect(bad.status).not.toBe(0);
      expect(readdirSync(other)).toEqual([]);
    } finally {
      writeFileSync(manifestPath, manifest);
      writeFileSync(stream, good);
    }
  });

  it('restores the middle set of the chain to the source as it was then', () => {
    const restore = join(dir.path, 'restore-2');
    const r = byHand(setIds[1]!, restore);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const diff = spawnSync('diff', ['-r', '--no-dereference', snapshots[1]!, join(restore, 'src')], {
      encoding: 'utf8',
    });
    expect(diff.stdout + diff.stderr).toBe('');
    expect(treeState(join(restore, 'src'))).toEqual(treeState(snapshots[1]!));
    expect(readdirSync(join(restore, 'src'))).toContain('newdir');
  });

  it('stops with an error when a set of the chain was tampered with', () => {
    // Set 1's tar replaced: its hashes no longer match and the script must stop before extracting.
    const tar = join(medium, 'sets/docs', setIds[0]!, 'files.tar.zst.age');
    const saved = readFileSync(tar);
    try {
      writeFileSync(tar, Buffer.concat([saved.subarray(0, saved.length - 10), randomBytes(10)]));
      const restore = join(dir.path, 'restore-tampered');
      const r = byHand(setIds[2]!, restore);
      expect(r.status).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/FAILED/);
      expect(readdirSync(dir.path)).not.toContain('restore-tampered');
    } finally {
      writeFileSync(tar, saved);
    }
  });

  it('restores a Redis set (3g): redis-check-rdb and redis-check-aof pass, the RDB placed in a stopped server directory holds every key', async () => {
    const redis = await startRedis(join(dir.path, 'redis-src'), { aof: true });
    try {
      const c = await redis.client();
      await loadRedisData(c, 100);
      const source = await dumpAll(c);
      c.close();
      const r = lifeboat(
        env,
        ...redisBackupArgs({
          system: 'cache',
          port: redis.port,
          medium,
          recipient,
          signKey,
          aofDir: join(redis.dir, 'appendonlydir'),
        }),
      );
      expect(r.status, r.stderr).toBe(0);
      const set = json<{ set_id: string }>(r).set_id;
      const md = readFileSync(DOC, 'utf8');
      const blocks = shellBlocks(md, /^(0|1|2|3g)\. /);
      expect(blocks.length).toBe(6);
      const run = (redisDir: string, port: number): ReturnType<typeof spawnSync> =>
        spawnSync('bash', ['-euo', 'pipefail', '-c', blocks.join('\n')], {
          env: {
            ...process.env,
            IDENTITY: identity,
            SIGNER_PUB: `${signKey}.pub`,
            MEDIUM: medium,
            SYSTEM: 'cache',
            SET: set,
            WORK: join(dir.path, `work-redis-${port}`),
            REDIS_DIR: redisDir,
            REDIS_PORT: String(port),
          },
          encoding: 'utf8',
          timeout: 60_000,
        });
      const target = join(dir.path, 'redis-target');
      mkdirSync(target);
      writeFileSync(join(target, 'dump.rdb'), 'old');
      const done = run(target, await freePort());
      expect(done.status, `${String(done.stdout)}\n${String(done.stderr)}`).toBe(0);
      expect(done.stdout).toMatch(/Signature Verified Successfully/);
      expect(done.stdout).toMatch(/RDB looks OK/);
      expect(done.stdout).toMatch(/All AOF files and manifest are valid/);
      expect(readdirSync(target).filter((f) => f.startsWith('dump.rdb.before-restore-'))).toHaveLength(1);
      const restored = await startRedis(target, { unixOnly: true });
      try {
        const rc = await restored.client();
        expect(await dumpAll(rc)).toEqual(source);
        rc.close();
      } finally {
        await restored.stop();
      }
    } finally {
      await redis.stop();
    }
  }, 30_000);

  it('on a hostile set (a symlink chain climbing out, then a file through it) writes nothing outside the folder', async () => {
    // Signed by the pinned key, as a compromised server would: the signature checks pass.
    const sentinel = join(dir.path, 'sentinel');
    mkdirSync(sentinel);
    writeFileSync(join(sentinel, 'keep.txt'), 'untouched');
    const before = treeState(sentinel);
    const body = Buffer.from('pwned');
    const through = `x/l/${sentinel.slice(1)}/pwned.txt`;
    const entries = [
      { name: 'x', type: 'dir' as const, mode: 0o755, linkname: undefined },
      { name: 'x/s', type: 'symlink' as const, mode: 0o777, linkname: '.' },
      { name: 'x/s/s/s/l', type: 'symlink' as const, mode: 0o777, linkname: '../'.repeat(30) },
    ];
    const tar = Buffer.concat([
      ...entries.map((e) =>
        tarHeader({ name: e.name, type: e.type, mode: e.mode, size: 0, mtimeMs: 0, linkname: e.linkname }),
      ),
      tarHeader({ name: through, type: 'file', mode: 0o4755, size: body.length, mtimeMs: 0 }),
      body,
      tarPadding(body.length),
      TAR_END,
    ]);
    const ids = parseIdentityFile(readFileSync(identity, 'utf8'));
    const written = await writeSet(
      {
        media: [new FolderMedium(medium)],
        system: 'evil',
        kind: 'files',
        tier: null,
        parent: null,
        recipients: [ids[0]!.recipient],
        signingKey: loadSigningKey(readFileSync(signKey)),
        startedAt: new Date(),
      },
      { signal: new AbortController().signal, step: () => undefined, log: () => undefined },
      async (add, setId) => {
        await add({ name: 'files.tar', role: 'files-tar', source: Readable.from([tar]) });
        const lines = [
          ...entries.map((e) => ({
            path: e.name,
            type: e.type,
            size: 0,
            mtime_ms: 0,
            mode: e.mode,
            sha256: null,
            target: e.linkname ?? null,
            in: setId,
          })),
          {
            path: through,
            type: 'file' as const,
            size: body.length,
            mtime_ms: 0,
            mode: 0o4755,
            sha256: null,
            target: null,
            in: setId,
          },
        ];
        await add({ name: 'index.jsonl', role: 'file-index', source: Readable.from([serializeIndex(lines)]) });
        return { source: {}, warnings: [] };
      },
    );
    const restore = join(dir.path, 'restore-evil');
    const r = byHand(written.manifest.set_id, restore, 'evil');
    expect(r.stdout).toMatch(/Signature Verified Successfully/);
    // GNU tar creates the climbing link last (a placeholder until then): the file cannot go through it.
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/pwned\.txt: Cannot open/);
    expect(treeState(sentinel)).toEqual(before);
  });
});
