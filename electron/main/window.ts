import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BrowserWindow, session, type WebFrameMain } from 'electron';

/**
 * Content Security Policy for every response the window loads: nothing remote, no inline
 * scripts, no eval. The renderer bundles its fonts and icons, so 'self' is enough.
 */
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function rendererEntry(): { url: string | null; file: string } {
  return {
    url: process.env.ELECTRON_RENDERER_URL ?? null,
    file: join(__dirname, '../renderer/index.html'),
  };
}

/** True for the main frame of a window showing our own renderer (file:// build or dev server). */
export function isTrustedFrame(frame: WebFrameMain | null): boolean {
  if (!frame || frame.parent !== null) return false;
  const entry = rendererEntry();
  try {
    const url = new URL(frame.url);
    if (entry.url) return url.origin === new URL(entry.url).origin;
    return url.protocol === 'file:' && url.pathname === pathToFileURL(entry.file).pathname;
  } catch {
    return false;
  }
}

/** Session-wide hardening: CSP headers, no permissions, no downloads of remote content. */
export function hardenSession(): void {
  const ses = session.defaultSession;
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
}

export function createMainWindow(): BrowserWindow {
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
  // No navigation away from the app.
  win.webContents.on('will-navigate', (event, url) => {
    const entry = rendererEntry();
    const allowed = entry.url ? url.startsWith(entry.url) : url.startsWith(pathToFileURL(entry.file).href);
    if (!allowed) event.preventDefault();
  });
  win.webContents.on('will-attach-webview', (event) => event.preventDefault());

  const entry = rendererEntry();
  if (entry.url) void win.loadURL(entry.url);
  else void win.loadFile(entry.file);
  return win;
}
