#!/usr/bin/env node
// Make the tree match the engine layers (docs/architecture.md): move each file of MOVES with
// `git mv`, then rewrite every relative import in electron/, shared/, test/ and bench/ that
// pointed at a moved file (the moved files' own imports included). Idempotent: a move already
// made is skipped and imports that resolve are left alone, so it can run again on a tree where
// other branches were merged (their new files' imports are fixed too). Finally it empties the
// MOVING_DOWN exemptions in eslint.config.mjs. Usage: node scripts/layers-move.mjs [--dry-run]
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dryRun = process.argv.includes('--dry-run');

/** [from, to], relative to the repository root. */
export const MOVES = [
  // Spawning tools is not a backup concern: the pipeline and restores use it too.
  ['electron/engine/backup/child.ts', 'electron/engine/process/child.ts'],
  // The file index is a format (written by backups, read by the catalog, restores and verify).
  ['electron/engine/backup/file-index.ts', 'electron/engine/format/file-index.ts'],
  // WAL file names and the archive's stored names: read by the catalog scan as well as pitr/.
  ['electron/engine/pitr/wal-names.ts', 'electron/engine/format/wal-names.ts'],
  // Opening a set's copy for a restore is restore logic, used by restore/pg-logical.ts.
  ['electron/engine/runbooks/actions/set-access.ts', 'electron/engine/restore/set-access.ts'],
  // The demo is a front door (it imports a dozen folders and s3rver): beside the CLI, not in the engine.
  ['electron/engine/demo/demo.ts', 'electron/demo/demo.ts'],
  ['electron/engine/demo/sample-data.ts', 'electron/demo/sample-data.ts'],
];

const SCANNED = ['electron', 'shared', 'test', 'bench', 'renderer'];
const SOURCE = /\.(ts|tsx|mts|cts|mjs|cjs)$/;
const EXTENSIONS = ['', '.ts', '.tsx', '.mts', '.mjs', '.js', '/index.ts'];

function sourceFiles(dir) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'out') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (SOURCE.test(name)) out.push(p);
  }
  return out;
}

/** The file a specifier names from `dir`, or null. */
function resolveSpec(dir, spec) {
  const base = resolve(dir, spec);
  for (const ext of EXTENSIONS) {
    const p = base + ext;
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  return null;
}

const noExt = (p) => p.replace(/\.(ts|tsx|mts|mjs)$/, '');

function specifier(fromDir, target, original) {
  let rel = relative(fromDir, target).split(sep).join('/');
  if (!rel.startsWith('.')) rel = `./${rel}`;
  // Keep the original's style: extensionless unless it named one.
  return /\.(m?js|ts)$/.test(original) ? rel.replace(/\.ts$/, '.js') : noExt(rel);
}

function run() {
  const moved = new Map(); // absolute old path → absolute new path
  for (const [from, to] of MOVES) {
    const src = join(root, from);
    const dst = join(root, to);
    moved.set(src, dst);
    if (existsSync(dst) && !existsSync(src)) continue;
    if (!existsSync(src)) {
      console.log(`skip ${from}: not in this tree`);
      continue;
    }
    if (existsSync(dst)) throw new Error(`${to} exists and ${from} too: resolve by hand`);
    console.log(`git mv ${from} ${to}`);
    if (!dryRun) {
      execFileSync('mkdir', ['-p', dirname(dst)]);
      execFileSync('git', ['mv', src, dst], { cwd: root });
    }
  }
  const movedBack = new Map([...moved].map(([a, b]) => [b, a]));

  let changedFiles = 0;
  const IMPORT =
    /(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*|\bvi\.mock\s*\(\s*)(['"])(\.{1,2}\/[^'"]*)\2/g;
  for (const file of SCANNED.flatMap((d) => sourceFiles(join(root, d)))) {
    const text = readFileSync(file, 'utf8');
    const dir = dirname(file);
    // A moved file's imports were written from where it was.
    const oldDir = dirname(movedBack.get(file) ?? file);
    const next = text.replace(IMPORT, (whole, lead, quote, spec) => {
      const here = resolveSpec(dir, spec);
      if (here && !moved.has(here)) return whole;
      const then =
        here ??
        resolveSpec(oldDir, spec) ??
        (moved.has(resolve(oldDir, spec) + '.ts') ? resolve(oldDir, spec) + '.ts' : null);
      if (!then) return whole;
      const target = moved.get(then) ?? then;
      const wanted = specifier(dir, target, spec);
      return wanted === spec ? whole : `${lead}${quote}${wanted}${quote}`;
    });
    if (next !== text) {
      changedFiles++;
      console.log(`imports rewritten: ${relative(root, file)}`);
      if (!dryRun) writeFileSync(file, next);
    }
  }

  // The docs name files by their path under electron/ (e.g. `backup/child.ts`): follow the moves.
  const docs = [
    join(root, 'README.md'),
    ...(existsSync(join(root, 'docs'))
      ? readdirSync(join(root, 'docs'))
          .filter((n) => n.endsWith('.md'))
          .map((n) => join(root, 'docs', n))
      : []),
  ];
  for (const doc of docs) {
    const text = readFileSync(doc, 'utf8');
    let next = text;
    for (const [from, to] of MOVES) {
      const short = (p) => p.replace(/^electron\/engine\//, '');
      next = next.split(from).join(to);
      if (from.startsWith('electron/engine/') && to.startsWith('electron/engine/'))
        next = next.replace(new RegExp(`(?<![\\w/.-])${short(from).replace(/[.]/g, '\\.')}`, 'g'), short(to));
    }
    if (next !== text) {
      console.log(`paths followed: ${relative(root, doc)}`);
      if (!dryRun) writeFileSync(doc, next);
    }
  }

  // The exemptions for modules that were about to move down are no longer needed.
  const config = join(root, 'eslint.config.mjs');
  const eslint = readFileSync(config, 'utf8');
  const emptied = eslint.replace(/(const MOVING_DOWN = )\[[^\]]*\];/, '$1[];');
  if (emptied !== eslint) {
    console.log('eslint.config.mjs: MOVING_DOWN emptied');
    if (!dryRun) writeFileSync(config, emptied);
  }
  console.log(`${changedFiles} file(s) with imports rewritten${dryRun ? ' (dry run: nothing written)' : ''}`);
}

run();
