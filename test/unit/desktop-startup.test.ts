import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { Engine } from '../../electron/engine/engine';
import { LifeboatError } from '../../electron/engine/errors';
import { createLogger, type LogRecord } from '../../electron/engine/log/logger';
import { chooseSqliteBinding } from '../../electron/main/native-binding';
import { startApp, type StartupFailure, type StartupSteps } from '../../electron/main/startup';
import { tempDir } from '../helpers/temp';

// The desktop app's start-up (electron/main/startup.ts) with a real Engine on a real data
// directory: each way it fails ends in what the operator sees, and never in silence.
const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

interface Seen {
  shown: StartupFailure[];
  logged: LogRecord[];
  fallback: string[];
  windows: number;
  closed: number;
}

function steps(
  dataDir: string,
  over: Partial<StartupSteps<Engine>> = {},
  packaged = false,
): { steps: StartupSteps<Engine>; seen: Seen } {
  const seen: Seen = { shown: [], logged: [], fallback: [], windows: 0, closed: 0 };
  const s: StartupSteps<Engine> = {
    facts: {
      packaged,
      versions: { lifeboat: '0.1.0', electron: '41.7.1', node: '24.0.0', platform: 'linux', arch: 'x64' },
    },
    dataDir: () => dataDir,
    openLog: (dir) => {
      mkdirSync(join(dir, 'logs'), { recursive: true });
      const logFile = join(dir, 'logs', 'lifeboat.log');
      writeFileSync(logFile, '', { flag: 'a' });
      return { logger: createLogger((r) => seen.logged.push(r)), logFile };
    },
    openEngine: (dir, logger) =>
      new Engine({ dataDir: dir, credentials: new MemoryCredentialStore(), frontDoor: 'app', logger }),
    openWindow: () => {
      seen.windows += 1;
    },
    closeEngine: async (engine) => {
      seen.closed += 1;
      await engine.close();
    },
    showFailure: async (f) => {
      seen.shown.push(f);
    },
    fallbackLog: (text) => {
      seen.fallback.push(text);
      return '/tmp/lifeboat-startup.log';
    },
    ...over,
  };
  return { steps: s, seen };
}

describe('startApp', () => {
  it('opens the engine and the window on a fresh data directory', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const { steps: s, seen } = steps(join(t.path, 'home'));
    const r = await startApp(s);
    expect(r.ok).toBe(true);
    if (r.ok) await r.engine.close();
    expect(seen.windows).toBe(1);
    expect(seen.shown).toEqual([]);
    expect(existsSync(join(t.path, 'home', 'catalog.db')) || existsSync(join(t.path, 'home', 'logs'))).toBe(true);
  });

  it('a corrupt catalog: the engine’s message, its hint and the data directory are shown and logged', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const home = join(t.path, 'home');
    const probe = new Engine({ dataDir: home, credentials: new MemoryCredentialStore(), frontDoor: 'app' });
    const catalogPath = probe.paths.catalog;
    await probe.close();
    // Garbage where the catalog was: SQLite refuses it at open.
    writeFileSync(catalogPath, Buffer.alloc(8192, 0x41));
    for (const extra of ['-wal', '-shm', '.clean'])
      if (existsSync(catalogPath + extra)) writeFileSync(catalogPath + extra, '');
    const { steps: s, seen } = steps(home);
    const r = await startApp(s);
    expect(r.ok).toBe(false);
    expect(seen.windows).toBe(0);
    expect(seen.shown).toHaveLength(1);
    const f = seen.shown[0]!;
    expect(f.code).toBe('CATALOG_CORRUPT');
    expect(f.hint).toContain('scan --rebuild');
    expect(f.dataDir).toBe(home);
    expect(f.logFile).toBe(join(home, 'logs', 'lifeboat.log'));
    expect(f.details).toContain(`Data directory: ${home}`);
    expect(f.details).toContain('CATALOG_CORRUPT');
    expect(f.details).toContain('Electron 41.7.1');
    expect(seen.logged.some((l) => l.level === 'error' && l.code === 'CATALOG_CORRUPT')).toBe(true);
    expect(seen.fallback).toEqual([]);
  });

  it('a data directory that cannot be created: shown, and logged to the fallback', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    // A file where a directory must go (permissions would not stop root, which runs these tests).
    const blocker = join(t.path, 'file');
    writeFileSync(blocker, 'x');
    const home = join(blocker, 'home');
    const { steps: s, seen } = steps(home);
    const r = await startApp(s);
    expect(r.ok).toBe(false);
    const f = seen.shown[0]!;
    expect(f.dataDir).toBe(home);
    expect(f.message.length).toBeGreaterThan(0);
    expect(f.code).not.toBe('INTERNAL');
    expect(f.message).toContain('cannot be created or written');
    expect(f.hint).toContain('LIFEBOAT_HOME');
    expect(seen.fallback).toHaveLength(1);
    expect(seen.fallback[0]).toContain(home);
    expect(f.logFile).toBe('/tmp/lifeboat-startup.log');
  });

  it('a better-sqlite3 build for another runtime: says how to get the right one (checkout) or to reinstall (package)', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const abi = new Error(
      "The module '/x/better_sqlite3.node'\nwas compiled against a different Node.js version using\nNODE_MODULE_VERSION 115. This version of Node.js requires\nNODE_MODULE_VERSION 145.",
    );
    const fail = (): Engine => {
      throw abi;
    };
    const dev = steps(join(t.path, 'a'), { openEngine: fail });
    await startApp(dev.steps);
    expect(dev.seen.shown[0]!.code).toBe('PRECONDITION_FAILED');
    expect(dev.seen.shown[0]!.hint).toContain('npm run native:electron');
    expect(dev.seen.shown[0]!.message).toContain('NODE_MODULE_VERSION 115');
    expect(dev.seen.shown[0]!.details).toContain('NODE_MODULE_VERSION 115');

    const pkg = steps(join(t.path, 'b'), { openEngine: fail }, true);
    await startApp(pkg.steps);
    expect(pkg.seen.shown[0]!.hint).toContain('reinstall');
  });

  it('a better-sqlite3 binary the loader refuses, through the real engine: the native-module message, not "a bug"', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const bogus = join(t.path, 'better_sqlite3.node');
    writeFileSync(bogus, 'not a shared object, as a build for another platform would be');
    const { steps: s, seen } = steps(join(t.path, 'home'), {
      openEngine: (dir, logger) =>
        new Engine({
          dataDir: dir,
          credentials: new MemoryCredentialStore(),
          frontDoor: 'app',
          logger,
          sqliteNativeBinding: bogus,
        }),
    });
    const r = await startApp(s);
    expect(r.ok).toBe(false);
    const f = seen.shown[0]!;
    expect(f.code).toBe('PRECONDITION_FAILED');
    expect(f.message).toContain('A native module could not be loaded');
    expect(f.message).toContain(bogus);
    expect(f.hint).toContain('npm run native:electron');
    expect(f.details).toContain(bogus);
  });

  it('a checkout without the Electron build: the binding choice fails start-up with its way out', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const { steps: s, seen } = steps(join(t.path, 'home'), {
      openEngine: (dir, logger) => {
        const choice = chooseSqliteBinding(
          { electron: '41.7.1', packaged: false, appRoot: t.path, platform: 'linux', arch: 'x64' },
          { exists: existsSync, sqliteVersion: () => '12.11.1' },
        );
        if (choice.kind === 'missing') throw choice.error;
        return new Engine({ dataDir: dir, credentials: new MemoryCredentialStore(), frontDoor: 'app', logger });
      },
    });
    const r = await startApp(s);
    expect(r.ok).toBe(false);
    expect(seen.shown[0]!.message).toContain('Electron 41.7.1');
    expect(seen.shown[0]!.hint).toContain('npm run native:electron');
  });

  it('a window that cannot load: the engine is closed again and the failure shown', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const { steps: s, seen } = steps(join(t.path, 'home'), {
      openWindow: async () => {
        throw new Error(
          'ERR_FILE_NOT_FOUND (-6) loading file:///opt/Lifeboat/resources/app.asar/out/renderer/index.html',
        );
      },
    });
    const r = await startApp(s);
    expect(r.ok).toBe(false);
    expect(seen.closed).toBe(1);
    expect(seen.shown[0]!.message).toContain('ERR_FILE_NOT_FOUND');
    // The catalog was closed cleanly: it opens again.
    const again = new Engine({
      dataDir: join(t.path, 'home'),
      credentials: new MemoryCredentialStore(),
      frontDoor: 'app',
    });
    await again.close();
  });

  it('secrets in an error never reach the dialog or the copied details', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const { steps: s, seen } = steps(join(t.path, 'home'), {
      openEngine: () => {
        throw new LifeboatError(
          'CREDENTIAL_UNAVAILABLE',
          'keychain refused postgres://admin:hunter2secret@db.example/prod',
          { hint: 'Unlock the keychain.' },
        );
      },
    });
    await startApp(s);
    const f = seen.shown[0]!;
    expect(f.code).toBe('CREDENTIAL_UNAVAILABLE');
    expect(f.hint).toBe('Unlock the keychain.');
    expect(`${f.message}\n${f.details}`).not.toContain('hunter2secret');
    expect(readFileSync(join(t.path, 'home', 'logs', 'lifeboat.log'), 'utf8')).toBe('');
  });
});
