// electron-builder afterPack hook (electron-builder.yml: afterPack). Runs after the app's files
// are laid out in <appOutDir>, before signing and before the installers are made.
//
// 1. better-sqlite3: the package must hold its Electron build, not the Node build npm ci made in
//    the project's node_modules (npmRebuild is off so that the checkout's CLI and tests keep
//    working). The Electron build (packaging/electron-native.mjs, or LIFEBOAT_ELECTRON_SQLITE=<file>
//    when it was built elsewhere) replaces the Node one in app.asar.unpacked, where better-sqlite3
//    loads from by default: the packaged app and the packaged CLI both run on Electron's runtime.
// 2. The `lifeboat` wrapper keeps its executable bit.
// 3. The layout is checked: a package without these pieces fails here, not on the DR laptop.
'use strict';
const { chmodSync, copyFileSync, existsSync, readdirSync } = require('node:fs');
const { join, resolve } = require('node:path');

const ARCH_NAMES = ['ia32', 'x64', 'armv7l', 'arm64', 'universal'];

/** Where Electron's resources folder is inside the unpacked app. */
function resourcesDir(appOutDir, platform, productFilename) {
  return platform === 'darwin' || platform === 'mas'
    ? join(appOutDir, `${productFilename}.app`, 'Contents', 'Resources')
    : join(appOutDir, 'resources');
}

async function placeElectronSqlite(resources, platform, arch, log) {
  const release = join(resources, 'app.asar.unpacked', 'node_modules', 'better-sqlite3', 'build', 'Release');
  if (!existsSync(release))
    throw new Error(
      `lifeboat afterPack: ${release} is missing: better-sqlite3 must be asarUnpack'ed (electron-builder.yml).`,
    );
  let source = process.env.LIFEBOAT_ELECTRON_SQLITE;
  if (source) {
    source = resolve(source);
    if (!existsSync(source)) throw new Error(`lifeboat afterPack: LIFEBOAT_ELECTRON_SQLITE=${source} does not exist.`);
  } else {
    const { ensureElectronSqlite } = await import('./electron-native.mjs');
    source = ensureElectronSqlite({ platform: platform === 'mas' ? 'darwin' : platform, arch, log });
  }
  // The files listed in the asar's header stay as they are (electron-builder.yml already leaves out the build's intermediates).
  const extra = readdirSync(release).filter((name) => name !== 'better_sqlite3.node');
  if (extra.length > 0)
    log(`note: better-sqlite3/build/Release also holds ${extra.join(', ')} (see files in electron-builder.yml)`);
  copyFileSync(source, join(release, 'better_sqlite3.node'));
  log(`better-sqlite3: the Electron build from ${source}`);
}

function checkLayout(resources, platform) {
  const problems = [];
  const wrapper = platform === 'win32' ? join(resources, 'bin', 'lifeboat.cmd') : join(resources, 'bin', 'lifeboat');
  if (!existsSync(wrapper)) problems.push(`the CLI wrapper ${wrapper}`);
  else if (platform !== 'win32') chmodSync(wrapper, 0o755);
  if (!existsSync(join(resources, 'app.asar'))) problems.push('app.asar');
  for (const mod of ['keytar', 'zstd-napi']) {
    if (!existsSync(join(resources, 'app.asar.unpacked', 'node_modules', mod)))
      problems.push(`${mod} unpacked from the asar`);
  }
  if (problems.length > 0)
    throw new Error(`lifeboat afterPack: the package lacks ${problems.join(', ')} (electron-builder.yml).`);
}

async function afterPack(context) {
  const platform = context.electronPlatformName;
  const arch = ARCH_NAMES[context.arch] ?? String(context.arch);
  const resources = resourcesDir(context.appOutDir, platform, context.packager.appInfo.productFilename);
  const log = (m) => process.stdout.write(`  • lifeboat afterPack: ${m}\n`);
  await placeElectronSqlite(resources, platform, arch, log);
  checkLayout(resources, platform);
}

module.exports = afterPack;
module.exports.default = afterPack;
module.exports.resourcesDir = resourcesDir;
