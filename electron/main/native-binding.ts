import { join } from 'node:path';
import { LifeboatError } from '../engine/errors';

/**
 * Which better-sqlite3 binary a runtime loads. better-sqlite3 is a V8-ABI module: one build
 * serves plain Node (the CLI on servers, the tests) and another Electron. The project's
 * node_modules keeps the Node build, always; the Electron build lives apart, in
 * node_modules/.lifeboat-electron/, put there by `npm run native:electron` (packaging/electron-native.mjs,
 * which computes the same path), and is handed to better-sqlite3 through its `nativeBinding`
 * option. A package holds only the Electron build, placed by the packaging hook where
 * better-sqlite3 looks by default, so the packaged app and the packaged CLI need no option.
 * No Electron import here: the choice is tested under Node with the runtime facts injected.
 */
export interface RuntimeFacts {
  /** process.versions.electron: null under plain Node (and ELECTRON_RUN_AS_NODE still sets it). */
  electron: string | null;
  /** app.isPackaged (false under plain Node). */
  packaged: boolean;
  /** The project (or app) root: app.getAppPath(). */
  appRoot: string;
  platform: string;
  arch: string;
}

export type SqliteBinding =
  | { kind: 'default'; why: string }
  | { kind: 'file'; path: string }
  | { kind: 'missing'; path: string; error: LifeboatError };

/** Where the Electron build of better-sqlite3 is kept in a checkout (must match packaging/electron-native.mjs). */
export function electronSqlitePath(
  appRoot: string,
  sqliteVersion: string,
  electronVersion: string,
  platform: string,
  arch: string,
): string {
  return join(
    appRoot,
    'node_modules',
    '.lifeboat-electron',
    `better-sqlite3-${sqliteVersion}-electron-${electronVersion}-${platform}-${arch}.node`,
  );
}

export function chooseSqliteBinding(
  facts: RuntimeFacts,
  io: { exists: (path: string) => boolean; sqliteVersion: () => string },
): SqliteBinding {
  if (!facts.electron) return { kind: 'default', why: 'plain Node: the build npm ci made' };
  if (facts.packaged) return { kind: 'default', why: 'packaged: the package holds the Electron build' };
  const path = electronSqlitePath(facts.appRoot, io.sqliteVersion(), facts.electron, facts.platform, facts.arch);
  if (io.exists(path)) return { kind: 'file', path };
  return {
    kind: 'missing',
    path,
    error: new LifeboatError(
      'PRECONDITION_FAILED',
      `better-sqlite3 has no build for Electron ${facts.electron} (${facts.platform}-${facts.arch}) in this checkout.`,
      {
        hint: 'Run `npm run native:electron` (it downloads or builds one, and leaves the Node build alone), then start again. `npm start` and `npm run dev` run it first.',
      },
    ),
  };
}

/** True for the loader's refusal of a native module built for another runtime, platform or arch (also when wrapped as a cause). */
export function isWrongAbiError(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur && depth < 4; cur = (cur as { cause?: unknown }).cause, depth++) {
    if ((cur as { code?: unknown }).code === 'ERR_DLOPEN_FAILED') return true;
    const message = cur instanceof Error ? cur.message : typeof cur === 'string' ? cur : '';
    if (
      /NODE_MODULE_VERSION|was compiled against a different Node\.js version|invalid ELF header|not a valid Win32 application|incompatible architecture/i.test(
        message,
      )
    )
      return true;
  }
  return false;
}
