import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCREENS } from '../../shared/domain/screens';
import { KeytarCredentialStore } from '../../electron/engine/credentials/credential-store';
import { startSecretService, type SecretService } from '../helpers/secret-service';
import { Engine } from '../../electron/engine/engine';
import { openAppInBrowser, type BrowserSession } from '../helpers/browser';
import { tempDir } from '../helpers/temp';
import pkg from '../../package.json';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { generateIdentity, identityFileText } from '../../electron/engine/crypto/age';

let home: ReturnType<typeof tempDir>;
let engine: Engine;
let session: BrowserSession;
let keyring: SecretService;

beforeAll(async () => {
  home = tempDir();
  keyring = await startSecretService();
  engine = new Engine({
    dataDir: home.path,
    credentials: new KeytarCredentialStore(),
    frontDoor: 'bridge',
    throttleMs: 20,
  });
  session = await openAppInBrowser(engine);
});
afterAll(async () => {
  await session.close();
  await engine.close();
  await keyring.stop();
  home.cleanup();
});

describe('the app shell in Chromium over the web bridge', () => {
  it('shows real engine data in Settings → About (the Overview leads with recoverability)', async () => {
    const { page } = session;
    await page.getByTestId('screen-overview').waitFor();
    await page.getByTestId('overview-empty').waitFor();
    await session.screenshot('overview');
    await page.getByTestId('nav-settings').click();
    await page.getByTestId('about').waitFor();
    await expect(page.getByTestId('app-version').textContent()).resolves.toBe(pkg.version);
    await expect(page.getByTestId('data-dir').textContent()).resolves.toBe(home.path);
    await expect(page.getByTestId('count-sets').textContent()).resolves.toBe('0');
    await expect(page.getByTestId('keychain-status').getAttribute('data-state')).resolves.toBe('available');
    await page.getByTestId('tools-table').waitFor();
    await expect(page.getByTestId('tools-table').textContent()).resolves.toContain('pg_dump');
  });

  it('runs the self-check job and shows its outcome from job events', async () => {
    const { page } = session;
    await page.getByTestId('self-check').click();
    await page.locator('[data-testid="self-check-status"][data-status="succeeded"]').waitFor({ timeout: 20_000 });
    expect(session.traffic.some((t) => t.direction === 'out' && t.frame.includes('"type":"finished"'))).toBe(true);
  });

  it('navigates to every screen, screenshots it, and axe-core finds no serious or critical violation', async () => {
    const { page } = session;
    const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
    const findings: string[] = [];
    for (const screen of SCREENS) {
      await page.getByTestId(`nav-${screen.id}`).click();
      await page.getByTestId(`screen-${screen.id}`).waitFor();
      await expect(page.locator('h1').textContent()).resolves.toBe(screen.label);
      await page.waitForLoadState('networkidle');
      await session.screenshot(`screen-${screen.id}`);
      // Injected through the DevTools protocol (the page's CSP forbids inline scripts, rightly).
      await page.evaluate(axeSource);
      const violations = await page.evaluate(async () => {
        const g = globalThis as unknown as {
          document: unknown;
          axe: {
            run: (
              ctx: unknown,
              o: object,
            ) => Promise<{
              violations: Array<{ id: string; impact: string | null; nodes: Array<{ target: unknown }> }>;
            }>;
          };
        };
        const r = await g.axe.run(g.document, { resultTypes: ['violations'] });
        return r.violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          targets: v.nodes
            .slice(0, 3)
            .map(
              (n) =>
                JSON.stringify(n.target) +
                String((n as { html?: string }).html ?? '').slice(0, 200) +
                String((n as { failureSummary?: string }).failureSummary ?? ''),
            ),
        }));
      });
      for (const v of violations.filter((x) => x.impact === 'serious' || x.impact === 'critical'))
        findings.push(`${screen.id}: ${v.id} (${v.impact}) at ${v.targets.join(', ')}`);
    }
    expect(findings).toEqual([]);
  });

  it('made no remote request and logged no error', () => {
    expect(session.problems).toEqual([]);
  });

  it('saves a credential to the OS keychain; the secret never comes back over IPC nor lands in the data dir', async () => {
    const { page } = session;
    const identity = generateIdentity();
    const secret = identityFileText(identity.identity);
    const secretLine = secret.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
    await page.getByTestId('nav-credentials').click();
    await page.getByTestId('cred-kind').selectOption('age');
    await page.getByTestId('cred-id').fill('dr-laptop');
    await page.getByTestId('cred-secret').fill(secret);
    await page.getByTestId('cred-save').click();
    await page.getByTestId('cred-row').waitFor();
    await page.getByTestId('cred-test').click();
    await page.locator('[data-testid="cred-test-result"] .status').waitFor();
    await expect(page.getByTestId('cred-test-result').textContent()).resolves.toContain(
      identity.identity.recipient.keyId,
    );
    await session.screenshot('credentials');
    // In the real keychain (gnome-keyring over D-Bus), under the reference.
    await expect(engine.credentials.get('age:dr-laptop')).resolves.toBe(secret);
    // It went in once (the save); nothing the engine sent out holds it.
    expect(session.traffic.filter((t) => t.direction === 'in' && t.frame.includes(secretLine))).toHaveLength(1);
    expect(session.traffic.filter((t) => t.direction === 'out' && t.frame.includes(secretLine))).toEqual([]);
    const grep = spawnSync('grep', ['-rl', secretLine, home.path], { encoding: 'utf8' });
    expect(grep.status).toBe(1); // 1: no file holds it
    expect(grep.stdout).toBe('');
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
