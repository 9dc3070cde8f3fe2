import { app, type BrowserWindow } from 'electron';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createHandlers } from '../engine/api/handlers';
import { KeytarCredentialStore } from '../engine/credentials/credential-store';
import { Engine } from '../engine/engine';
import { createLogger, jsonLinesSink } from '../engine/log/logger';
import { resolveDataDir } from '../engine/settings/paths';
import { forwardJobEvents, registerIpc } from '../ipc/register';
import { desktopHandlers } from './desktop-handlers';
import { createMainWindow, hardenSession, isTrustedFrame } from './window';

/** LIFEBOAT_HOME (or --demo-dir) wins; otherwise Electron's userData for this app. */
function dataDir(): string {
  // `lifeboat demo --keep` leaves its data dir in <demo dir>/home.
  const i = process.argv.findIndex((a) => a === '--demo-dir' || a.startsWith('--demo-dir='));
  const demo = i < 0 ? null : process.argv[i]!.includes('=') ? process.argv[i]!.slice('--demo-dir='.length) : (process.argv[i + 1] ?? null);
  if (demo) return join(demo, 'home');
  if (process.env.LIFEBOAT_HOME) return resolveDataDir();
  return app.getPath('userData');
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.setName('Lifeboat');
  let engine: Engine | null = null;
  let mainWindow: BrowserWindow | null = null;

  app.on('second-instance', () => {
    if (mainWindow) {
      if (mainWindow.isMinimized()) mainWindow.restore();
      mainWindow.focus();
    }
  });

  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-attach-webview', (e) => e.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });

  void app.whenReady().then(() => {
    const dir = dataDir();
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const logStream = createWriteStream(join(dir, 'logs', 'lifeboat.log'), { flags: 'a', mode: 0o600 });
    const logger = createLogger(jsonLinesSink((line) => logStream.write(line)), { base: { front: 'app' } });
    engine = new Engine({
      dataDir: dir,
      credentials: new KeytarCredentialStore(),
      frontDoor: 'app',
      logger,
      electronVersion: process.versions.electron ?? null,
    });
    hardenSession();
    const handlers = createHandlers(engine);
    registerIpc(engine, { ...handlers, ...desktopHandlers(handlers, () => mainWindow) }, isTrustedFrame);
    mainWindow = createMainWindow();
    forwardJobEvents(engine, mainWindow.webContents);
    mainWindow.on('closed', () => {
      mainWindow = null;
    });
  });

  app.on('window-all-closed', () => {
    app.quit();
  });

  app.on('will-quit', (event) => {
    if (engine) {
      const closing = engine;
      engine = null;
      event.preventDefault();
      void closing.close().finally(() => app.quit());
    }
  });
}
