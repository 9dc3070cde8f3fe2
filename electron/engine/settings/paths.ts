import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const APP_DIR_NAME = 'Lifeboat';

export interface PathEnv {
  env: Record<string, string | undefined>;
  platform: NodeJS.Platform;
  home: string;
}

/**
 * Where Lifeboat keeps its catalog, settings, logs and run state. `LIFEBOAT_HOME` overrides
 * the OS application-data directory, so tests, scripts and demos can isolate everything.
 * The defaults match Electron's `app.getPath('userData')` for an app named Lifeboat, so the
 * CLI and the app share one catalog on a laptop.
 */
export function resolveDataDir(p: PathEnv = { env: process.env, platform: process.platform, home: homedir() }): string {
  const override = p.env.LIFEBOAT_HOME;
  if (override && override.trim() !== '') return resolve(override);
  if (p.platform === 'darwin') return join(p.home, 'Library', 'Application Support', APP_DIR_NAME);
  if (p.platform === 'win32') return join(p.env.APPDATA ?? join(p.home, 'AppData', 'Roaming'), APP_DIR_NAME);
  // Linux and the other Unixes: the XDG base directory.
  return join(p.env.XDG_CONFIG_HOME || join(p.home, '.config'), APP_DIR_NAME);
}

export interface DataPaths {
  dataDir: string;
  catalog: string;
  settings: string;
  logs: string;
  runs: string;
}

export function dataPaths(dataDir: string): DataPaths {
  return {
    dataDir,
    catalog: join(dataDir, 'catalog.sqlite'),
    settings: join(dataDir, 'settings.json'),
    logs: join(dataDir, 'logs'),
    runs: join(dataDir, 'runs'),
  };
}
