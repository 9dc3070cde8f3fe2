import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  chooseSqliteBinding,
  electronSqlitePath,
  isWrongAbiError,
  type RuntimeFacts,
} from '../../electron/main/native-binding';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { tempDir } from '../helpers/temp';

// Which better-sqlite3 binary each runtime gets (electron/main/native-binding.ts), with the
// runtime facts injected; and that the chosen path really reaches better-sqlite3.
const require = createRequire(import.meta.url);
const NODE_BUILD = join(
  require.resolve('better-sqlite3/package.json'),
  '..',
  'build',
  'Release',
  'better_sqlite3.node',
);

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function facts(over: Partial<RuntimeFacts>): RuntimeFacts {
  return { electron: null, packaged: false, appRoot: '/src/lifeboat', platform: 'linux', arch: 'x64', ...over };
}

describe('chooseSqliteBinding', () => {
  const io = (present: string[]) => ({ exists: (p: string) => present.includes(p), sqliteVersion: () => '12.11.1' });
  const devPath = electronSqlitePath('/src/lifeboat', '12.11.1', '41.7.1', 'linux', 'x64');

  it('plain Node (CLI, tests) keeps the build npm ci made', () => {
    expect(chooseSqliteBinding(facts({}), io([devPath])).kind).toBe('default');
  });

  it('a package holds the Electron build in the default place (the packaging hook put it there)', () => {
    expect(
      chooseSqliteBinding(
        facts({ electron: '41.7.1', packaged: true, appRoot: '/opt/Lifeboat/resources/app.asar' }),
        io([]),
      ).kind,
    ).toBe('default');
  });

  it('Electron from a checkout gets the Electron build kept apart, by version, platform and arch', () => {
    const got = chooseSqliteBinding(facts({ electron: '41.7.1' }), io([devPath]));
    expect(got).toEqual({ kind: 'file', path: devPath });
    expect(devPath).toContain(join('node_modules', '.lifeboat-electron'));
    expect(devPath).not.toContain(join('better-sqlite3', 'build'));
    // Another Electron (an upgrade without a new build) or another arch does not take it.
    expect(chooseSqliteBinding(facts({ electron: '42.0.0' }), io([devPath])).kind).toBe('missing');
    expect(chooseSqliteBinding(facts({ electron: '41.7.1', arch: 'arm64' }), io([devPath])).kind).toBe('missing');
  });

  it('a checkout without it says how to get it', () => {
    const got = chooseSqliteBinding(facts({ electron: '41.7.1' }), io([]));
    if (got.kind !== 'missing') throw new Error(`expected missing, got ${got.kind}`);
    expect(got.error.code).toBe('PRECONDITION_FAILED');
    expect(got.error.message).toContain('Electron 41.7.1');
    expect(got.error.hint).toContain('npm run native:electron');
  });

  it('names the same file as the script that makes it', async () => {
    const script = await import('../../packaging/electron-native.mjs');
    expect(script.electronSqlitePath('/r', '1.2.3', '41.0.0', 'darwin', 'arm64')).toBe(
      electronSqlitePath('/r', '1.2.3', '41.0.0', 'darwin', 'arm64'),
    );
  });
});

describe('the chosen binary reaches better-sqlite3 (Catalog.open nativeBinding)', () => {
  it('opens with the given addon, and a bad one fails at open', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    // A copy of the Node build at a path better-sqlite3 would never find by itself.
    const kept = join(t.path, 'kept', 'better_sqlite3.node');
    mkdirSync(join(kept, '..'), { recursive: true });
    copyFileSync(NODE_BUILD, kept);
    const catalog = Catalog.open(join(t.path, 'a', 'catalog.db'), { nativeBinding: kept });
    catalog.close();
    expect(existsSync(join(t.path, 'a', 'catalog.db'))).toBe(true);

    const bogus = join(t.path, 'bogus.node');
    writeFileSync(bogus, 'not a shared object');
    expect(() => Catalog.open(join(t.path, 'b', 'catalog.db'), { nativeBinding: bogus })).toThrow();
  });
});

describe('isWrongAbiError', () => {
  it('recognises the loader refusing another runtime’s build', () => {
    const electronSays =
      "The module '/src/lifeboat/node_modules/better-sqlite3/build/Release/better_sqlite3.node'\nwas compiled against a different Node.js version using\nNODE_MODULE_VERSION 115. This version of Node.js requires\nNODE_MODULE_VERSION 145. Please try re-compiling or re-installing\nthe module (for instance, using `npm rebuild` or `npm install`).";
    expect(isWrongAbiError(new Error(electronSays))).toBe(true);
    expect(isWrongAbiError(new Error('/x/better_sqlite3.node: invalid ELF header'))).toBe(true);
    expect(isWrongAbiError(new Error('SQLITE_CORRUPT: database disk image is malformed'))).toBe(false);
  });
});
