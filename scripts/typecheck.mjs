#!/usr/bin/env node
// `npm run typecheck`: the main/engine project (tsconfig.node.json) and the renderer project
// (tsconfig.web.json) checked at once. Each tsc is single-threaded, so on a machine with two cores
// or more the pair takes as long as the larger one (~2/3 of the time of one after the other; the
// build and `npm test` start with it). Each project's output is printed whole, in this order; the
// exit status is 1 when either fails (or is killed).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const PROJECTS = ['tsconfig.node.json', 'tsconfig.web.json'];

function check(project) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [tsc, '--noEmit', '-p', project], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (out += d));
    child.on('error', (e) => resolve({ project, ok: false, out: `${out}${e.message}\n` }));
    child.on('close', (code, signal) =>
      resolve({ project, ok: code === 0, out: signal ? `${out}tsc was killed by ${signal}\n` : out }),
    );
  });
}

const results = await Promise.all(PROJECTS.map(check));
for (const r of results) {
  if (r.out) process.stdout.write(r.out);
  if (!r.ok) process.stderr.write(`typecheck: ${r.project} has errors\n`);
}
process.exitCode = results.every((r) => r.ok) ? 0 : 1;
