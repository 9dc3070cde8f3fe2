import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { Engine } from '../../electron/engine/engine';
import { openAppInBrowser, type BrowserSession } from '../helpers/browser';
import { json, lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';
import { CatalogPage } from './pages/catalog';
import { OverviewPage } from './pages/overview';

/**
 * Issue 24 items 4, 5 in Chromium over the bridge: the trend charts render on Overview and in the
 * Catalog's system view, and a set whose files were "encrypted" shows as suspicious with its reason
 * and the clean candidate (the CLI side: test/integration/trends.test.ts).
 */
let dir: ReturnType<typeof tempDir>;
let engine: Engine;
let session: BrowserSession;
let overview: OverviewPage;
let catalog: CatalogPage;
const sets: string[] = [];
const findings: string[] = [];

beforeAll(async () => {
  dir = tempDir();
  const home = join(dir.path, 'home');
  const env = { LIFEBOAT_HOME: home };
  const drive = join(dir.path, 'drive');
  const src = join(dir.path, 'share');
  mkdirSync(src);
  expect(lifeboat(env, 'medium', 'init', drive, '--label', 'drive').status).toBe(0);
  const text = (n: number): string => `row ${n} of the ledger, nothing secret here\n`.repeat(2500);
  for (let i = 0; i < 12; i++) writeFileSync(join(src, `f${i}.txt`), text(i));
  const backup = (): void => {
    const r = lifeboat(
      env,
      'backup',
      'files',
      '--system',
      'share',
      '--path',
      src,
      '--to',
      drive,
      '--allow-plaintext',
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    sets.push(json<{ set_id: string }>(r).set_id);
  };
  backup();
  for (let i = 0; i < 12; i++) writeFileSync(join(src, `f${i}.txt`), randomBytes(110_000));
  backup();
  engine = new Engine({ dataDir: home, credentials: new MemoryCredentialStore(), frontDoor: 'bridge', throttleMs: 20 });
  session = await openAppInBrowser(engine);
  overview = new OverviewPage(session.page);
  catalog = new CatalogPage(session.page);
}, 120_000);

afterAll(async () => {
  await session?.close();
  await engine?.close();
  dir?.cleanup();
});

describe('trends and the suspicious badge', () => {
  it('Overview draws the four trends and says which set is suspicious and which is clean', async () => {
    await overview.show();
    const labels = await overview.trendLabels('share');
    expect(labels.size).toMatch(/^size: 2 sets from .*: .* to /);
    expect(labels.time).toMatch(/^backup time: /);
    expect(labels.ratio).toMatch(/^compression: \d+\.\d× to \d+\.\d×$/);
    expect(labels.share).toMatch(/^does not compress: 0% to (9\d|100)%$/);
    const badge = await overview.suspicious('share');
    expect(badge).toContain(`Suspicious ${sets[1]}: `);
    expect(badge).toMatch(/does not compress/);
    expect(badge).toContain(`Clean candidate: ${sets[0]}`);
    // The next step is the suspected attack, not verifying the suspicious set.
    const state = await overview.state('share');
    expect(state.next).toBe('check-suspicious');
    expect(state.nextText).toMatch(/SUSPICIOUS \(ransomware indicator\): check share/);
    await session.screenshot('overview-trends');
    findings.push(...(await overview.axe('overview-trends')));
  }, 60_000);

  it("the Catalog's system view shows the trend and marks the suspicious set in the table", async () => {
    await catalog.show();
    await catalog.showSystem('share');
    expect(await catalog.testId('suspicious-share').textContent()).toContain(`Clean candidate: ${sets[0]}`);
    expect(await catalog.suspiciousRows()).toEqual([`share/${sets[1]}`]);
    await catalog.openSetByKeyboard(`share/${sets[1]}`);
    expect(await catalog.testId('set-suspicious').textContent()).toMatch(/ransomware indicator flagged this set/);
    await session.screenshot('catalog-trends');
    findings.push(...(await catalog.axe('catalog-trends')));
    expect(findings).toEqual([]);
  }, 60_000);

  it('the next step opens restore-files for the share, whose set list marks the suspicious set', async () => {
    await overview.show();
    await session.page.getByTestId('next-share').click();
    const options = session.page.getByTestId('input-set').locator('option');
    await options.nth(2).waitFor({ state: 'attached' });
    const texts = await options.allTextContents();
    expect(texts.find((t) => t.startsWith(`share/${sets[1]} — `))).toMatch(/SUSPICIOUS \(ransomware indicator\)/);
    expect(texts.find((t) => t.startsWith(`share/${sets[0]} — `))).not.toMatch(/SUSPICIOUS/);
  }, 60_000);
});
