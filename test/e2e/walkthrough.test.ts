import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { Engine } from '../../electron/engine/engine';
import { newMediumInfo } from '../../electron/engine/format/medium';
import { openAppInBrowser, type BrowserSession } from '../helpers/browser';
import { lifeboat } from '../helpers/cli';
import { startPostgres, type ScratchCluster } from '../helpers/postgres';
import { loadSampleData } from '../helpers/sample-data';
import { tempDir } from '../helpers/temp';

let dir: ReturnType<typeof tempDir>;
let pg: ScratchCluster;
let engine: Engine;
let session: BrowserSession;
let medium: string;
let identity: string;
let home: string;

function openEngine(): Engine {
  return new Engine({ dataDir: home, credentials: new MemoryCredentialStore(), frontDoor: 'bridge', throttleMs: 20 });
}

beforeAll(async () => {
  dir = tempDir();
  home = join(dir.path, 'home');
  pg = await startPostgres();
  await loadSampleData(pg.url());
  const env = { LIFEBOAT_HOME: home };
  medium = join(dir.path, 'usb');
  identity = join(dir.path, 'laptop.age');
  const sign = join(dir.path, 'sign.pem');
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'usb-1').status).toBe(0);
  const recipient = lifeboat(env, 'keys', 'age-new', '--out', identity).stdout.trim();
  lifeboat(env, 'keys', 'signing-new', '--out', sign);
  expect(lifeboat(env, 'keys', 'trust', `${sign}.pub`).status).toBe(0);
  // Sets made by the CLI, as on the servers; the app has not scanned the medium yet.
  expect(
    lifeboat(
      env,
      'backup',
      'pg',
      '--system',
      'shop',
      '--db',
      pg.url(),
      '--to',
      medium,
      '--recipient',
      recipient,
      '--sign-key',
      sign,
    ).status,
  ).toBe(0);
  const files = join(dir.path, 'files');
  cpSync(join(__dirname, '..', 'fixtures'), files, { recursive: true });
  expect(
    lifeboat(
      env,
      'backup',
      'files',
      '--system',
      'shop-files',
      '--path',
      files,
      '--to',
      medium,
      '--recipient',
      recipient,
      '--sign-key',
      sign,
    ).status,
  ).toBe(0);
  engine = openEngine();
  session = await openAppInBrowser(engine);
}, 180_000);

afterAll(async () => {
  await session?.close();
  await engine?.close();
  await pg?.destroy();
  dir?.cleanup();
});

describe('the operator at the DR site, in the app', () => {
  it('adds the medium and scans it with visible progress', async () => {
    const { page } = session;
    await page.getByTestId('nav-media').click();
    await page.getByTestId('medium-location').fill(medium);
    await page.getByTestId('scan').click();
    await page.getByTestId('job-scan').waitFor();
    await page.locator('[data-testid="job-scan"][data-status="succeeded"]').waitFor({ timeout: 30_000 });
    await expect(page.getByTestId('scan-result').textContent()).resolves.toContain('2 sets');
    await expect(page.getByTestId('media-table').textContent()).resolves.toContain('usb-1');
    await session.screenshot('walk-media');
  });

  it('sees the sets in the catalog, with the equivalent CLI command', async () => {
    const { page } = session;
    await page.getByTestId('nav-catalog').click();
    await page.getByTestId('sets-table').waitFor();
    await expect(page.getByTestId('set-row').count()).resolves.toBe(2);
    await page.getByTestId('set-row').first().click();
    await page.getByTestId('set-detail').waitFor();
    await expect(page.getByTestId('set-detail').textContent()).resolves.toContain('usb-1');
    await expect(page.getByTestId('cli-command').first().textContent()).resolves.toContain('lifeboat sets');
    await session.screenshot('walk-catalog');
  });

  it('verifies at integrity level with progress; every set passes', async () => {
    const { page } = session;
    await page.getByTestId('nav-verify').click();
    await page.getByTestId('verify-target').fill(medium);
    await page.getByTestId('verify-level').selectOption('integrity');
    await page.getByTestId('verify-start').click();
    await page.locator('[data-testid="verify-results"]').waitFor({ timeout: 60_000 });
    await expect(page.getByTestId('verify-results').getAttribute('data-failed')).resolves.toBe('0');
    await expect(page.locator('[data-testid="verify-row"][data-verdict="ok"]').count()).resolves.toBe(2);
    await session.screenshot('walk-verify');
  });

  it('shows a tampered set as failed, in plain words', async () => {
    const { page } = session;
    const copy = join(dir.path, 'tampered');
    cpSync(medium, copy, { recursive: true });
    // Another drive, not the same one at another mount point: without the medium's identity file.
    rmSync(join(copy, 'lifeboat-medium.json'));
    writeFileSync(join(copy, 'lifeboat-medium.json'), JSON.stringify(newMediumInfo('tampered-copy')));
    const setDir = join(copy, 'sets', 'shop', readdirSync(join(copy, 'sets', 'shop'))[0]!);
    const dump = join(
      setDir,
      readdirSync(setDir).find((f) => f.startsWith('db.dump'))!,
    );
    const bytes = readFileSync(dump);
    bytes[200]! ^= 0x01;
    writeFileSync(dump, bytes);
    await page.getByTestId('verify-target').fill(setDir);
    await page.getByTestId('verify-start').click();
    await page.locator('[data-testid="verify-results"][data-failed="1"]').waitFor({ timeout: 60_000 });
    await expect(page.locator('[data-testid="verify-row"][data-verdict="corrupted"]').textContent()).resolves.toContain(
      'do not match',
    );
    await session.screenshot('walk-verify-failed');
    // The Media screen says which drive holds a failing set.
    await page.getByTestId('nav-media').click();
    await expect(
      page
        .locator('[data-testid="media-table"] tr', { hasText: 'tampered-copy' })
        .getByTestId('medium-verified')
        .textContent(),
    ).resolves.toContain('1 set failing');
    await page.getByTestId('nav-verify').click();
  });

  it('walks the monthly drill: start with typed inputs, the restore runs, tick and sign, the report opens', async () => {
    const { page } = session;
    await page.getByTestId('nav-runbooks').click();
    await page.getByTestId('start-monthly-drill').click();
    await page.getByTestId('input-system').selectOption('shop');
    await page.getByTestId('input-identity').fill(identity);
    await session.screenshot('walk-runbook-start');
    await page.getByTestId('start-run').click();
    await page.getByTestId('walkthrough').waitFor();
    await expect(page.getByTestId('run-mode').textContent()).resolves.toContain('DRILL');
    // "Tell the team" waits for a person to send the message and say so: Lifeboat never ticks it (issue 21).
    await page
      .locator('[data-testid="current-step"][data-step="announce"] [data-testid="need-form"]')
      .waitFor({ timeout: 20_000 });
    await expect(page.getByTestId('message').textContent()).resolves.toContain('[DRILL] Restore drill for shop');
    await page.getByTestId('sent-via').fill('team chat');
    await page.getByTestId('complete-step').click();
    // The actions run (select, verify deep, restore into a scratch server, validations) up to the review.
    await page.locator('[data-testid="step-restore"][data-status="done"]').waitFor({ timeout: 90_000 });
    await page.getByTestId('need-form').waitFor({ timeout: 30_000 });
    await expect(page.getByTestId('current-step').getAttribute('data-step')).resolves.toBe('review');
    await session.screenshot('walk-runbook-review');
    // Keyboard only: tick every item with the space bar, type the name, submit with Enter.
    for (let i = 0; i < 3; i++) {
      await page.getByTestId(`tick-${i}`).focus();
      await page.keyboard.press('Space');
    }
    await page.getByTestId('signoff').focus();
    await page.keyboard.type('Dana Operator');
    await page.keyboard.press('Enter');
    await page.locator('[data-testid="walkthrough"][data-status="succeeded"]').waitFor({ timeout: 30_000 });
    await session.screenshot('walk-runbook-done');
    await page.getByTestId('open-report').click();
    const frame = page.frameLocator('[data-testid="report-frame"]');
    await expect(frame.locator('h1').textContent()).resolves.toBe('Monthly restore drill');
    await expect(frame.locator('body').textContent()).resolves.toContain('Dana Operator');
    await session.screenshot('walk-report');
    // Export PDF: the bridge has no printer, so the HTML report is downloaded, and the operator is told why.
    const download = page.waitForEvent('download');
    await page.getByTestId('export-pdf').click();
    expect((await download).suggestedFilename()).toMatch(/^lifeboat-report-.+\.html$/);
    await expect(page.getByTestId('export-status').textContent()).resolves.toContain('needs the desktop app');
  });

  it('resumes an unfinished run after the engine behind the window restarts', async () => {
    let { page } = session;
    await page.getByTestId('nav-runbooks').click();
    await page.getByTestId('start-dr-site-activation').click();
    await page.getByTestId('start-run').click();
    await page.getByTestId('need-form').waitFor({ timeout: 20_000 });
    await expect(page.getByTestId('current-step').getAttribute('data-step')).resolves.toBe('pre-recovery');
    // The app goes away (engine and bridge), then comes back on the same data.
    await session.close();
    await engine.close();
    engine = openEngine();
    session = await openAppInBrowser(engine);
    page = session.page;
    await page.getByTestId('nav-runbooks').click();
    await page.getByTestId('open-runs').waitFor();
    await page.locator('[data-testid^="resume-"]').first().click();
    await page.getByTestId('need-form').waitFor();
    await expect(page.getByTestId('current-step').getAttribute('data-step')).resolves.toBe('pre-recovery');
    for (let i = 0; i < 5; i++) await page.getByTestId(`tick-${i}`).check();
    await page.getByTestId('signoff').fill('Eve Commander');
    await page.getByTestId('complete-step').click();
    // The run went on from exactly where it stood: the message to send is next, and waits to be sent.
    await page
      .locator('[data-testid="current-step"][data-step="notify"] [data-testid="need-form"]')
      .waitFor({ timeout: 20_000 });
    await expect(page.locator('[data-testid="step-pre-recovery"]').getAttribute('data-status')).resolves.toBe('done');
    await page.getByTestId('sent-via').fill('phone bridge');
    await page.getByTestId('complete-step').click();
    await page.locator('[data-testid="current-step"][data-step="execution"]').waitFor({ timeout: 20_000 });
    await expect(page.locator('[data-testid="step-notify"]').getAttribute('data-status')).resolves.toBe('done');
    await session.screenshot('walk-resumed');
  });

  it('made no remote request and logged no error', () => {
    expect(session.problems).toEqual([]);
  });
});
