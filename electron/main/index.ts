import { app, clipboard, dialog, type BrowserWindow } from 'electron';
import { appendFileSync, closeSync, createWriteStream, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHandlers } from '../engine/api/handlers';
import { KeytarCredentialStore } from '../engine/credentials/credential-store';
import { Engine } from '../engine/engine';
import { createLogger, jsonLinesSink } from '../engine/log/logger';
import { resolveDataDir } from '../engine/settings/paths';
import { LIFEBOAT_VERSION } from '../engine/version';
import { forwardJobEvents, registerIpc } from '../ipc/register';
import { desktopHandlers } from './desktop-handlers';
import { chooseSqliteBinding } from './native-binding';
import { startApp, type StartupFacts, type StartupFailure } from './startup';
import { createMainWindow, hardenSession, isTrustedFrame } from './window';

/** LIFEBOAT_HOME (or --demo-dir) wins; otherwise Electron's userData for this app. */
function dataDir(): string {
  // `lifeboat demo --keep` leaves its data dir in <demo dir>/home.
  const i = process.argv.findIndex((a) => a === '--demo-dir' || a.startsWith('--demo-dir='));
  const demo =
    i < 0
      ? null
      : process.argv[i]!.includes('=')
        ? process.argv[i]!.slice('--demo-dir='.length)
        : (process.argv[i + 1] ?? null);
  if (demo) return join(demo, 'home');
  if (process.env.LIFEBOAT_HOME) return resolveDataDir();
  return app.getPath('userData');
}

/** The better-sqlite3 build for this runtime (native-binding.ts); a checkout without one fails start-up with the way out. */
function sqliteBinding(): string | undefined {
  const appRoot = app.getAppPath();
  const choice = chooseSqliteBinding(
    {
      electron: process.versions.electron ?? null,
      packaged: app.isPackaged,
      appRoot,
      platform: process.platform,
      arch: process.arch,
    },
    {
      exists: existsSync,
      sqliteVersion: () =>
        (
          JSON.parse(readFileSync(join(appRoot, 'node_modules', 'better-sqlite3', 'package.json'), 'utf8')) as {
            version: string;
          }
        ).version,
    },
  );
  if (choice.kind === 'missing') throw choice.error;
  return choice.kind === 'file' ? choice.path : undefined;
}

/** A native dialog: the message, the hint, where the data and the log are, and "Copy details" until dismissed. */
async function showFailure(f: StartupFailure): Promise<void> {
  const detail = `${f.hint}\n\nData directory: ${f.dataDir ?? '(not determined)'}\nLog: ${f.logFile ?? '(none)'}`;
  let copied = false;
  for (;;) {
    const r = await dialog.showMessageBox({
      type: 'error',
      title: f.title,
      message: f.message,
      detail,
      buttons: [copied ? 'Copied — copy again' : 'Copy details', 'Quit'],
      defaultId: 1,
      cancelId: 1,
      noLink: true,
    });
    if (r.response !== 0) return;
    clipboard.writeText(f.details);
    copied = true;
  }
}

/** Before the data directory's log exists: stderr and a file in the temp dir. */
function fallbackLog(text: string): string | null {
  process.stderr.write(`${text}\n`);
  const file = join(tmpdir(), 'lifeboat-startup.log');
  try {
    appendFileSync(file, `${new Date().toISOString()}\n${text}\n\n`, { mode: 0o600 });
    return file;
  } catch {
    return null;
  }
}

const facts: StartupFacts = {
  packaged: app.isPackaged,
  versions: {
    lifeboat: LIFEBOAT_VERSION,
    electron: process.versions.electron ?? null,
    node: process.versions.node,
    platform: process.platform,
    arch: process.arch,
  },
};

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

  void app
    .whenReady()
    .then(() =>
      startApp<Engine>({
        facts,
        dataDir,
        openLog: (dir) => {
          mkdirSync(join(dir, 'logs'), { recursive: true });
          const logFile = join(dir, 'logs', 'lifeboat.log');
          // Opened synchronously first: an unwritable directory fails here, visibly, not later as a stream error.
          closeSync(openSync(logFile, 'a', 0o600));
          const logStream = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
          logStream.on('error', (e) =>
            process.stderr.write(`lifeboat: the log ${logFile} cannot be written: ${e.message}\n`),
          );
          return {
            logger: createLogger(
              jsonLinesSink((line) => logStream.write(line)),
              { base: { front: 'app' } },
            ),
            logFile,
          };
        },
        openEngine: (dir, logger) =>
          new Engine({
            dataDir: dir,
            credentials: new KeytarCredentialStore(),
            frontDoor: 'app',
            logger,
            electronVersion: process.versions.electron ?? null,
            sqliteNativeBinding: sqliteBinding(),
          }),
        openWindow: async (opened) => {
          engine = opened;
          hardenSession();
          const handlers = createHandlers(opened);
          registerIpc(opened, { ...handlers, ...desktopHandlers(handlers, () => mainWindow) }, isTrustedFrame);
          mainWindow = await createMainWindow();
          forwardJobEvents(opened, mainWindow.webContents);
          mainWindow.on('closed', () => {
            mainWindow = null;
          });
        },
        closeEngine: async (opened) => {
          engine = null;
          await opened.close();
        },
        showFailure,
        fallbackLog,
      }),
    )
    .then((result) => {
      if (!result.ok) app.exit(1);
    })
    .catch((e: unknown) => {
      // Only a bug in the failure path itself lands here: still say something before leaving.
      dialog.showErrorBox('Lifeboat could not start', e instanceof Error ? e.message : String(e));
      app.exit(1);
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
