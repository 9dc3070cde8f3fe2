import { cpSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { Engine } from '../../electron/engine/engine';
import { loadRunbook } from '../../electron/engine/runbooks/library';
import { runEngineFor } from '../../electron/engine/runbooks/runner';
import { openAppInBrowser, type BrowserSession } from '../helpers/browser';
import { lifeboat, lifeboatAsync } from '../helpers/cli';
import { startS3, type TestS3 } from '../helpers/s3';
import { tempDir } from '../helpers/temp';
import { MediaPage } from './pages/media';
import { OverviewPage } from './pages/overview';
import { SettingsPage } from './pages/settings';

/**
 * Issue 21 (U3) in Chromium over the bridge: Overview answers "are we recoverable?", media mistakes do not stick, the
 * CLI's retention and journal checks are in the app, per-system settings are editable; axe on every state shown.
 */
let dir: ReturnType<typeof tempDir>;
let home: string;
let mount: string;
let s3: TestS3;
let engine: Engine;
let session: BrowserSession;
let overview: OverviewPage;
let media: MediaPage;
let settings: SettingsPage;
const findings: string[] = [];

/** Every file under a folder with its size: what "files untouched" is checked against. */
function tree(root: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(root, { withFileTypes: true, recursive: true })) out.push(join(e.parentPath, e.name));
  return out.sort();
}

beforeAll(async () => {
  dir = tempDir();
  home = join(dir.path, 'home');
  mount = join(dir.path, 'mnt');
  const env = { LIFEBOAT_HOME: home };
  const run = (...args: string[]): void => {
    const r = lifeboat(env, ...args);
    expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  };
  for (const m of ['usb-a', 'usb-b']) run('medium', 'init', join(mount, m), '--label', m);
  const identity = join(dir.path, 'id.age');
  const recipient = lifeboat(env, 'keys', 'age-new', '--out', identity).stdout.trim();
  const files = join(__dirname, '..', 'fixtures');
  // Three sets of docs on usb-a (retention has something to remove), one of scratch on usb-b.
  for (let i = 0; i < 3; i++)
    run('backup', 'files', '--system', 'docs', '--path', files, '--to', join(mount, 'usb-a'), '--recipient', recipient);
  run('scan', join(mount, 'usb-a'));
  run('verify', join(mount, 'usb-a'), '--level', 'integrity');
  run(
    'backup',
    'files',
    '--system',
    'scratch',
    '--path',
    files,
    '--to',
    join(mount, 'usb-b'),
    '--recipient',
    recipient,
  );
  run('scan', join(mount, 'usb-b'));
  // An S3 medium scanned once from a server with the standard AWS variables: the app then has the wrong keys for it.
  s3 = await startS3();
  await s3.createBucket('dr-site');
  const s3env = {
    ...env,
    AWS_ENDPOINT_URL: s3.endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
  };
  expect((await lifeboatAsync(s3env, 'medium', 'init', 's3://dr-site/prod', '--label', 'cloud')).status).toBe(0);
  expect((await lifeboatAsync(s3env, 'scan', 's3://dr-site/prod')).status).toBe(0);
  // docs: critical with an RPO far below its sets' age (stale); scratch: standard (fresh, never verified).
  writeFileSync(
    join(home, 'settings.json'),
    JSON.stringify({
      tiers: {
        critical: { rtoMinutes: 60, rpoMinutes: 0.001 },
        important: { rtoMinutes: 240, rpoMinutes: 60 },
        standard: { rtoMinutes: 1440, rpoMinutes: 240 },
      },
      systems: { docs: { tier: 'critical', validations: [] }, scratch: { tier: 'standard', validations: [] } },
      s3Keys: { bad: { accessKeyId: 'NOSUCHKEY', label: '' }, dr: { accessKeyId: 'S3RVER', label: '' } },
      s3Media: [{ location: 's3://dr-site/prod', endpoint: s3.endpoint, region: 'us-east-1', credential: 's3:bad' }],
    }),
  );
  const credentials = new MemoryCredentialStore();
  await credentials.set('s3:bad', 'not-the-secret');
  await credentials.set('s3:dr', 'S3RVER');
  engine = new Engine({ dataDir: home, credentials, frontDoor: 'bridge', throttleMs: 20 });
  // A real drill of docs, started and stopped; and a second run whose journal is then edited by hand (a hostile input).
  const runner = runEngineFor(engine, []);
  const drill = runner.start(
    loadRunbook(home, 'monthly-drill'),
    { system: 'docs' },
    { drill: true, operator: 'e2e', source: 'builtin:monthly-drill' },
  );
  await runner.cancel(drill.id, 'stopped by the test', 'e2e');
  const tampered = runner.start(
    loadRunbook(home, 'monthly-drill'),
    { system: 'scratch' },
    { drill: true, operator: 'e2e', source: 'builtin:monthly-drill' },
  );
  await runner.cancel(tampered.id, 'stopped by the test', 'e2e');
  engine.catalog.db
    .prepare(`UPDATE journal SET data_json = '{"edited":true}' WHERE run_id = ? AND seq = 1`)
    .run(tampered.id);
  session = await openAppInBrowser(engine);
  overview = new OverviewPage(session.page);
  media = new MediaPage(session.page);
  settings = new SettingsPage(session.page);
}, 120_000);

afterAll(async () => {
  await session?.close();
  await engine?.close();
  await s3?.stop();
  dir?.cleanup();
});

describe('Overview: are we recoverable?', () => {
  it('shows per system the RPO and RTO state, the last drill and the one next action', async () => {
    await overview.show();
    const docs = await overview.state('docs');
    expect(docs).toMatchObject({ rpo: 'late', rto: 'unmeasured', next: 'back-up' });
    expect(docs.nextText).toMatch(/over the .* RPO: back up now/);
    // The drill of docs: its status and local date, with the zone and age.
    expect(docs.lastDrill).toMatch(/cancelled\s*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \((just now|.+ ago)\)/);
    const scratch = await overview.state('scratch');
    expect(scratch).toMatchObject({ rpo: 'unverified', next: 'verify' });
    expect(scratch.lastDrill).toContain('cancelled');
    // Lifeboat's own sets: the trend charts (size, backup time, compression, share that does not compress).
    expect((await overview.trendLabels('docs')).size).toMatch(/^size: 3 sets from .*: .* to /);
    expect(await overview.suspicious('docs')).toBe('');
    // No raw ISO time with milliseconds anywhere on the screen.
    expect(await session.page.locator('main').innerText()).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/);
    await session.screenshot('overview-recoverable');
    findings.push(...(await overview.axe('overview')));
    // The next action goes where it is done.
    await overview.system('scratch').getByTestId('next-scratch').click();
    await session.page.getByTestId('screen-verify').waitFor();
    expect(
      new URLSearchParams(
        (
          await session.page.evaluate(() => (globalThis as unknown as { location: { hash: string } }).location.hash)
        ).slice(1),
      ).get('target'),
    ).toMatch(/^scratch\//);
  });
});

describe('Media: mistakes that do not stick', () => {
  it('refuses a relative path and a file path with a clear error next to the field, and keeps no medium for them', async () => {
    await media.show();
    const before = await media.names();
    expect(await media.scan('mnt/usb-a')).toBe('refused');
    await expect(media.testId('location-error').textContent()).resolves.toContain('give an absolute path');
    await expect(media.testId('medium-location').getAttribute('aria-describedby')).resolves.toBeTruthy();
    findings.push(...(await media.axe('media: relative path refused')));
    const file = join(dir.path, 'backup.tar');
    writeFileSync(file, 'not a medium');
    expect(await media.scan(file)).toBe('refused');
    await expect(media.testId('location-error').textContent()).resolves.toContain('is a file, not a medium folder');
    expect(await media.scan(join(file, 'sets'))).toBe('refused');
    const text = (await media.testId('location-error').textContent()) ?? '';
    expect(text).toContain('a part of that path is a file');
    expect(text).not.toMatch(/ENOTDIR|This is a bug|Unexpected error/);
    expect(await media.names()).toEqual(before);
  });

  it('scans a folder holding two media: both found by label, no "(no label)" medium for the folder', async () => {
    expect(await media.scan(mount)).toBe('succeeded');
    await expect(media.testId('scan-result').locator('h3').textContent()).resolves.toBe(
      `Found usb-a, usb-b inside ${mount}.`,
    );
    await expect(media.page.getByTestId('scan-medium').count()).resolves.toBe(2);
    // Focus moved to the outcome.
    expect(await media.focusedText()).toContain('Found usb-a, usb-b');
    const names = await media.names();
    expect(names).toEqual(expect.arrayContaining(['usb-a', 'usb-b', 'cloud']));
    expect(names).not.toContain(mount);
    findings.push(...(await media.axe('media: media found inside a folder')));
  });

  it('re-attaches to the last scan after a reload and a trip away; a refused scan clears the old result', async () => {
    // One medium inside a folder: the job title says "the medium", not "the 1 media".
    const single = join(dir.path, 'one-inside');
    mkdirSync(single);
    const init = lifeboat(
      { LIFEBOAT_HOME: join(dir.path, 'home-solo') },
      'medium',
      'init',
      join(single, 'solo'),
      '--label',
      'solo',
    );
    expect(init.status, init.stderr).toBe(0);
    expect(await media.scan(single)).toBe('succeeded');
    const id = (await media.testId('scan-job').getAttribute('data-job-id'))!;
    expect(engine.jobs.get(id)!.title).toBe(`Scan of the medium inside ${single}`);
    await media.page.reload();
    await media.show();
    await media.testId('scan-result').waitFor({ timeout: 10_000 });
    await expect(media.testId('scan-result').locator('h3').textContent()).resolves.toBe(`Found solo inside ${single}.`);
    await media.open('overview');
    await media.show();
    await media.testId('scan-result').waitFor({ timeout: 10_000 });
    // A new path error never sits beside the previous scan's result.
    expect(await media.scan('mnt/relative')).toBe('refused');
    await expect(media.testId('scan-result').count()).resolves.toBe(0);
    await expect(media.testId('scan-job').count()).resolves.toBe(0);
  }, 60_000);

  it('an empty plain folder is not added, and can be initialised from the app', async () => {
    const empty = join(dir.path, 'new-drive');
    mkdirSync(empty);
    expect(await media.scan(empty)).toBe('succeeded');
    await expect(media.testId('scan-result').textContent()).resolves.toContain('it was not added');
    expect(await media.names()).not.toContain(empty);
    await media.page.getByRole('button', { name: `Initialise ${empty}` }).click();
    await media.testId('init-medium').waitFor();
    await expect(media.testId('init-submit').isDisabled()).resolves.toBe(true);
    await media.testId('init-label').fill('usb-c');
    expect(await media.scanStartedBy(() => media.testId('init-submit').click())).toBe('succeeded');
    await media.row('usb-c').waitFor();
    expect(readdirSync(empty)).toContain('lifeboat-medium.json');
  });

  it('removes a medium from the catalog only, after a confirmation saying so; its files are untouched', async () => {
    const usbB = join(mount, 'usb-b');
    const files = tree(usbB);
    expect(files.length).toBeGreaterThan(3);
    const panel = await media.askRemove('usb-b');
    await expect(panel.textContent()).resolves.toContain('Nothing on the medium is deleted');
    expect(await media.focusedText()).toContain('Nothing on the medium is deleted');
    findings.push(...(await media.axe('media: remove confirmation')));
    const note = await media.confirmRemove('usb-b');
    expect(note).toContain('usb-b was removed from the catalog with the 1 set only it held');
    expect(await media.names()).not.toContain('usb-b');
    expect(tree(usbB)).toEqual(files);
  });

  it('edits a broken S3 medium: wrong keys fail, the medium opens in the form, the right keys scan', async () => {
    expect(await media.rescan('cloud')).toBe('failed');
    await media.editS3('cloud');
    await expect(media.page.locator('[data-testid="s3-form"] h2').textContent()).resolves.toBe(
      'Edit s3://dr-site/prod',
    );
    await expect(media.testId('s3-bucket').inputValue()).resolves.toBe('dr-site');
    await expect(media.testId('s3-prefix').inputValue()).resolves.toBe('prod');
    await expect(media.testId('s3-credential').inputValue()).resolves.toBe('s3:bad');
    // "Save and scan" says why it is disabled.
    await media.testId('s3-bucket').fill('');
    await expect(media.testId('s3-save').isDisabled()).resolves.toBe(true);
    await expect(media.testId('s3-why').textContent()).resolves.toBe('Give the bucket name first.');
    findings.push(...(await media.axe('media: S3 edit, save disabled')));
    await media.testId('s3-bucket').fill('dr-site');
    await media.testId('s3-credential').selectOption('s3:dr');
    expect(await media.scanStartedBy(() => media.testId('s3-save').click())).toBe('succeeded');
    await expect(media.testId('scan-result').textContent()).resolves.toContain('on cloud');
    await session.screenshot('media-s3-edited');
  });

  it('previews retention (what would go and why), then applies it after a confirmation', async () => {
    const sets = (): string[] => readdirSync(join(mount, 'usb-a', 'sets', 'docs'));
    expect(sets()).toHaveLength(3);
    await media.retention('usb-a', 1);
    expect(await media.prunePreview()).toEqual({ keep: 1, remove: 2 });
    expect(sets()).toHaveLength(3);
    await expect(
      media.page.locator('[data-testid="prune"] [data-testid="cli-command"]').textContent(),
    ).resolves.toContain(`lifeboat prune --to ${join(mount, 'usb-a')} --keep-last 1`);
    findings.push(...(await media.axe('media: retention preview')));
    await session.screenshot('media-retention-preview');
    expect(await media.pruneApply()).toBe('Removed 2 sets from usb-a.');
    expect(sets()).toHaveLength(1);
  });

  it('a folder known by its path is initialised from its row and stays one medium, now with a label', async () => {
    const plain = join(dir.path, 'plain-copy');
    cpSync(join(mount, 'usb-a', 'sets'), join(plain, 'sets'), { recursive: true });
    expect(await media.scan(plain)).toBe('succeeded');
    await media.row(plain).waitFor();
    await media
      .row(plain)
      .getByRole('button', { name: `Initialise ${plain}` })
      .click();
    await media.testId('init-label').fill('usb-d');
    expect(await media.scanStartedBy(() => media.testId('init-submit').click())).toBe('succeeded');
    await media.row('usb-d').waitFor();
    const names = await media.names();
    expect(names).toContain('usb-d');
    expect(names).not.toContain(plain);
    await expect(media.row('usb-d').locator('td').nth(3).textContent()).resolves.toBe('1');
  });
});

describe('Settings: parity with the CLI and per-system settings', () => {
  it('checks every run journal: the intact one and the edited one', async () => {
    await settings.show();
    const r = await settings.verifyJournals();
    expect(r.heading).toBe('1 of 2 journals are BROKEN.');
    expect(r.rows.map((x) => x.ok).sort()).toEqual([false, true]);
    expect(r.rows.find((x) => !x.ok)!.text).toContain('was edited');
    expect(await settings.focusedText()).toContain('BROKEN');
    findings.push(...(await settings.axe('settings: journal check')));
  });

  it('edits a system tier and validation queries where the engine reads them', async () => {
    const saved = await settings.setSystem('scratch', 'important', { sql: 'SELECT count(*) FROM t', expect: '> 0' });
    expect(saved).toContain('scratch is tier important, with 1 validation query');
    const view = engine.settings();
    expect(view.systems.scratch).toEqual({
      tier: 'important',
      validations: [{ sql: 'SELECT count(*) FROM t', expect: '> 0' }],
    });
    await session.screenshot('settings-systems');
    findings.push(...(await settings.axe('settings')));
  });

  it('rebuilds the catalog from the known media after a confirmation; runs and their journals stay', async () => {
    const runsBefore = engine.catalog.db.prepare('SELECT count(*) FROM runs').pluck().get();
    await settings.testId('rebuild').click();
    await settings.testId('rebuild-confirm').waitFor();
    findings.push(...(await settings.axe('settings: rebuild confirmation')));
    await settings.testId('rebuild-yes').click();
    await settings.testId('rebuild-result').waitFor({ timeout: 60_000 });
    const text = (await settings.testId('rebuild-result').textContent()) ?? '';
    expect(text).toMatch(/Catalog rebuilt from \d+ known media/);
    expect(text).toContain('usb-a: 1 set');
    expect(text).not.toContain('usb-b');
    expect(engine.catalog.db.prepare('SELECT count(*) FROM runs').pluck().get()).toBe(runsBefore);
    expect(engine.catalog.db.prepare("SELECT count(*) FROM media WHERE label = 'usb-a'").pluck().get()).toBe(1);
    findings.push(...(await settings.axe('settings: rebuilt')));
  });

  it('axe found no serious or critical violation in any state; no remote request, no console error', () => {
    expect(findings).toEqual([]);
    expect(session.problems).toEqual([]);
  });
});
