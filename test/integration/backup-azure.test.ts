import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  generateAccountSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type Azurite } from '../helpers/azurite';
import { json, lifeboatAsync, loggedUnder, type CliRun } from '../helpers/cli';
import { keyedMedium } from '../helpers/keyed-medium';
import { startPostgres, type ScratchCluster } from '../helpers/postgres';
import { fingerprint, loadSampleData } from '../helpers/sample-data';
import { shellBlocks, treeState } from '../helpers/tree-state';
import { tempDir } from '../helpers/temp';
import { createSettingsHandlers } from '../../electron/engine/api/settings-handlers';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { Engine } from '../../electron/engine/engine';

let pg: ScratchCluster;
let az: Azurite;
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let folder: string;
let identity: string;
let recipient: string;
let signKey: string;
let src: string;
const AZ = 'azure://backups/prod';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function blobs(prefix = 'prod/'): Promise<string[]> {
  const out: string[] = [];
  for await (const b of az.service.getContainerClient('backups').listBlobsFlat({ prefix })) out.push(b.name);
  return out.sort();
}

async function download(name: string): Promise<Buffer> {
  return az.service.getContainerClient('backups').getBlobClient(name).downloadToBuffer();
}

beforeAll(async () => {
  dir = tempDir();
  [pg, az] = await Promise.all([startPostgres(), startAzurite()]);
  await Promise.all([loadSampleData(pg.url()), az.createContainer('backups')]);
  // The CLI takes the account, its key and the endpoint from the AZURE_STORAGE_* variables.
  env = { LIFEBOAT_HOME: join(dir.path, 'home'), ...az.env };
  ({ medium: folder, identity, recipient, signKey } = keyedMedium(env, dir.path, { medium: 'usb', label: 'usb' }));
  src = join(dir.path, 'site');
  mkdirSync(join(src, 'deep'), { recursive: true });
  writeFileSync(join(src, 'index.html'), '<h1>shop</h1>\n');
  // Incompressible and larger than two blocks: the artifact is uploaded as staged blocks.
  writeFileSync(join(src, 'deep', 'video.bin'), randomBytes(20 * 1024 * 1024));
}, 60_000);
afterAll(async () => {
  await Promise.all([pg?.destroy(), az?.stop()]);
  dir?.cleanup();
}, 30_000);

/** An account SAS for the blob service with these permissions (r, l, w, c, d…), valid an hour. */
function sas(perms: string): string {
  return generateAccountSASQueryParameters(
    {
      expiresOn: new Date(Date.now() + 3600_000),
      permissions: AccountSASPermissions.parse(perms),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
      services: AccountSASServices.parse('b').toString(),
    },
    new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
  ).toString();
}

const backup = (...args: string[]): Promise<CliRun> =>
  lifeboatAsync(env, 'backup', ...args, '--recipient', recipient, '--sign-key', signKey, '--json');

describe('Azure Blob media', () => {
  let pgSet: string;
  let filesSet: string;

  it('medium init makes a container prefix a medium, once', async () => {
    const r = await lifeboatAsync(env, 'medium', 'init', AZ, '--label', 'tertiary');
    expect(r.status, r.stderr).toBe(0);
    expect(await blobs()).toEqual(['prod/lifeboat-medium.json']);
    const again = await lifeboatAsync(env, 'medium', 'init', AZ, '--label', 'tertiary');
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/already a Lifeboat medium/);
  });

  it('writes pg and files sets to a folder and Azure in one pass, byte-identical, large artifacts in blocks', async () => {
    const p = await backup('pg', '--system', 'shop-db', '--db', pg.url(), '--to', folder, '--to', AZ);
    expect(p.status, p.stderr).toBe(0);
    const ps = json<{ path: string; locations: string[]; set_id: string }>(p);
    expect(ps.locations).toEqual([`${folder}/${ps.path}`, `${AZ}/${ps.path}`]);
    pgSet = `shop-db/${ps.set_id}`;
    const f = await backup('files', '--system', 'site', '--path', src, '--to', AZ, '--to', folder);
    expect(f.status, f.stderr).toBe(0);
    const fs = json<{ path: string; set_id: string }>(f);
    filesSet = `site/${fs.set_id}`;
    for (const set of [ps.path, fs.path]) {
      const names = (await blobs(`prod/${set}/`)).map((n) => n.split('/').pop()!);
      expect(names).toContain('manifest.json');
      expect(names).not.toContain('.partial');
      for (const name of names)
        expect((await download(`prod/${set}/${name}`)).equals(readFileSync(join(folder, set, name))), name).toBe(true);
    }
    const artifact = (await blobs(`prod/${fs.path}/`)).find((n) => n.endsWith('.age'))!;
    const list = await az.service.getContainerClient('backups').getBlockBlobClient(artifact).getBlockList('committed');
    expect(list.committedBlocks!.length).toBeGreaterThan(2);
  }, 60_000);

  it('a scan into an empty catalog finds the sets; deep verification passes; restores come back byte for byte', async () => {
    const laptop = { ...env, LIFEBOAT_HOME: join(dir.path, 'laptop') };
    expect((await lifeboatAsync(laptop, 'keys', 'trust', `${signKey}.pub`)).status).toBe(0);
    const scan = await lifeboatAsync(laptop, 'scan', AZ, '--json');
    expect(scan.status, scan.stderr).toBe(0);
    expect(json<{ sets: { total: number } }>(scan).sets.total).toBe(2);
    const verify = await lifeboatAsync(laptop, 'verify', AZ, '--level', 'deep', '--identity', identity, '--json');
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    expect(json<{ sets: number; failed: number }>(verify)).toMatchObject({ sets: 2, failed: 0 });

    const restored = await lifeboatAsync(
      laptop,
      'restore',
      'pg',
      pgSet,
      '--target',
      pg.url().replace(/\/[^/]*$/, '/postgres'),
      '--database',
      'from_azure',
      '--identity',
      identity,
      '--json',
    );
    expect(restored.status, restored.stdout + restored.stderr).toBe(0);
    expect(await fingerprint(pg.url().replace(/\/[^/]*$/, '/from_azure'))).toEqual(await fingerprint(pg.url()));
    const to = join(dir.path, 'restored-site');
    const files = await lifeboatAsync(
      laptop,
      'restore',
      'files',
      filesSet,
      '--to',
      to,
      '--identity',
      identity,
      '--json',
    );
    expect(files.status, files.stdout + files.stderr).toBe(0);
    // Under the source folder's name, as every files restore.
    const back = join(to, 'site');
    expect(readFileSync(join(back, 'deep', 'video.bin')).equals(readFileSync(join(src, 'deep', 'video.bin')))).toBe(
      true,
    );
    // Names, types, modes and contents (tar keeps mtimes to the microsecond, the file system to the nanosecond).
    const shape = (root: string): unknown =>
      Object.entries(treeState(root)).map(([k, { mtime: _mtime, ...rest }]) => [k, rest]);
    expect(shape(back)).toEqual(shape(src));
  }, 60_000);

  it('deep verification catches a tampered artifact on Azure', async () => {
    const laptop = { ...env, LIFEBOAT_HOME: join(dir.path, 'laptop') };
    const name = (await blobs(`prod/sets/${pgSet}/`)).find((n) => n.endsWith('.age'))!;
    const good = await download(name);
    const bad = Buffer.from(good);
    bad[bad.length - 100]! ^= 1;
    const blob = az.service.getContainerClient('backups').getBlockBlobClient(name);
    await blob.upload(bad, bad.length);
    try {
      const r = await lifeboatAsync(laptop, 'verify', pgSet, '--level', 'integrity', '--json');
      expect(r.status, r.stdout).toBe(1);
      expect(r.stdout).toMatch(/corrupt|mismatch|SHA-256/i);
    } finally {
      await blob.upload(good, good.length);
    }
  });

  it('prunes on Azure with the same rules', async () => {
    const again = await backup('files', '--system', 'site', '--path', src, '--to', AZ);
    expect(again.status, again.stderr).toBe(0);
    const applied = await lifeboatAsync(env, 'prune', '--to', AZ, '--keep-last', '1', '--apply', '--json');
    expect(applied.status, applied.stderr).toBe(0);
    const out = json<{ remove: Array<{ path: string }> }>(applied);
    expect(out.remove.map((r) => r.path)).toEqual([`sets/${filesSet}`]);
    expect(await blobs(`prod/sets/${filesSet}/`)).toEqual([]);
    expect((await blobs(`prod/sets/${pgSet}/`)).length).toBeGreaterThan(0);
  }, 60_000);

  it('archives WAL on Azure: wal-push stores a segment once, wal-fetch returns it hash-checked', async () => {
    const seg = join(dir.path, '000000010000000000000003');
    writeFileSync(seg, Buffer.concat([Buffer.from('segment '), randomBytes(64 * 1024)]));
    for (let i = 0; i < 2; i++) {
      const pushed = await lifeboatAsync(
        env,
        'wal-push',
        seg,
        '--system',
        'shop-db',
        '--to',
        AZ,
        '--recipient',
        recipient,
        '--sign-key',
        signKey,
      );
      expect(pushed.status, pushed.stderr).toBe(0);
      if (i === 1) expect(pushed.stderr).toContain('already archived');
    }
    const out = join(dir.path, 'fetched-wal');
    const fetched = await lifeboatAsync(
      env,
      'wal-fetch',
      '000000010000000000000003',
      out,
      '--system',
      'shop-db',
      '--from',
      AZ,
      '--identity',
      identity,
      '--trust-key',
      `${signKey}.pub`,
    );
    expect(fetched.status, fetched.stderr).toBe(0);
    expect(readFileSync(out).equals(readFileSync(seg))).toBe(true);
    expect((await blobs('prod/wal/')).length).toBeGreaterThan(0);
  });

  it('a wrong key is access denied (exit 2), and the key appears nowhere', async () => {
    const wrong = randomBytes(64).toString('base64');
    const home = join(dir.path, 'wrong');
    const r = await lifeboatAsync(
      { ...env, LIFEBOAT_HOME: home, AZURE_STORAGE_KEY: wrong },
      'backup',
      'files',
      '--system',
      'x',
      '--path',
      src,
      '--to',
      AZ,
      '--json',
    );
    expect(r.status).toBe(2);
    const err = json<{ error: { code: string; message: string; hint: string } }>(r).error;
    expect(err.code).toBe('STORAGE_ACCESS_DENIED');
    expect(err.hint).toMatch(/account name and key/);
    expect(r.stdout + r.stderr + loggedUnder(home)).not.toContain(wrong.slice(0, 20));
  });

  it('a SAS token works, and never appears in errors or logs when a request fails', async () => {
    const sasEnv = (token: string, home: string): NodeJS.ProcessEnv => ({
      ...env,
      LIFEBOAT_HOME: join(dir.path, home),
      AZURE_STORAGE_KEY: '',
      AZURE_STORAGE_SAS_TOKEN: token,
    });
    const reader = sas('rl');
    const scan = await lifeboatAsync(sasEnv(reader, 'sas-ok'), 'scan', AZ, '--json');
    expect(scan.status, scan.stderr).toBe(0);
    expect(json<{ sets: { total: number } }>(scan).sets.total).toBe(2);
    // Read-only: a backup is refused by the service.
    const sig = new URLSearchParams(reader).get('sig')!;
    expect(sig.length).toBeGreaterThan(20);
    const denied = await lifeboatAsync(
      sasEnv(reader, 'sas-ro'),
      'backup',
      'files',
      '--system',
      'x',
      '--path',
      src,
      '--to',
      AZ,
      '--json',
    );
    expect(denied.status).toBe(2);
    expect(json<{ error: { code: string } }>(denied).error.code).toBe('STORAGE_ACCESS_DENIED');
    // Out of reach: the SDK's error carries the request URL, SAS included.
    const gone = await lifeboatAsync(
      { ...sasEnv(reader, 'sas-gone'), AZURE_STORAGE_BLOB_ENDPOINT: `http://127.0.0.1:1/${AZURITE_ACCOUNT}` },
      'scan',
      AZ,
      '--json',
    );
    const all =
      [denied, gone].map((r) => r.stdout + r.stderr).join('') +
      loggedUnder(join(dir.path, 'sas-ro')) +
      loggedUnder(join(dir.path, 'sas-gone'));
    expect(all).toMatch(/reach/i);
    for (const secret of [sig, encodeURIComponent(sig), decodeURIComponent(sig)]) expect(all).not.toContain(secret);
  }, 30_000);

  it('docs/restore-by-hand.md: a set copied off Azure with curl and a SAS passes the by-hand checks', () => {
    const md = readFileSync(join(__dirname, '../../docs/restore-by-hand.md'), 'utf8');
    const blocks = shellBlocks(md, /^(0\. |Copying a set off Azure|1\. )/);
    expect(blocks).toHaveLength(4); // 0 (two blocks), Azure, 1
    const work = join(dir.path, 'by-hand');
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', blocks.join('\n')], {
      encoding: 'utf8',
      env: {
        ...process.env,
        IDENTITY: identity,
        SIGNER_PUB: `${signKey}.pub`,
        SYSTEM: 'shop-db',
        SET: pgSet.split('/')[1],
        WORK: work,
        CONTAINER_URL: `${az.endpoint}/backups`,
        PREFIX: 'prod',
        SAS: sas('rl'),
        FROM_AZURE: join(dir.path, 'from-azure'),
      },
      timeout: 30_000,
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/db\.dump\.zst\.age: OK/);
    expect(r.stdout).not.toMatch(/FAILED/);
  });

  it('the app reaches it with the key from the keychain: never in settings, never back over IPC', async () => {
    const home = join(dir.path, 'app');
    const credentials = new MemoryCredentialStore();
    const engine = new Engine({ dataDir: home, credentials, frontDoor: 'bridge' });
    try {
      const h = createSettingsHandlers(engine);
      await expect(h.saveCredential({ account: 'azure:dr', secret: AZURITE_KEY })).rejects.toThrow(
        /storage account name/,
      );
      await h.saveCredential({ account: 'azure:dr', secret: AZURITE_KEY, accessKeyId: AZURITE_ACCOUNT, label: 'dr' });
      // A connection string names its account and endpoint itself.
      await h.saveCredential({
        account: 'azure:cs',
        secret: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${az.endpoint};`,
      });
      await h.saveAzureMedium({ location: AZ, endpoint: az.endpoint, credential: 'azure:dr' });
      expect(await h.testCredential({ account: 'azure:dr' })).toEqual({
        ok: true,
        detail: `Connected: ${AZ} answers with these keys.`,
      });
      expect((await (await engine.openMedium(AZ)).listSets()).length).toBe(2);
      await h.saveAzureMedium({ location: AZ, endpoint: '', credential: 'azure:cs' });
      expect((await (await engine.openMedium(`${AZ}/`)).readInfo())?.label).toBe('tertiary');
      const listed = await h.listCredentials();
      expect(listed.credentials.map((c) => [c.account, c.kind, c.accessKeyId])).toEqual([
        ['azure:cs', 'azure', ''],
        ['azure:dr', 'azure', AZURITE_ACCOUNT],
      ]);
      const seen =
        JSON.stringify(listed) +
        JSON.stringify(await h.getSettings()) +
        readFileSync(join(home, 'settings.json'), 'utf8');
      expect(seen).not.toContain(AZURITE_KEY.slice(0, 20));
      await h.removeAzureMedium({ location: AZ });
      expect((await h.getSettings()).azureMedia).toEqual([]);
    } finally {
      await engine.close();
    }
  });

  it('no credentials at all: a clear error naming the variables', async () => {
    const r = await lifeboatAsync(
      { ...env, LIFEBOAT_HOME: join(dir.path, 'none'), AZURE_STORAGE_KEY: '', AZURE_STORAGE_ACCOUNT: '' },
      'scan',
      AZ,
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/No Azure storage credentials/);
    expect(r.stderr).toMatch(/AZURE_STORAGE_CONNECTION_STRING/);
  });
});

/** A TCP relay to Azurite that can be cut (every connection dropped, no longer listening): the storage account lost. */
async function relay(port: number): Promise<{ endpoint: string; cut(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const sock of [client, upstream]) {
      sockets.add(sock);
      sock.on('error', () => undefined).on('close', () => sockets.delete(sock));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}/${AZURITE_ACCOUNT}`,
    cut: () => {
      server.close();
      for (const sock of sockets) sock.destroy();
    },
  };
}

describe('Azure lost in the middle of a backup', () => {
  it('fails at once and clearly, leaves nothing a reader takes for a set, and the next backup cleans up', async () => {
    const big = join(dir.path, 'big');
    mkdirSync(big);
    for (let i = 0; i < 3; i++) writeFileSync(join(big, `photo-${i}.jpg`), randomBytes(16 * 1024 * 1024));
    const r = await relay(az.port);
    const before = new Set(await blobs('prod/sets/photos/'));
    const running = lifeboatAsync(
      { ...env, AZURE_STORAGE_BLOB_ENDPOINT: r.endpoint },
      'backup',
      'files',
      '--system',
      'photos',
      '--path',
      big,
      '--to',
      AZ,
      '--json',
    );
    for (let i = 0; i < 400 && !(await blobs('prod/sets/photos/')).some((b) => b.endsWith('/.partial')); i++)
      await sleep(25);
    expect((await blobs('prod/sets/photos/')).some((b) => b.endsWith('/.partial'))).toBe(true);
    await sleep(200);
    const t0 = Date.now();
    r.cut();
    const failed = await running;
    expect(Date.now() - t0).toBeLessThan(20_000); // retries are bounded
    const out = json<{ ok: boolean; error: { code: string; message: string } }>(failed);
    expect(failed.status, failed.stderr).toBe(2);
    expect(out.error.code).toBe('STORAGE_UNREACHABLE');
    expect(out.error.message).toMatch(/Azure .*Could not reach the server/);
    expect(before.size).toBe(0);
    const left = await blobs('prod/sets/photos/');
    expect(left.filter((k) => k.endsWith('/manifest.json'))).toEqual([]);
    expect(left.some((k) => k.endsWith('/.partial'))).toBe(true);
    const scan = await lifeboatAsync({ ...env, LIFEBOAT_HOME: join(dir.path, 'after-loss') }, 'scan', AZ, '--json');
    expect(json<{ sets: { total: number } }>(scan).sets.total).toBe(2); // the pg set and the newer site set only

    const next = await lifeboatAsync(env, 'backup', 'files', '--system', 'photos', '--path', src, '--to', AZ, '--json');
    expect(next.status, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/removed leftovers of an interrupted backup/);
    const setPath = json<{ path: string }>(next).path;
    const now = await blobs('prod/sets/photos/');
    expect(now.every((k) => k.startsWith(`prod/${setPath}/`))).toBe(true);
  }, 60_000);
});
