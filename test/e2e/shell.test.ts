import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCREENS } from '../../shared/domain/screens';
import { KeytarCredentialStore } from '../../electron/engine/credentials/credential-store';
import { startSecretService, type SecretService } from '../helpers/secret-service';
import { Engine } from '../../electron/engine/engine';
import { openAppInBrowser, type BrowserSession } from '../helpers/browser';
import { tempDir } from '../helpers/temp';
import pkg from '../../package.json';

let home: ReturnType<typeof tempDir>;
let engine: Engine;
let session: BrowserSession;
let keyring: SecretService;

beforeAll(async () => {
  home = tempDir();
  keyring = await startSecretService();
  engine = new Engine({ dataDir: home.path, credentials: new KeytarCredentialStore(), frontDoor: 'bridge', throttleMs: 20 });
  session = await openAppInBrowser(engine);
});
afterAll(async () => {
  await session.close();
  await engine.close();
  await keyring.stop();
  home.cleanup();
});

describe('the app shell in Chromium over the web bridge', () => {
  it('shows real engine data on the Overview', async () => {
    const { page } = session;
    await page.getByTestId('screen-overview').waitFor();
    await expect(page.getByTestId('app-version').textContent()).resolves.toBe(pkg.version);
    await expect(page.getByTestId('data-dir').textContent()).resolves.toBe(home.path);
    await expect(page.getByTestId('count-sets').textContent()).resolves.toBe('0');
    await expect(page.getByTestId('keychain-status').getAttribute('data-state')).resolves.toBe('available');
    await page.getByTestId('tools-table').waitFor();
    await expect(page.getByTestId('tools-table').textContent()).resolves.toContain('pg_dump');
    await session.screenshot('overview');
  });

  it('runs the self-check job and shows its outcome from job events', async () => {
    const { page } = session;
    await page.getByTestId('self-check').click();
    await page.locator('[data-testid="self-check-status"][data-status="succeeded"]').waitFor({ timeout: 20_000 });
    expect(session.traffic.some((t) => t.direction === 'out' && t.frame.includes('"type":"finished"'))).toBe(true);
  });

  it('navigates to every screen and screenshots it', async () => {
    const { page } = session;
    for (const screen of SCREENS) {
      await page.getByTestId(`nav-${screen.id}`).click();
      await page.getByTestId(`screen-${screen.id}`).waitFor();
      await expect(page.locator('h1').textContent()).resolves.toBe(screen.label);
      await session.screenshot(`screen-${screen.id}`);
    }
  });

  it('made no remote request and logged no error', () => {
    expect(session.problems).toEqual([]);
  });

  it('refuses a WebSocket without the token', async () => {
    const { page, bridge } = session;
    const outcome = await page.evaluate(async (url) => {
      return new Promise<string>((resolve) => {
        const ws = new WebSocket(url);
        ws.onopen = () => resolve('open');
        ws.onerror = () => resolve('refused');
      });
    }, `ws://127.0.0.1:${bridge.port}/ipc?token=wrong`);
    expect(outcome).toBe('refused');
  });
});
