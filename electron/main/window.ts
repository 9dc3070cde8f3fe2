import { join } from 'node:path';
import { BrowserWindow, app, session, type WebFrameMain } from 'electron';
import { CSP } from '../../shared/csp';
import { isTrustedFrameAt, mayNavigate, rendererEntry as entryFor, type RendererEntry } from './trust';

export { CSP };

let entry: RendererEntry | null = null;

/** Our renderer: the dev server only in an unpackaged run (trust.ts says why), else the built page. */
export function rendererEntry(): RendererEntry {
  entry ??= entryFor({
    packaged: app.isPackaged,
    env: process.env,
    rendererFile: join(__dirname, '../renderer/index.html'),
  });
  return entry;
}

/** True for the main frame of a window showing our own renderer (same origin as the dev server, or the exact built file). */
export function isTrustedFrame(frame: WebFrameMain | null): boolean {
  return isTrustedFrameAt(rendererEntry(), frame);
}

/**
 * Session-wide hardening: the CSP header (pages from the dev server; the built page carries the
 * same policy in its meta tag), no permissions.
 */
export function hardenSession(): void {
  const ses = session.defaultSession;
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
}

/**
 * Opens the main window; resolves once its page has loaded, and rejects when it cannot load
 * (a missing build, a dev server that is down), so start-up reports it instead of showing a blank window.
 */
export async function createMainWindow(): Promise<BrowserWindow> {
  const win = new BrowserWindow({
    width: 1280,
    height: 820,
    minWidth: 960,
    minHeight: 600,
    show: false,
    title: 'Lifeboat',
    backgroundColor: '#0f1720',
    webPreferences: {
      preload: join(__dirname, '../preload/index.js'),
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
      // Middle-click would open links in new windows: there are none to open.
      disableBlinkFeatures: 'Auxclick',
    },
  });
  win.once('ready-to-show', () => win.show());

  // No new windows, and nothing handed to the OS browser: the console works offline and has no outside links.
  win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  // No navigation (nor redirect) away from our own renderer: origins compared, file pages by exact path.
  const guard = (event: { preventDefault: () => void }, url: string): void => {
    if (!mayNavigate(rendererEntry(), url)) event.preventDefault();
  };
  win.webContents.on('will-navigate', guard);
  win.webContents.on('will-redirect', guard);
  win.webContents.on('will-attach-webview', (event) => event.preventDefault());

  const target = rendererEntry();
  try {
    if (target.devUrl) await win.loadURL(target.devUrl);
    else await win.loadFile(target.file);
  } catch (e) {
    // ERR_ABORTED: the first load was superseded by a navigation of the page itself (the guard keeps that within our renderer).
    if (e instanceof Error && /ERR_ABORTED/.test(e.message)) return win;
    win.destroy();
    throw e;
  }
  return win;
}
