// Types for packaging/electron-native.mjs (imported by the unit tests).
export function electronSqlitePath(
  root: string,
  sqliteVersion: string,
  electronVersion: string,
  platform: string,
  arch: string,
): string;
export function installedVersions(root?: string): { sqlite: string; electron: string };
export function ensureElectronSqlite(options?: {
  root?: string;
  platform?: string;
  arch?: string;
  from?: string | null;
  log?: (message: string) => void;
}): string;
