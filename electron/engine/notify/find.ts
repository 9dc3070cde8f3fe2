import { existsSync } from 'node:fs';
import { join } from 'node:path';

/* Kept apart from config.ts (yaml, zod): a command with no config to read, such as a wal-push per WAL segment, loads only this. */

export interface NotifyConfigSource {
  path: string;
  /** How it was chosen: the --notify-config flag, LIFEBOAT_NOTIFY_CONFIG, or the default file in the data dir. */
  origin: 'flag' | 'env' | 'default';
}

export const NOTIFY_CONFIG_FILE = 'notify.yaml';

/**
 * Which config applies: `--notify-config F`, else LIFEBOAT_NOTIFY_CONFIG, else `<data dir>/notify.yaml`
 * when it exists. A file named by the flag or the variable must exist; no file at all means no notifications.
 */
export function findNotifyConfig(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  dataDir: string,
): NotifyConfigSource | null {
  if (flag !== undefined) return { path: flag, origin: 'flag' };
  const fromEnv = env.LIFEBOAT_NOTIFY_CONFIG;
  if (fromEnv) return { path: fromEnv, origin: 'env' };
  const fallback = join(dataDir, NOTIFY_CONFIG_FILE);
  return existsSync(fallback) ? { path: fallback, origin: 'default' } : null;
}
