import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, lifeboatAsync, type CliRun } from '../helpers/cli';
import { startGlacierProxy, type GlacierProxy } from '../helpers/glacier-proxy';
import { keyedMedium, type KeyedMedium } from '../helpers/keyed-medium';
import { startS3, type TestS3 } from '../helpers/s3';
import { tempDir } from '../helpers/temp';

/**
 * `--storage-class` on S3 media and the archived state. s3rver stores the class; the Glacier
 * semantics (GET refused until a restore request completes, x-amz-restore, the listing's class and
 * RestoreStatus) come from test/helpers/glacier-proxy.ts in front of it. No real Glacier runs here.
 */
let s3: TestS3;
let proxy: GlacierProxy;
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let km: KeyedMedium;
const MEDIUM = 's3://cold/vault';

beforeAll(async () => {
  dir = tempDir();
  s3 = await startS3();
  await s3.createBucket('cold');
  proxy = await startGlacierProxy(s3.endpoint);
  env = {
    LIFEBOAT_HOME: join(dir.path, 'home'),
    AWS_ENDPOINT_URL_S3: proxy.endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
  };
  km = keyedMedium(env, dir.path);
  expect((await lifeboatAsync(env, 'medium', 'init', MEDIUM, '--label', 'glacier')).status).toBe(0);
  mkdirSync(join(dir.path, 'src'));
  writeFileSync(join(dir.path, 'src', 'ledger.csv'), 'id,amount\n1,10\n2,20\n'.repeat(500));
}, 60_000);
afterAll(async () => {
  await proxy.stop();
  await s3.stop();
  dir.cleanup();
}, 20_000);

const cli = (...args: string[]): Promise<CliRun> => lifeboatAsync(env, ...args);
/** The class s3rver itself stored for a key (asked directly, not through the proxy). */
const storedClass = async (key: string): Promise<string> =>
  (await s3.client.send(new HeadObjectCommand({ Bucket: 'cold', Key: key }))).StorageClass ?? 'STANDARD';

describe('cold storage on S3 media', { timeout: 90_000 }, () => {
  let set: string;
  let setPath: string;

  it('writes the artifacts in the class asked and the small files in STANDARD', async () => {
    const r = await cli(
      'backup',
      'cmd',
      '--system',
      'vault',
      '--kind',
      'tar-archive',
      '--command',
      `tar -c -C ${join(dir.path, 'src')} .`,
      '--to',
      MEDIUM,
      '--storage-class',
      'GLACIER',
      '--recipient',
      km.recipient,
      '--sign-key',
      km.signKey,
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    const out = json<{ set_id: string; path: string }>(r);
    set = `vault/${out.set_id}`;
    setPath = `vault/${out.path}`;
    expect(await storedClass(`${setPath}/stream.zst.age`)).toBe('GLACIER');
    for (const small of ['manifest.json', 'manifest.json.sig', 'SHA256SUMS'])
      expect(await storedClass(`${setPath}/${small}`), small).toBe('STANDARD');
    // The header went out with the artifact's upload only.
    expect([...proxy.classes.entries()]).toEqual([[`${setPath}/stream.zst.age`, 'GLACIER']]);

    // A files set in DEEP_ARCHIVE: its tar sleeps, its file index stays readable (scans index it).
    const f = await cli(
      'backup',
      'files',
      '--system',
      'ledger',
      '--path',
      join(dir.path, 'src'),
      '--to',
      MEDIUM,
      '--storage-class',
      'DEEP_ARCHIVE',
      '--recipient',
      km.recipient,
      '--json',
    );
    expect(f.status, f.stderr).toBe(0);
    const fpath = `vault/${json<{ path: string }>(f).path}`;
    expect(await storedClass(`${fpath}/files.tar.zst.age`)).toBe('DEEP_ARCHIVE');
    expect(await storedClass(`${fpath}/index.jsonl.zst.age`)).toBe('STANDARD');

    // Bad input: a class S3 does not have, or no S3 medium to write it on.
    const bad = await cli(
      'backup',
      'files',
      '--system',
      'x',
      '--path',
      dir.path,
      '--to',
      MEDIUM,
      '--storage-class',
      'COLD',
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/STANDARD_IA, .*DEEP_ARCHIVE/);
    const folder = await cli(
      'backup',
      'files',
      '--system',
      'x',
      '--path',
      dir.path,
      '--to',
      km.medium,
      '--storage-class',
      'GLACIER',
    );
    expect(folder.status).toBe(2);
    expect(folder.stderr).toMatch(/applies to S3 media/);
  });

  it('scan and verify say "archived: request a restore first", never corrupted; a restore says so too', async () => {
    const scan = await cli('scan', MEDIUM, '--json');
    expect(scan.status, scan.stderr).toBe(0);
    const hints = json<{ hints: string[] }>(scan).hints.join('\n');
    expect(hints).toMatch(/2 set\(s\) archived: request a restore first/);
    expect(hints).toContain(`${set} (GLACIER)`);

    const v = await cli('verify', set, '--level', 'deep', '--identity', km.identity, '--json');
    const result = JSON.stringify(json(v));
    expect(result).toMatch(/"verdict":"not-checked"/);
    expect(result).toMatch(/archived: request a restore first \(GLACIER/);
    expect(result).not.toMatch(/corrupted|"verdict":"missing"/);

    const r = await cli('restore', 'cmd', set, '--command', 'cat', '--confirm', 'vault', '--identity', km.identity);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/archived: request a restore first/);
    expect(r.stderr).toMatch(/restore-request/);
  });

  it('medium restore-request asks once, reports progress, and the set reads once restored', async () => {
    const first = await cli('medium', 'restore-request', set, '--days', '2', '--tier', 'Bulk', '--json');
    expect(first.status, first.stderr).toBe(0);
    expect(json<{ artifacts: Array<{ state: string }>; waiting: number }>(first)).toMatchObject({
      waiting: 1,
      artifacts: [{ state: 'requested' }],
    });
    expect(proxy.seen.filter((s) => s.startsWith('POST') && s.includes('restore'))).toHaveLength(1);
    // The spelling, `media restore-request`, is the same command.
    const again = await cli('media', 'restore-request', set, '--days', '2');
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/restore in progress/);
    const v = await cli('verify', set, '--level', 'integrity', '--json');
    expect(JSON.stringify(json(v))).toMatch(/a restore was requested and is not done yet/);

    proxy.complete();
    const done = await cli('medium', 'restore-request', set, '--days', '2');
    expect(done.stdout).toMatch(/restored: readable now/);
    expect(done.stdout).toMatch(/Every artifact .* is readable/);
    const deep = await cli('verify', set, '--level', 'deep', '--identity', km.identity, '--json');
    expect(deep.status, deep.stdout + deep.stderr).toBe(0);
    const back = await cli(
      'restore',
      'cmd',
      set,
      '--command',
      'tar -t',
      '--confirm',
      'vault',
      '--identity',
      km.identity,
      '--json',
    );
    expect(back.status, back.stderr).toBe(0);
    expect(json<{ output: { stdout_tail: string } }>(back).output.stdout_tail).toMatch(/ledger\.csv/);
    // Wrong input is said clearly.
    const bad = await cli('medium', 'restore-request', set, '--days', '0');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--days/);
  });

  it('a set with no cold copies: "nothing to request", naming where its artifacts are, exit 0', async () => {
    const backup = async (...to: string[]): Promise<string> => {
      const args = ['--to', ...to.flatMap((m, i) => (i ? ['--to', m] : [m]))];
      const r = await cli(
        'backup',
        'cmd',
        '--system',
        'warm',
        '--kind',
        'text',
        '--command',
        'echo hi',
        ...args,
        '--json',
      );
      expect(r.status, r.stderr).toBe(0);
      return `warm/${json<{ set_id: string }>(r).set_id}`;
    };
    const onFolder = await backup(km.medium);
    const r = await cli('medium', 'restore-request', onFolder, '--days', '1');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `Nothing to request: every artifact of ${onFolder} is on media without cold storage (${km.medium}), readable now.`,
    );
    const onBoth = await backup(MEDIUM, km.medium);
    const j = await cli('medium', 'restore-request', onBoth, '--days', '1', '--json');
    expect(j.status, j.stderr).toBe(0);
    expect(json(j)).toMatchObject({
      nothing_to_request: true,
      waiting: 0,
      message: `Nothing to request: every artifact of ${onBoth} is in STANDARD and on media without cold storage (${km.medium}), readable now.`,
      artifacts: [{ location: MEDIUM, state: 'readable', storage_class: 'STANDARD' }],
    });
    expect(proxy.seen.filter((s) => s.startsWith('POST') && s.includes('restore'))).toHaveLength(1);
  });
});
