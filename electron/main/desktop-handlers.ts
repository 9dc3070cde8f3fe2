import { writeFile } from 'node:fs/promises';
import { BrowserWindow, dialog } from 'electron';
import type { Handlers } from '../engine/api/handlers';
import { LifeboatError } from '../engine/errors';

/**
 * The two contract entries only the desktop app can serve: the OS folder picker and printing a
 * report to PDF. The engine's versions answer `available: false` (the browser bridge), and the
 * renderer then offers the path field and the HTML download instead.
 */
export function desktopHandlers(
  base: Handlers,
  owner: () => BrowserWindow | null,
): Pick<Handlers, 'pickFolder' | 'exportReportPdf'> {
  return {
    pickFolder: async ({ title }) => {
      const win = owner();
      const options = {
        title: title ?? 'Choose a backup medium (a folder)',
        properties: ['openDirectory' as const, 'showHiddenFiles' as const],
      };
      const r = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
      return { available: true, path: r.canceled ? null : (r.filePaths[0] ?? null) };
    },

    exportReportPdf: async ({ id }) => {
      const { html } = await base.getRunReport({ id });
      const win = owner();
      const options = {
        title: 'Save the recovery report as PDF',
        defaultPath: `lifeboat-report-${id}.pdf`,
        filters: [{ name: 'PDF', extensions: ['pdf'] }],
      };
      const target = win ? await dialog.showSaveDialog(win, options) : await dialog.showSaveDialog(options);
      if (target.canceled || !target.filePath) return { available: true, path: null };
      // The report is self-contained HTML without scripts: render it in a hidden, script-less, sandboxed window.
      const printer = new BrowserWindow({
        show: false,
        webPreferences: {
          sandbox: true,
          contextIsolation: true,
          nodeIntegration: false,
          javascript: false,
          disableBlinkFeatures: 'Auxclick',
        },
      });
      try {
        printer.webContents.on('will-navigate', (e) => e.preventDefault());
        await printer.loadURL(`data:text/html;charset=utf-8,${encodeURIComponent(html)}`);
        const pdf = await printer.webContents.printToPDF({ printBackground: true, pageSize: 'A4' });
        await writeFile(target.filePath, pdf, { mode: 0o600 });
      } catch (e) {
        throw new LifeboatError(
          'STORAGE_ERROR',
          `The PDF could not be written to ${target.filePath}: ${e instanceof Error ? e.message : String(e)}`,
          { hint: 'Choose another folder, or export the HTML instead.' },
        );
      } finally {
        printer.destroy();
      }
      return { available: true, path: target.filePath };
    },
  };
}
