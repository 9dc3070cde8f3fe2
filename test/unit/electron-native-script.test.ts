import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { electronSqlitePath as mainPath } from '../../electron/main/native-binding';
import { ensureElectronSqlite } from '../../packaging/electron-native.mjs';
import { tempDir } from '../helpers/temp';

// packaging/electron-native.mjs (npm run native:electron) on a hand-made checkout: what it
// keeps, where the main process looks for it, and that the Node build is never touched. Its
// download and source-build paths need the network: test:electron covers them on a connected machine.
const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function checkout(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  mkdirSync(join(t.path, 'node_modules', 'better-sqlite3', 'build', 'Release'), { recursive: true });
  mkdirSync(join(t.path, 'node_modules', 'electron'), { recursive: true });
  writeFileSync(
    join(t.path, 'node_modules', 'better-sqlite3', 'package.json'),
    JSON.stringify({ name: 'better-sqlite3', version: '12.11.1' }),
  );
  writeFileSync(
    join(t.path, 'node_modules', 'electron', 'package.json'),
    JSON.stringify({ name: 'electron', version: '41.7.1' }),
  );
  writeFileSync(
    join(t.path, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'),
    'the Node build',
  );
  return t.path;
}

describe('electron-native.mjs', () => {
  it('--from keeps a given Electron build where the main process looks, and leaves the Node build alone', () => {
    const root = checkout();
    const given = join(root, 'from-a-connected-machine.node');
    writeFileSync(given, 'an Electron build');
    const logs: string[] = [];
    const path = ensureElectronSqlite({ root, platform: 'linux', arch: 'x64', from: given, log: (m) => logs.push(m) });
    expect(path).toBe(mainPath(root, '12.11.1', '41.7.1', 'linux', 'x64'));
    expect(readFileSync(path, 'utf8')).toBe('an Electron build');
    expect(
      readFileSync(join(root, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'), 'utf8'),
    ).toBe('the Node build');
    expect(logs.join('\n')).toContain('Electron 41.7.1 (linux-x64)');
  });

  it('does nothing when the build for this Electron, platform and arch is there', () => {
    const root = checkout();
    const kept = mainPath(root, '12.11.1', '41.7.1', 'darwin', 'arm64');
    mkdirSync(join(kept, '..'), { recursive: true });
    writeFileSync(kept, 'kept');
    const logs: string[] = [];
    expect(ensureElectronSqlite({ root, platform: 'darwin', arch: 'arm64', log: (m) => logs.push(m) })).toBe(kept);
    expect(logs).toEqual([]);
    expect(readFileSync(kept, 'utf8')).toBe('kept');
  });
});
