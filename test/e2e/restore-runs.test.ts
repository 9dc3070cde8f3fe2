import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers } from '../../electron/engine/api/handlers';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { Engine } from '../../electron/engine/engine';
import { openAppInBrowser, type BrowserSession } from '../helpers/browser';
import { lifeboat } from '../helpers/cli';
import { query, type ScratchCluster } from '../helpers/postgres';
import { nextSecond } from '../helpers/clock';
import { keyedMedium } from '../helpers/keyed-medium';
import { tempDir } from '../helpers/temp';
import { chownForPostgres, startArchivingPostgres, switchAndArchive, walPushCommand } from '../helpers/wal-archiving';
import { CatalogPage } from './pages/catalog';
import { PitrPage } from './pages/pitr';
import { RunbooksPage } from './pages/runbooks';
import { WalkthroughPage } from './pages/walkthrough';

/**
 * Issue 21, items 4, 5 and 8's checklist, in Chromium over the bridge: restores start where the operator looks (a
 * found file, a set, the PITR planner) as short built-in runbooks; runs hold (ticks across a reload, sign-offs not
 * skippable by the operator, a second person's skip ends "completed with exceptions", messages wait to be sent);
 * axe on every state.
 */

let dir: ReturnType<typeof tempDir>;
let home: string;
let pg: ScratchCluster;
let engine: Engine;
let session: BrowserSession;
let medium: string;
let identity: string;
let pgSet: string;
let unsignedSet: string;
let targetTime: string;
const findings: string[] = [];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  dir = tempDir();
  home = join(dir.path, 'home');
  const env = { LIFEBOAT_HOME: home };
  const keyed = keyedMedium(env, dir.path, { medium: 'usb', label: 'usb-1', identity: 'laptop.age' });
  ({ medium, identity } = keyed);
  // PostgreSQL's archiver runs as the server's user: it writes the WAL archive onto the medium.
  chownForPostgres(dir.path);
  pg = await startArchivingPostgres(
    dir.path,
    walPushCommand({ system: 'shop', medium, recipient: keyed.recipient, signKey: keyed.signKey }),
  );
  await query(pg.url(), 'CREATE TABLE orders (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())');
  await query(pg.url(), 'INSERT INTO orders (id) SELECT generate_series(1, 137)');
  const backup = (...args: string[]): string => keyed.backup([...args]).key;
  pgSet = backup('pg', '--system', 'shop', '--tier', 'critical', '--db', pg.url());
  expect(backup('pg-base', '--system', 'shop', '--tier', 'critical', '--db', pg.url()).length).toBeGreaterThan(0);
  // Each event in a second of its own, so stamps read to the second still order them.
  await nextSecond();
  await query(pg.url(), 'INSERT INTO orders (id) VALUES (1000)');
  await switchAndArchive(pg);
  await nextSecond();
  targetTime = new Date().toISOString();
  await nextSecond();
  await query(pg.url(), 'INSERT INTO orders (id) VALUES (1001)');
  await switchAndArchive(pg);
  const files = join(dir.path, 'app');
  mkdirSync(join(files, 'invoices'), { recursive: true });
  writeFileSync(join(files, 'invoices', 'notes.txt'), 'the one file we need\n');
  writeFileSync(join(files, 'other.bin'), Buffer.alloc(4096, 1));
  backup('files', '--system', 'shop-files', '--tier', 'important', '--path', files);
  // The medium is scanned and verified deep (which indexes the files set for find) before the app opens.
  expect(lifeboat(env, 'scan', medium).status).toBe(0);
  const verified = lifeboat(env, 'verify', medium, '--level', 'deep', '--identity', identity);
  expect(verified.status, verified.stdout + verified.stderr).toBe(0);
  // A set no pinned key signed (made after the deep check, which would fail it at authenticity).
  unsignedSet = keyed.backup(['files', '--system', 'loose', '--path', files], { sign: false }).key;
  expect(lifeboat(env, 'scan', medium).status).toBe(0);
  // An operator's own runbook with a message to send.
  mkdirSync(join(home, 'runbooks'), { recursive: true });
  writeFileSync(
    join(home, 'runbooks', 'tell.yaml'),
    [
      'id: tell-the-team',
      'title: Tell the team',
      'description: A message to send, then a check.',
      'level: 1',
      'objectives: { rto: 1h, rpo: 1h }',
      'steps:',
      '  - { id: tell, title: Announce, kind: communicate, audience: Team channel, template: "Restore of {{ run.mode }} started by {{ run.operator }}" }',
      '  - { id: after, title: After, kind: manual, checklist: [done] }',
      '',
    ].join('\n'),
  );
  engine = new Engine({ dataDir: home, credentials: new MemoryCredentialStore(), frontDoor: 'bridge', throttleMs: 20 });
  const handlers = createHandlers(engine);
  await handlers.saveCredential({
    account: 'pg:dr-server',
    secret: 'trust-auth-ignores-it',
    url: pg.url(),
    label: 'DR server',
  });
  await handlers.saveCredential({ account: 'age:laptop', secret: readFileSync(identity, 'utf8') });
  session = await openAppInBrowser(engine);
}, 180_000);

afterAll(async () => {
  await session?.close();
  await engine?.close();
  await pg?.destroy();
  dir?.cleanup();
});

describe('restores from where the operator looks, runs that hold', { timeout: 120_000 }, () => {
  it('keyboard only: find a file, Restore this file/folder, walk the runbook, the file is in the folder with its report', async () => {
    const { page } = session;
    const catalog = new CatalogPage(page);
    const runbooks = new RunbooksPage(page);
    const walk = new WalkthroughPage(page);
    await catalog.show();
    await catalog.findAndRestore('*notes.txt', 'invoices/notes.txt', 'shop-files');
    findings.push(...(await catalog.axe('find hits → start form')));
    expect(await catalog.focused()).toBe('h2:Start: Restore files from a set');
    await expect(page.getByTestId('start-purpose').textContent()).resolves.toMatch(
      /^Restore .*invoices\/notes\.txt from shop-files\//,
    );
    const into = join(dir.path, 'restored-files');
    // A relative folder would resolve against the bridge's own folder: refused, the focus on why (review R2).
    await runbooks.fill('dir', 'restored-files');
    await expect(runbooks.startRefused()).resolves.toContain('dir: restored-files is a relative path');
    await expect.poll(() => runbooks.focused(), { timeout: 5_000 }).toBe('start-error');
    findings.push(...(await runbooks.axe('start form refused')));
    await runbooks.fill('dir', into);
    await runbooks.fill('identity', identity);
    await runbooks.fill('operator', 'Dana');
    await runbooks.start();
    await walk.waitForStep('check');
    expect(await walk.focused()).toBe('step-heading');
    await walk.tick(0, 1);
    await walk.complete();
    await walk.waitForStep('review', 60_000);
    expect(await walk.focused()).toBe('step-heading');
    await expect(page.getByTestId('current-step').textContent()).resolves.toMatch(/Measured restore time: \d/);
    findings.push(...(await walk.axe('review step waiting')));
    await walk.tick(0, 1);
    await walk.typeInto('signoff', 'Dana');
    await walk.complete();
    await walk.waitForStatus('succeeded');
    expect(readFileSync(join(into, 'app', 'invoices', 'notes.txt'), 'utf8')).toBe('the one file we need\n');
    expect(existsSync(join(into, 'app', 'other.bin'))).toBe(false);
    await expect(page.getByTestId('run-summary').textContent()).resolves.toContain('tier important of shop-files');
    findings.push(...(await walk.axe('finished run')));
    await page.getByTestId('open-report').focus();
    await page.keyboard.press('Enter');
    const report = page.frameLocator('[data-testid="report-frame"]');
    await expect(report.locator('.headline').textContent()).resolves.toContain('Succeeded');
    const runId = (
      engine.catalog
        .stmt("SELECT id FROM runs WHERE runbook_id = 'restore-files' ORDER BY started_at DESC LIMIT 1")
        .get() as { id: string }
    ).id;
    const types = engine.catalog
      .stmt('SELECT type FROM journal WHERE run_id = ? ORDER BY seq')
      .pluck()
      .all(runId) as string[];
    expect(types.filter((t) => t === 'step.ticked')).toHaveLength(4);
    expect(types.at(-1)).toBe('run.finished');
    await session.screenshot('restore-file-done');
  });

  it('restores a database into a new one; ticks survive a reload; the operator cannot skip a sign-off; a second person can, and the run ends with exceptions', async () => {
    const { page } = session;
    const catalog = new CatalogPage(page);
    const runbooks = new RunbooksPage(page);
    const walk = new WalkthroughPage(page);
    await catalog.show();
    await catalog.openSetByKeyboard(pgSet);
    expect(await catalog.focused()).toBe(`h2:${pgSet}`);
    findings.push(...(await catalog.axe('set detail')));
    await page.getByTestId('set-restore').click();
    await page.getByTestId('start-form').waitFor();
    await page.getByTestId('input-target').selectOption('pg:dr-server');
    await runbooks.fill('database', 'shop_restored');
    await runbooks.fill('identity', identity);
    await runbooks.fill('operator', 'Ann');
    findings.push(...(await runbooks.axe('restore-database start form')));
    await runbooks.start();
    await walk.waitForStep('check');
    await walk.tick(0);
    await page.reload();
    await walk.waitForStep('check');
    expect(await walk.ticked()).toEqual([true, false]);
    await walk.tick(1);
    await walk.complete();
    await walk.waitForStep('confirm-target', 60_000);
    await walk.typeInto('confirmation', 'shop_restored');
    await walk.complete();
    await walk.waitForStep('review', 60_000);
    await expect(page.getByTestId('restore-time').textContent()).resolves.toMatch(
      /Measured restore time \d.* · RTO 1 h/,
    );
    // The review asks Ann to sign: Ann cannot waive it, and the form asks for a second person.
    await walk.skip('no time', 'ann');
    await expect(page.getByTestId('skip-form').getByTestId('error').textContent()).resolves.toContain(
      'someone other than Ann',
    );
    findings.push(...(await walk.axe('sign-off skip refused')));
    await page.getByTestId('skip-second-person').fill('Bob');
    await page.getByTestId('skip-confirm').click();
    await walk.waitForStatus('completed-with-exceptions');
    await expect(page.getByTestId('run-status').getAttribute('class')).resolves.not.toContain('green');
    await expect(page.getByTestId('run-exceptions').textContent()).resolves.toContain(
      'skipped by Ann, approved by Bob: no time',
    );
    await expect(page.getByTestId('run-summary').textContent()).resolves.toContain('tier critical of shop');
    expect(await query(pg.url('shop_restored'), 'SELECT count(*)::int AS n FROM orders')).toEqual([{ n: 137 }]);
    findings.push(...(await walk.axe('completed with exceptions')));
    await page.getByTestId('open-report').click();
    const report = page.frameLocator('[data-testid="report-frame"]');
    await expect(report.locator('.headline').textContent()).resolves.toContain('Completed with exceptions');
    await expect(report.locator('body').textContent()).resolves.toContain('approved by Bob');
    await session.screenshot('restore-db-exceptions');
  });

  it('an unsigned set is restored only after the operator allows it and accepts the risk, journaled as an override', async () => {
    const { page } = session;
    const catalog = new CatalogPage(page);
    const runbooks = new RunbooksPage(page);
    const walk = new WalkthroughPage(page);
    await catalog.show();
    await catalog.openSetByKeyboard(unsignedSet);
    await page.getByTestId('set-restore').click();
    await page.getByTestId('unsigned-override').waitFor();
    await expect(page.getByTestId('unsigned-override').textContent()).resolves.toContain('cannot be proven');
    await runbooks.fill('dir', join(dir.path, 'restored-unsigned'));
    await runbooks.fill('identity', identity);
    await page.getByTestId('allow-unsigned').check();
    await expect(page.getByTestId('start-run').isDisabled()).resolves.toBe(true);
    await expect(page.getByTestId('start-form').textContent()).resolves.toContain(
      'Still needed: accepting the unsigned-set risk',
    );
    await page.getByTestId('accept-unsigned-risk').check();
    findings.push(...(await runbooks.axe('unsigned override accepted')));
    await runbooks.start();
    await expect(page.getByTestId('run-mode').textContent()).resolves.toContain(
      'not signed by a pinned key are allowed',
    );
    await walk.waitForStep('check');
    await walk.tick(0, 1);
    await walk.complete();
    await walk.waitForStep('review', 60_000);
    await walk.tick(0, 1);
    await walk.typeInto('signoff', 'Dana');
    await walk.complete();
    await walk.waitForStatus('succeeded');
    expect(readFileSync(join(dir.path, 'restored-unsigned', 'app', 'invoices', 'notes.txt'), 'utf8')).toBe(
      'the one file we need\n',
    );
    const runId = (
      engine.catalog
        .stmt("SELECT id FROM runs WHERE inputs_json LIKE '%loose/%' ORDER BY started_at DESC LIMIT 1")
        .get() as { id: string }
    ).id;
    expect(
      engine.catalog.stmt("SELECT count(*) FROM journal WHERE run_id = ? AND type = 'run.override'").pluck().get(runId),
    ).toBe(1);
  });

  it('a message step shows the message and waits until someone says who sent it and how', async () => {
    const { page } = session;
    const runbooks = new RunbooksPage(page);
    const walk = new WalkthroughPage(page);
    await runbooks.show();
    await page.getByTestId('start-tell-the-team').click();
    await runbooks.start();
    await walk.waitForStep('tell');
    await expect(page.getByTestId('message').textContent()).resolves.toBe(
      `Restore of DRILL started by ${await page.getByTestId('sent-by').inputValue()}`,
    );
    await expect(page.getByTestId('complete-step').isDisabled()).resolves.toBe(true);
    await expect(page.getByTestId('need-form').textContent()).resolves.toContain('Still needed: how it was sent');
    findings.push(...(await walk.axe('message to send')));
    await sleep(500);
    await expect(page.locator('[data-testid="step-tell"]').getAttribute('data-status')).resolves.toBe('waiting');
    await walk.typeInto('sent-via', 'chat #ops');
    await walk.complete();
    await walk.waitForStep('after');
    await expect(page.locator('[data-testid="step-tell"]').getAttribute('data-status')).resolves.toBe('done');
    await page.getByTestId('step-tell').click();
    await expect(page.getByTestId('step-output').textContent()).resolves.toContain('chat #ops');
  });

  it('the PITR planner shows the window on a timeline, says a time is inside, and starts the pitr-restore runbook pre-filled', async () => {
    const { page } = session;
    const pitr = new PitrPage(page);
    const runbooks = new RunbooksPage(page);
    const walk = new WalkthroughPage(page);
    await pitr.show('shop');
    const box = await page.getByTestId('pitr-timeline').boundingBox();
    expect(box?.width).toBeGreaterThan(500);
    await expect(page.getByTestId('timeline-window').count()).resolves.toBeGreaterThan(0);
    await pitr.chooseTime(targetTime);
    await expect(page.getByTestId('pitr-target').getAttribute('data-inside')).resolves.toBe('true');
    await expect(page.getByTestId('pitr-target').textContent()).resolves.toMatch(
      /inside the window · base backup .* · \d+ WAL segments? to replay/,
    );
    findings.push(...(await pitr.axe('PITR planner with a time')));
    await session.screenshot('pitr-planner');
    await page.getByTestId('pitr-start').click();
    await page.getByTestId('start-form').waitFor();
    await expect(page.getByTestId('input-system').inputValue()).resolves.toBe('shop');
    const local = await page.getByTestId('input-target_time').inputValue();
    expect(Math.abs(new Date(local).getTime() - Date.parse(targetTime))).toBeLessThan(1000);
    await expect(page.getByTestId('input-drill').isChecked()).resolves.toBe(false);
    await page.getByTestId('input-drill').check();
    await runbooks.fill('identity', identity);
    await runbooks.start();
    await walk.waitForStep('check');
    await page.getByTestId('cancel-run').click();
    await page.getByTestId('cancel-run-reason').fill('planner test only');
    await page.getByRole('button', { name: 'Cancel the run for good' }).click();
    await walk.waitForStatus('cancelled');
  });

  it('prints a blank checklist of a runbook before a run', async () => {
    const { page } = session;
    const runbooks = new RunbooksPage(page);
    await runbooks.show();
    await runbooks.printChecklist('restore-database');
    const frame = page.frameLocator('[data-testid="checklist-frame"]');
    await expect(frame.locator('body').textContent()).resolves.toContain('Confirm the set and the target');
    findings.push(...(await runbooks.axe('checklist preview')));
    const download = page.waitForEvent('download');
    await page.getByTestId('save-checklist').click();
    expect((await download).suggestedFilename()).toBe('lifeboat-checklist-restore-database.html');
  });

  it('axe found no serious or critical violation in any state; no remote request, no console error', () => {
    expect(findings).toEqual([]);
    expect(session.problems).toEqual([]);
  });
});
