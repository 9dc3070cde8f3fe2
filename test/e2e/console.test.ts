import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeytarCredentialStore } from '../../electron/engine/credentials/credential-store';
import { Engine } from '../../electron/engine/engine';
import { openAppInBrowser, type BrowserSession } from '../helpers/browser';
import { lifeboat, lifeboatAsync } from '../helpers/cli';
import { query, type ScratchCluster } from '../helpers/postgres';
import { startS3, type TestS3 } from '../helpers/s3';
import { startSecretService, type SecretService } from '../helpers/secret-service';
import { keyedMedium } from '../helpers/keyed-medium';
import { tempDir } from '../helpers/temp';
import { chownForPostgres, startArchivingPostgres, switchAndArchive, walPushCommand } from '../helpers/wal-archiving';

// s3rver runs in this process: give it a key pair of our own, so the secret is a string that
// appears nowhere else and can be searched for in every frame and file.
const ACCESS_KEY_ID = 'LIFEBOATE2E';
const SECRET_KEY = 'e2e-s3-secret-never-leaves-the-keychain-7f3a';
type S3rverAccounts = { DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void } };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const s3rverAccounts = require('s3rver/lib/models/account') as S3rverAccounts;
s3rverAccounts.DUMMY_ACCOUNT.createKeyPair(ACCESS_KEY_ID, SECRET_KEY);

let dir: ReturnType<typeof tempDir>;
let home: string;
let keyring: SecretService;
let s3: TestS3;
let pg: ScratchCluster;
let engine: Engine;
let session: BrowserSession;
let usb: string;

function walk(root: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const p = join(root, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

beforeAll(async () => {
  dir = tempDir();
  home = join(dir.path, 'home');
  keyring = await startSecretService();
  s3 = await startS3();
  await s3.createBucket('dr-site');
  const env = { LIFEBOAT_HOME: home };
  // The servers' side, by the CLI: S3 keys come from the standard AWS variables there.
  const s3env = {
    ...env,
    AWS_ENDPOINT_URL: s3.endpoint,
    AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: SECRET_KEY,
    AWS_REGION: 'us-east-1',
  };
  const keyed = keyedMedium(env, dir.path, {
    medium: 'usb',
    label: 'usb-1',
    identity: 'laptop.age',
    trust: 'backup servers',
  });
  usb = keyed.medium;
  const { recipient, signKey: sign } = keyed;
  // s3rver answers from this process: the CLI must run without blocking it (lifeboatAsync).
  expect((await lifeboatAsync(s3env, 'medium', 'init', 's3://dr-site/prod', '--label', 'cloud')).status).toBe(0);
  const files = join(__dirname, '..', 'fixtures');
  expect(
    lifeboat(
      env,
      'backup',
      'files',
      '--system',
      'docs',
      '--path',
      files,
      '--to',
      usb,
      '--recipient',
      recipient,
      '--sign-key',
      sign,
    ).status,
  ).toBe(0);
  expect(
    lifeboat(env, 'backup', 'files', '--system', 'scratch', '--path', files, '--to', usb, '--recipient', recipient)
      .status,
  ).toBe(0);
  const toS3 = await lifeboatAsync(
    s3env,
    'backup',
    'files',
    '--system',
    'docs',
    '--path',
    files,
    '--to',
    's3://dr-site/prod',
    '--recipient',
    recipient,
    '--sign-key',
    sign,
  );
  expect(toS3.status, toS3.stderr).toBe(0);
  // A PITR system: a base backup and its WAL archive on the USB drive.
  chownForPostgres(dir.path);
  pg = await startArchivingPostgres(dir.path, walPushCommand({ system: 'orders', medium: usb, recipient }));
  const base = lifeboat(
    env,
    'backup',
    'pg-base',
    '--system',
    'orders',
    '--db',
    pg.url(),
    '--to',
    usb,
    '--recipient',
    recipient,
    '--sign-key',
    sign,
  );
  expect(base.status, base.stderr).toBe(0);
  await query(pg.url(), 'CREATE TABLE t (i int); INSERT INTO t VALUES (1)');
  await switchAndArchive(pg);
  // One verification on record, to show in the set's history.
  expect(lifeboat(env, 'verify', usb, '--level', 'integrity').status).toBe(0);
  engine = new Engine({ dataDir: home, credentials: new KeytarCredentialStore(), frontDoor: 'bridge', throttleMs: 20 });
  session = await openAppInBrowser(engine);
}, 180_000);

afterAll(async () => {
  await session?.close();
  await engine?.close();
  await pg?.destroy();
  await s3?.stop();
  await keyring?.stop();
  dir?.cleanup();
});

describe('the console: S3 media with keychain keys, catalog filters and set detail, objectives, PDF export', () => {
  it('adds an S3 medium with keys from the keychain: wrong keys fail in plain words, right keys scan', async () => {
    const { page } = session;
    expect(process.env.AWS_ACCESS_KEY_ID).toBeUndefined(); // the app has only the keychain to go by
    await page.getByTestId('nav-media').click();
    // The bridge has no OS folder picker: the path field is the way.
    await page.getByTestId('medium-location').waitFor();
    await expect(page.getByTestId('pick-folder').count()).resolves.toBe(0);
    await page.getByTestId('medium-location').fill(usb);
    await page.getByTestId('scan').click();
    await page.locator('[data-testid="job-scan"][data-status="succeeded"]').waitFor({ timeout: 30_000 });
    // The integrity pass run by the CLI shows on the medium's row.
    await expect(
      page.locator('[data-testid="media-table"] tr', { hasText: 'usb-1' }).getByTestId('medium-verified').textContent(),
    ).resolves.toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \((just now|.+ ago)\)$/);

    await page.getByTestId('nav-credentials').click();
    await page.getByTestId('cred-kind').selectOption('s3');
    await page.getByTestId('cred-id').fill('dr');
    // s3rver refuses an unknown access key id (it does not check signatures): the wrong keys.
    await page.getByTestId('cred-access-key').fill('NOSUCHKEY');
    await page.getByTestId('cred-secret').fill('not-the-secret');
    await page.getByTestId('cred-save').click();
    await page.locator('[data-testid="cred-row"]', { hasText: 's3:dr' }).waitFor();
    await expect(page.locator('[data-testid="cred-row"]', { hasText: 's3:dr' }).textContent()).resolves.toContain(
      'NOSUCHKEY',
    );

    await page.getByTestId('nav-media').click();
    await page.getByTestId('s3-endpoint').fill(s3.endpoint);
    await page.getByTestId('s3-region').fill('us-east-1');
    await page.getByTestId('s3-bucket').fill('dr-site');
    await page.getByTestId('s3-prefix').fill('prod');
    await page.getByTestId('s3-credential').selectOption('s3:dr');
    await page.getByTestId('s3-save').click();
    await page.locator('[data-testid="job-scan"][data-status="failed"]').waitFor({ timeout: 30_000 });
    const failure = (await page.getByTestId('job-scan').textContent()) ?? '';
    expect(failure).toMatch(/denied|signature|credentials|access/i);
    expect(failure).not.toContain('not-the-secret');
    await session.screenshot('media-s3-denied');

    // The right secret under the same reference: Test connects, and the scan goes through.
    await page.getByTestId('nav-credentials').click();
    await page.getByTestId('cred-kind').selectOption('s3');
    await page.getByTestId('cred-id').fill('dr');
    await page.getByTestId('cred-access-key').fill(ACCESS_KEY_ID);
    await page.getByTestId('cred-secret').fill(SECRET_KEY);
    await page.getByTestId('cred-save').click();
    const row = page.locator('[data-testid="cred-row"]', { hasText: 's3:dr' });
    await row.getByTestId('cred-test').click();
    await expect
      .poll(async () => row.getByTestId('cred-test-result').textContent(), { timeout: 20_000 })
      .toMatch(/Connected: s3:\/\/dr-site\/prod/);
    await page.getByTestId('nav-media').click();
    await page.getByTestId('s3-media').waitFor();
    await expect(page.getByTestId('s3-media').textContent()).resolves.toContain('s3:dr');
    await page
      .locator('[data-testid="media-table"] tr', { hasText: 's3://dr-site/prod' })
      .getByRole('button', { name: 'Rescan' })
      .click();
    await page.locator('[data-testid="job-scan"][data-status="succeeded"]').waitFor({ timeout: 30_000 });
    await expect(page.getByTestId('scan-result').textContent()).resolves.toContain('1 set on cloud');
    await session.screenshot('media-s3');
  });

  it('filters the catalog in the engine (medium, time range, signed, kind) with the CLI equivalent', async () => {
    const { page } = session;
    await page.getByTestId('nav-catalog').click();
    await page.getByTestId('sets-table').waitFor();
    const count = async (n: number): Promise<void> => {
      await expect.poll(async () => page.getByTestId('set-row').count(), { timeout: 10_000 }).toBe(n);
    };
    await count(4);
    await page.getByTestId('filter-signed').check();
    await count(3);
    await expect(page.getByTestId('cli-command').first().textContent()).resolves.toContain('--signed');
    await page.getByTestId('filter-signed').uncheck();
    const cloud = await page
      .locator('[data-testid="filter-medium"] option', { hasText: 'cloud' })
      .getAttribute('value');
    await page.getByTestId('filter-medium').selectOption(cloud ?? 'missing');
    await count(1);
    await page.getByTestId('filter-medium').selectOption('');
    await page.getByTestId('filter-until').fill('2000-01-01T00:00');
    await count(0);
    await expect(page.getByTestId('cli-command').first().textContent()).resolves.toContain('--until 2000-01-01');
    await page.getByTestId('filter-until').fill('');
    await page.getByTestId('filter-since').fill('2000-01-01T00:00');
    await count(4);
    await page.getByTestId('filter-kind').selectOption('pg-base');
    await count(1);
  });

  it('shows a set in full: artifacts with hashes, the pinned signer, its verification history; the PITR planner shows the window on a timeline', async () => {
    const { page } = session;
    await page.getByTestId('set-row').first().click();
    const detail = page.getByTestId('set-detail');
    await detail.waitFor();
    await expect(page.getByTestId('set-signer').textContent()).resolves.toContain('pinned: backup servers');
    const artifacts = (await page.getByTestId('set-artifacts').textContent()) ?? '';
    expect(artifacts).toMatch(/[0-9a-f]{64}/);
    expect(artifacts).toContain('base.tar');
    await expect(page.getByTestId('set-verifications').textContent()).resolves.toContain('integrity');
    await session.screenshot('catalog-set-detail');
    // A base backup's detail leads to the PITR planner (issue 21: the planner has its own screen).
    await page.getByTestId('set-pitr').click();
    await page.getByTestId('pitr-window').first().waitFor({ timeout: 30_000 });
    await expect(page.getByTestId('pitr-window').first().textContent()).resolves.toMatch(
      /From \d{4}-\d\d-\d\d \d\d:\d\d:\d\d .* to \d{4}-/,
    );
    await expect(page.locator('.timeline-window').count()).resolves.toBeGreaterThan(0);
  });

  it('edits the objectives per tier; they are saved in settings', async () => {
    const { page } = session;
    await page.getByTestId('nav-settings').click();
    await page.getByTestId('tier-critical-rpo').fill('7');
    await page.getByTestId('tier-important-rto').fill('180');
    await page.getByTestId('tiers-save').click();
    await page.getByText('Objectives saved').waitFor();
    const saved = JSON.parse(readFileSync(join(home, 'settings.json'), 'utf8')) as {
      tiers: Record<string, { rtoMinutes: number; rpoMinutes: number }>;
    };
    expect(saved.tiers.critical).toEqual({ rtoMinutes: 60, rpoMinutes: 7 });
    expect(saved.tiers.important!.rtoMinutes).toBe(180);
    await session.screenshot('settings-tiers');
  });

  it('never lets the S3 secret out of the keychain: not in a frame, not in the data directory', () => {
    // The operator typed it, so it went in once (saveCredential); nothing ever sends it back out.
    const frames = session.traffic
      .filter((t) => t.direction === 'out')
      .map((t) => t.frame)
      .join('\n');
    expect(frames).toContain('s3:dr');
    expect(frames).not.toContain(SECRET_KEY);
    for (const f of walk(home)) {
      if (statSync(f).size > 50 * 2 ** 20) continue;
      expect(readFileSync(f).includes(SECRET_KEY), f).toBe(false);
    }
    expect(session.problems).toEqual([]);
  });
});
