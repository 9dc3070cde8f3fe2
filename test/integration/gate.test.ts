import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { compress } from 'zstd-napi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest, sha256Hex } from '../../electron/engine/format/manifest';
import { openVerifiedArtifact, type TrustDecision } from '../../electron/engine/restore/gate';
import { FolderMedium } from '../../electron/engine/storage/folder-medium';
import { BIN, json, lifeboat } from '../helpers/cli';
import { startPostgres, type ScratchCluster } from '../helpers/postgres';
import { tempDir } from '../helpers/temp';
import { handMadeSet } from '../helpers/hand-made-set';

let pg: ScratchCluster;
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let identity: string;
let signKey: string;
let recipient: string;

function backup(...args: string[]): string {
  const r = lifeboat(env, 'backup', ...args, '--to', medium, '--recipient', recipient, '--sign-key', signKey, '--json');
  expect(r.status, r.stderr).toBe(0);
  return json<{ set_id: string }>(r).set_id;
}

/** Run the CLI under /usr/bin/time: its exit, output and peak RSS (KiB). */
function measured(
  ...args: string[]
): Promise<{ status: number | null; stdout: string; stderr: string; maxRssKb: number; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn('/usr/bin/time', ['-f', 'MAXRSS %M', process.execPath, BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (status) =>
      resolve({
        status,
        stdout,
        stderr,
        maxRssKb: Number(/MAXRSS (\d+)/.exec(stderr)?.[1] ?? NaN),
        ms: Date.now() - started,
      }),
    );
  });
}

/** 8 GiB of zeros in ~400 KB: the same small zstd frame of 1 MiB of zeros, 8192 times (a valid stream). */
function bomb(): Buffer {
  const frame = compress(Buffer.alloc(1024 * 1024));
  return Buffer.concat(Array.from({ length: 8192 }, () => frame));
}

beforeAll(async () => {
  dir = tempDir();
  pg = await startPostgres();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'medium');
  identity = join(dir.path, 'id.age');
  signKey = join(dir.path, 'sign.pem');
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'drive-a').status).toBe(0);
  recipient = lifeboat(env, 'keys', 'age-new', '--out', identity).stdout.trim();
  lifeboat(env, 'keys', 'signing-new', '--out', signKey);
  expect(lifeboat(env, 'keys', 'trust', `${signKey}.pub`, '--label', 'servers').status).toBe(0);
}, 120_000);

afterAll(async () => {
  await pg?.destroy();
  dir?.cleanup();
});

describe('the gate', () => {
  it('refuses a signed files set whose tar and index were swapped for other content encrypted to the same recipient; nothing is placed', () => {
    const good = join(dir.path, 'good');
    const evil = join(dir.path, 'evil');
    mkdirSync(good, { recursive: true });
    mkdirSync(evil, { recursive: true });
    writeFileSync(join(good, 'report.txt'), 'the real content');
    writeFileSync(join(evil, 'report.txt'), 'replaced by an attacker');
    writeFileSync(join(evil, 'backdoor.sh'), '#!/bin/sh\nid\n', { mode: 0o4755 });
    const victim = backup('files', '--system', 'docs', '--path', good);
    const other = backup('files', '--system', 'other', '--path', evil);
    for (const name of ['files.tar.zst.age', 'index.jsonl.zst.age'])
      copyFileSync(join(medium, 'sets', 'other', other, name), join(medium, 'sets', 'docs', victim, name));
    const to = join(dir.path, 'restored');
    const r = lifeboat(env, 'restore', 'files', `docs/${victim}`, '--to', to, '--identity', identity, '--json');
    expect(r.status, r.stdout + r.stderr).toBe(1);
    const res = json<{ error: { code: string; message: string } }>(r);
    expect(res.error.code).toBe('CHECKSUM_MISMATCH');
    expect(res.error.message).toMatch(/index\.jsonl\.zst\.age/);
    expect(existsSync(to) ? readdirSync(to) : []).toEqual([]);

    // Only the tar swapped (the index left as signed): still refused, and the staging folder is gone.
    copyFileSync(join(medium, 'sets', 'other', other, 'index.jsonl.zst.age'), join(dir.path, 'evil-index'));
    const fresh = backup('files', '--system', 'docs2', '--path', good);
    copyFileSync(
      join(medium, 'sets', 'other', other, 'files.tar.zst.age'),
      join(medium, 'sets', 'docs2', fresh, 'files.tar.zst.age'),
    );
    const t = lifeboat(env, 'restore', 'files', `docs2/${fresh}`, '--to', to, '--identity', identity, '--json');
    expect(t.status, t.stdout + t.stderr).toBe(1);
    expect(json<{ error: { code: string } }>(t).error.code).toBe('CHECKSUM_MISMATCH');
    expect(existsSync(to) ? readdirSync(to) : []).toEqual([]);
  }, 120_000);

  it('a tamper in the last bytes of the last set of a files chain: refused as corrupted, nothing placed', () => {
    // Many small files (written several at once), then an incremental whose tar ends with the newest file.
    const src = join(dir.path, 'chain');
    mkdirSync(join(src, 'sub'), { recursive: true });
    for (let i = 0; i < 150; i++) writeFileSync(join(src, 'sub', `f${i}.txt`), `file ${i}\n`.repeat(20 + i));
    backup('files', '--system', 'chain', '--path', src);
    writeFileSync(join(src, 'sub', 'zz-newest.txt'), 'the newest file\n'.repeat(100));
    const incr = backup('files', '--system', 'chain', '--path', src, '--incremental');
    const tar = join(medium, 'sets', 'chain', incr, 'files.tar.zst.age');
    const bytes = readFileSync(tar);
    bytes[bytes.length - 20]! ^= 0x01;
    writeFileSync(tar, bytes);
    const to = join(dir.path, 'chain-restored');
    const r = lifeboat(env, 'restore', 'files', `chain/${incr}`, '--to', to, '--identity', identity, '--json');
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(json<{ error: { code: string } }>(r).error.code).toMatch(/^(CHECKSUM_MISMATCH|DECRYPTION_FAILED)$/);
    expect(existsSync(to) ? readdirSync(to) : []).toEqual([]);
  }, 60_000);

  it('a stored artifact longer than its manifest says fails at the first byte past it, before any plaintext is trusted', async () => {
    const src = join(dir.path, 'small');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'a.txt'), 'a');
    const id = backup('files', '--system', 'grown', '--path', src);
    const m = medium;
    const bytes = readFileSync(join(m, 'sets', 'grown', id, 'manifest.json'));
    const manifest = parseManifest(bytes);
    const index = manifest.artifacts.find((a) => a.role === 'file-index')!;
    appendFileSync(join(m, 'sets', 'grown', id, index.path), Buffer.alloc(1));
    const { parseIdentityFile } = await import('../../electron/engine/crypto/age');
    const trust: TrustDecision = { state: 'accepted-unsigned', why: 'test' };
    const v = await openVerifiedArtifact(
      { key: `grown/${id}`, medium: new FolderMedium(m), setPath: `sets/grown/${id}`, manifest, manifestBytes: bytes },
      index,
      { identities: parseIdentityFile(readFileSync(identity, 'utf8')), trust },
    );
    v.stream.resume();
    await expect(v.verified).rejects.toMatchObject({
      code: 'CHECKSUM_MISMATCH',
      message: expect.stringMatching(/more than the \d+ bytes/),
    });
    // Unchanged bytes pass, and the plaintext is what the manifest says.
    const again = await openVerifiedArtifact(
      { key: `grown/${id}`, medium: new FolderMedium(m), setPath: `sets/grown/${id}`, manifest, manifestBytes: bytes },
      manifest.artifacts.find((a) => a.role === 'files-tar')!,
      { identities: parseIdentityFile(readFileSync(identity, 'utf8')), trust },
    );
    const chunks: Buffer[] = [];
    for await (const c of Readable.from(again.stream)) chunks.push(c as Buffer);
    await again.verified;
    expect(sha256Hex(Buffer.concat(chunks))).toBe(manifest.artifacts.find((a) => a.role === 'files-tar')!.plain_sha256);
  }, 60_000);

  it('a decompression bomb (400 KB → 8 GiB, the manifest says 10240 bytes) fails after plain_bytes+1 in a restore and in deep verification, in bounded memory', async () => {
    const stored = bomb();
    expect(stored.length).toBeLessThan(1024 * 1024);
    handMadeSet(medium, signKey, { system: 'bombed', setId: '20261121T020000Z-pg-logical', kind: 'pg-logical' }, [
      { path: 'db.dump.zst', role: 'pg-dump', stored, plainBytes: 10240, plainSha256: sha256Hex(Buffer.alloc(10240)) },
    ]);
    expect(lifeboat(env, 'scan', medium).status).toBe(0);

    const admin = pg.url().replace(/\/[^/]*$/, '/postgres');
    const r = await measured(
      'restore',
      'pg',
      'bombed/20261121T020000Z-pg-logical',
      '--target',
      admin,
      '--database',
      'bombed',
      '--json',
    );
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(json<{ error: { code: string; message: string } }>({ ...r }).error).toMatchObject({
      code: 'CHECKSUM_MISMATCH',
      message: expect.stringMatching(/more than the 10240 bytes.*Nothing was restored/),
    });
    expect(r.maxRssKb).toBeLessThan(300 * 1024);
    expect(r.ms).toBeLessThan(20_000);

    // Deep verification reads through the same stages: the same bomb as a files tar is corrupted, bounded.
    handMadeSet(medium, signKey, { system: 'bombed', setId: '20261121T020000Z-files', kind: 'files' }, [
      {
        path: 'files.tar.zst',
        role: 'files-tar',
        stored,
        plainBytes: 10240,
        plainSha256: sha256Hex(Buffer.alloc(10240)),
      },
    ]);
    expect(lifeboat(env, 'scan', medium).status).toBe(0);
    const v = await measured('verify', 'bombed/20261121T020000Z-files', '--level', 'deep', '--json');
    expect(v.status, v.stdout + v.stderr).toBe(1);
    expect(v.stdout).toMatch(/"corrupted"/);
    expect(v.stdout).toMatch(/more than the 10240 bytes/);
    expect(v.maxRssKb).toBeLessThan(300 * 1024);
    expect(v.ms).toBeLessThan(20_000);
  }, 120_000);
});
