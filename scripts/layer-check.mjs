#!/usr/bin/env node
// The engine's folder graph (electron/engine/<folder>/ and its top-level files) from relative
// imports, and its cycles. `node scripts/layer-check.mjs` prints the cycles and exits 1 when
// there is one; `--graph` prints every folder's imports. The direction of each edge is held by
// eslint (eslint.config.mjs, the LAYERS table); this finds what lint cannot: a cycle between
// folders of one layer. There is none: `npm run lint` runs this script (a cycle fails CI), and
// test/unit/layers.test.ts asserts the graph has no cycle.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const engine = join(root, 'electron', 'engine');

function files(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** A file's folder under electron/engine (a top-level file, e.g. errors.ts, is a node of its own: `errors`). */
function folderOf(file) {
  const rel = relative(engine, file).split(sep);
  return rel.length > 1 ? rel[0] : rel[0].replace(/\.tsx?$/, '');
}

/** folder → Set of folders it imports (type-only imports included: a type cycle is a cycle too). */
export function folderGraph() {
  const graph = new Map();
  for (const f of files(engine)) {
    const from = folderOf(f);
    if (!graph.has(from)) graph.set(from, new Set());
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(
      /(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g,
    )) {
      const target = resolve(dirname(f), m[1] ?? m[2]);
      if (!target.startsWith(engine + sep)) continue;
      const to = folderOf(target + '.ts');
      if (to !== from) graph.get(from).add(to);
    }
  }
  return graph;
}

/** The folders that import each other, directly or not (strongly connected components of more than one folder), sorted. */
export function folderCycles(graph = folderGraph()) {
  let index = 0;
  const stack = [];
  const info = new Map();
  const out = [];
  const visit = (v) => {
    info.set(v, { index, low: index, on: true });
    index++;
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!info.has(w)) {
        visit(w);
        info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
      } else if (info.get(w).on) info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
    }
    if (info.get(v).low === info.get(v).index) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        info.get(w).on = false;
        component.push(w);
      } while (w !== v);
      if (component.length > 1) out.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!info.has(v)) visit(v);
  return out.map((c) => c.join(' ⇄ ')).sort();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const graph = folderGraph();
  if (process.argv.includes('--graph')) {
    for (const [f, to] of [...graph].sort()) console.log(`${f} → ${[...to].sort().join(', ') || '(nothing)'}`);
  }
  const cycles = folderCycles(graph);
  for (const c of cycles) console.log(`folders in a cycle: ${c}`);
  if (cycles.length === 0) console.log('no folder cycles in electron/engine');
  process.exitCode = cycles.length ? 1 : 0;
}
