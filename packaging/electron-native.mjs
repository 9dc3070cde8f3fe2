#!/usr/bin/env node
/**
 * The Electron build of better-sqlite3, kept apart from the Node one.
 *
 * better-sqlite3 is a V8-ABI module: `npm ci` builds it for plain Node (the CLI, the tests), and
 * Electron refuses that binary. This script puts an Electron build in
 * node_modules/.lifeboat-electron/ (the path electron/main/native-binding.ts looks for) without
 * ever touching node_modules/better-sqlite3/build: it works in a scratch copy of the package.
 * Sources, in order: --from <file> (a binary built elsewhere, for offline machines), the
 * project's prebuilt download (prebuild-install), a source build against Electron's headers
 * (node-gyp). Both of the last two need the network.
 *
 *   node packaging/electron-native.mjs [ensure] [--platform linux] [--arch x64] [--from file] [--quiet]
 *
 * The packaging hook (after-pack.cjs) calls ensureElectronSqlite() for the target it packs.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** Same path as electronSqlitePath() in electron/main/native-binding.ts (a unit test holds them together). */
export function electronSqlitePath(root, sqliteVersion, electronVersion, platform, arch) {
  return join(
    root,
    'node_modules',
    '.lifeboat-electron',
    `better-sqlite3-${sqliteVersion}-electron-${electronVersion}-${platform}-${arch}.node`,
  );
}

export function installedVersions(root = ROOT) {
  return {
    sqlite: readJson(join(root, 'node_modules', 'better-sqlite3', 'package.json')).version,
    electron: readJson(join(root, 'node_modules', 'electron', 'package.json')).version,
  };
}

/** A child's environment without npm's node-gyp settings: ~/.npmrc's nodedir=/usr would build against Node's headers. */
function cleanEnv() {
  const env = { ...process.env };
  for (const k of Object.keys(env))
    if (/^npm_config_(nodedir|target|runtime|disturl|arch|build_from_source)$/i.test(k)) delete env[k];
  return env;
}

/** The line that says why (a DNS failure, a missing header), else the last lines. */
function gist(out) {
  const lines = out.split('\n');
  const why =
    lines.find((l) => /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|network connectivity/.test(l)) ??
    lines.find((l) => /Error:/.test(l));
  return why ? why.trim() : lines.slice(-3).join(' | ');
}

function run(cmd, args, cwd, log) {
  log(`  $ ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd, env: cleanEnv(), encoding: 'utf8', timeout: 10 * 60_000 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  return { ok: r.status === 0, out: r.error ? String(r.error.message) : out };
}

/** Makes sure the Electron build exists; returns its path. Throws an Error whose message says what to do. */
export function ensureElectronSqlite({
  root = ROOT,
  platform = process.platform,
  arch = process.arch,
  from = null,
  log = (m) => process.stderr.write(`${m}\n`),
} = {}) {
  const v = installedVersions(root);
  const target = electronSqlitePath(root, v.sqlite, v.electron, platform, arch);
  if (from) {
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(resolve(from), target);
    log(`better-sqlite3 for Electron ${v.electron} (${platform}-${arch}): copied from ${from}`);
    return target;
  }
  if (existsSync(target)) return target;

  log(
    `better-sqlite3 ${v.sqlite} has no Electron ${v.electron} build (${platform}-${arch}) yet; getting one (the Node build stays as it is).`,
  );
  const scratch = mkdtempSync(join(tmpdir(), 'lifeboat-electron-sqlite-'));
  const failures = [];
  try {
    const pkgDir = join(scratch, 'better-sqlite3');
    // The sources only: the Node build in build/ must neither be copied nor touched.
    cpSync(join(root, 'node_modules', 'better-sqlite3'), pkgDir, {
      recursive: true,
      filter: (src) => !src.includes(`${join('better-sqlite3', 'build')}`),
    });
    const req = createRequire(join(root, 'package.json'));
    const built = join(pkgDir, 'build', 'Release', 'better_sqlite3.node');

    const prebuild = req.resolve('prebuild-install/bin.js');
    const a = run(
      process.execPath,
      [prebuild, '--runtime', 'electron', '--target', v.electron, '--platform', platform, '--arch', arch, '--verbose'],
      pkgDir,
      log,
    );
    if (!a.ok || !existsSync(built)) failures.push(`download (prebuild-install): ${gist(a.out)}`);

    if (!existsSync(built) && platform === process.platform && arch === process.arch) {
      const gyp = req.resolve('node-gyp/bin/node-gyp.js');
      const b = run(
        process.execPath,
        [
          gyp,
          'rebuild',
          '--release',
          `--target=${v.electron}`,
          `--arch=${arch}`,
          '--runtime=electron',
          '--dist-url=https://electronjs.org/headers',
        ],
        pkgDir,
        log,
      );
      if (!b.ok || !existsSync(built)) failures.push(`source build (node-gyp, Electron headers): ${gist(b.out)}`);
    }
    if (!existsSync(built)) {
      throw new Error(
        [
          `Could not get better-sqlite3 ${v.sqlite} for Electron ${v.electron} (${platform}-${arch}).`,
          ...failures.map((f) => `  - ${f}`),
          'Both ways need the network (GitHub for the prebuilt binary, electronjs.org for the headers).',
          'Offline: copy a better_sqlite3.node built for this Electron and platform on a connected machine',
          `(it is at ${relativeToRoot(root, target)} there), then: node packaging/electron-native.mjs --from <that file>`,
          'The CLI and the tests do not need it: only the desktop app does.',
        ].join('\n'),
      );
    }
    mkdirSync(dirname(target), { recursive: true });
    renameSync(built, target);
    log(`better-sqlite3 for Electron ${v.electron} (${platform}-${arch}): ${relativeToRoot(root, target)}`);
    return target;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function relativeToRoot(root, path) {
  return path.startsWith(root) ? path.slice(root.length + 1) : path;
}

function parseArgs(argv) {
  const opts = { platform: process.platform, arch: process.arch, from: null, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === 'ensure') continue;
    else if (a === '--platform') opts.platform = argv[++i];
    else if (a === '--arch') opts.arch = argv[++i];
    else if (a === '--from') opts.from = argv[++i];
    else if (a === '--quiet') opts.quiet = true;
    else throw new Error(`unknown argument: ${a}`);
  }
  return opts;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const opts = parseArgs(process.argv.slice(2));
    const path = ensureElectronSqlite({ platform: opts.platform, arch: opts.arch, from: opts.from });
    if (!opts.quiet) process.stdout.write(`${path}\n`);
  } catch (e) {
    process.stderr.write(`\nnative:electron: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
