import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { _electron as electron, type ElectronApplication } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp';

// Smoke test of the desktop app in the real Electron (`npm run test:electron`, connected machines
// only). From the checkout: the window opens on better-sqlite3's Electron build, the API answers,
// the CSP is in the page, navigation away is refused, and a start-up failure is reported instead
// of a silent exit. With LIFEBOAT_PACKAGED_APP=<unpacked package dir> (npm run dist:dir): the
// packaged app starts and stays up, and its `lifeboat` command runs in Electron's Node mode.
// Playwright attaches through --inspect, which the package's fuses turn off: the packaged app is
// started as a plain process.
const ROOT = join(__dirname, '..', '..');
const PACKAGED = process.env.LIFEBOAT_PACKAGED_APP ? resolve(process.env.LIFEBOAT_PACKAGED_APP) : null;
const electronPath = ((): string => {
  try {
    return createRequire(import.meta.url)('electron') as string;
  } catch (e) {
    throw new Error(
      `Electron's binary is not installed (ELECTRON_SKIP_BINARY_DOWNLOAD, or an offline machine): npm run test:electron needs a connected machine and a plain npm ci.`,
      { cause: e },
    );
  }
})();

let dir: ReturnType<typeof tempDir>;
beforeAll(() => {
  dir = tempDir('lifeboat-electron-');
});
afterAll(() => dir?.cleanup());

/** The page's globals these tests touch (the test files are typed without the DOM library). */
interface PageGlobals {
  document: { querySelector: (selector: string) => { getAttribute: (name: string) => string | null } | null };
  location: { href: string };
}

function env(home: string): Record<string, string> {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && k !== 'ELECTRON_RUN_AS_NODE' && k !== 'ELECTRON_RENDERER_URL') e[k] = v;
  e.LIFEBOAT_HOME = home;
  return e;
}

describe.runIf(!PACKAGED)('the app from the checkout', () => {
  let app: ElectronApplication;
  beforeAll(async () => {
    app = await electron.launch({
      executablePath: electronPath,
      args: [ROOT],
      cwd: ROOT,
      env: env(join(dir.path, 'home')),
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('opens the window, whose API answers from the engine (catalog open on the Electron build)', async () => {
    const win = await app.firstWindow();
    await win.waitForLoadState('domcontentloaded');
    expect(await win.title()).toBe('Lifeboat');
    const info = await win.evaluate(async () => {
      const api = (
        globalThis as unknown as {
          lifeboat: {
            getAppInfo: (
              i: object,
            ) => Promise<{ ok: boolean; value?: { frontDoor: string; electronVersion: string | null } }>;
          };
        }
      ).lifeboat;
      return api.getAppInfo({});
    });
    expect(info.ok).toBe(true);
    expect(info.value?.frontDoor).toBe('app');
    expect(info.value?.electronVersion).toBeTruthy();
    expect(await app.evaluate(({ app: a }) => a.isPackaged)).toBe(false);
  });

  it('carries the CSP and refuses to navigate away', async () => {
    const win = await app.firstWindow();
    const csp = await win.evaluate(
      () =>
        (globalThis as unknown as PageGlobals).document
          .querySelector('meta[http-equiv="Content-Security-Policy"]')
          ?.getAttribute('content') ?? '',
    );
    expect(csp).toContain("script-src 'self'");
    const before = win.url();
    await win.evaluate(() => {
      (globalThis as unknown as PageGlobals).location.href = 'https://example.invalid/';
    });
    await new Promise((r) => setTimeout(r, 1000));
    expect(win.url()).toBe(before);
  });
});

describe.runIf(!PACKAGED)('a start-up failure', () => {
  it('is reported (dialog, stderr and the fallback log), not a silent exit', async () => {
    const blocker = join(dir.path, 'a-file');
    writeFileSync(blocker, 'x');
    const app = await electron.launch({
      executablePath: electronPath,
      args: [ROOT],
      cwd: ROOT,
      env: env(join(blocker, 'home')),
    });
    let stderr = '';
    app.process().stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    await new Promise((r) => setTimeout(r, 5000));
    // The dialog waits for the operator: the process is still there, and said why on stderr.
    expect(app.process().exitCode).toBeNull();
    expect(stderr).toContain('Lifeboat could not start');
    expect(stderr).toContain(join(blocker, 'home'));
    await app.close();
  });
});

describe.runIf(PACKAGED !== null)('the package', () => {
  const exe = (): string =>
    process.platform === 'darwin'
      ? join(PACKAGED!, 'Lifeboat.app', 'Contents', 'MacOS', 'Lifeboat')
      : join(PACKAGED!, 'lifeboat');
  const resources = (): string =>
    process.platform === 'darwin'
      ? join(PACKAGED!, 'Lifeboat.app', 'Contents', 'Resources')
      : join(PACKAGED!, 'resources');

  it('its lifeboat command runs the bundled CLI in Electron’s Node mode, with the Electron build of better-sqlite3', () => {
    const home = join(dir.path, 'cli-home');
    const wrapper = join(resources(), 'bin', process.platform === 'win32' ? 'lifeboat.cmd' : 'lifeboat');
    const v = spawnSync(wrapper, ['--version'], {
      encoding: 'utf8',
      env: env(home),
      shell: process.platform === 'win32',
      timeout: 60_000,
    });
    expect(v.status, v.stderr).toBe(0);
    const d = spawnSync(wrapper, ['doctor', '--json'], {
      encoding: 'utf8',
      env: env(home),
      shell: process.platform === 'win32',
      timeout: 60_000,
    });
    expect((JSON.parse(d.stdout) as { catalogIntegrity: string }).catalogIntegrity, d.stderr).toBe('ok');
  });

  it('the app starts and stays up, its log without an error', async () => {
    const home = join(dir.path, 'app-home');
    const child = spawn(exe(), [], { env: env(home), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    await new Promise((r) => setTimeout(r, 8000));
    const alive = child.exitCode === null;
    child.kill();
    expect(alive, stderr).toBe(true);
    const log = join(home, 'logs', 'lifeboat.log');
    expect(existsSync(log)).toBe(true);
    expect(readFileSync(log, 'utf8')).not.toContain('"level":"error"');
    expect(stderr).not.toContain('Lifeboat could not start');
  });
});
