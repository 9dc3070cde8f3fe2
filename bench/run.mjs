#!/usr/bin/env node
// `npm run bench [-- <name>]`: runs the benchmark scripts in bench/ side by side with their
// baselines and rewrites BENCHMARKS.md. Benchmarks are added with the capabilities they
// measure (backups, verification, catalog, PITR); until then this lists what exists.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const benches = readdirSync(here).filter((f) => f.endsWith('.bench.mjs'));
if (benches.length === 0) {
  console.log('No benchmarks yet: they arrive with the backup, catalog, verify and PITR capabilities.');
  process.exit(0);
}
const wanted = process.argv[2];
for (const file of benches) {
  if (wanted && !file.startsWith(wanted)) continue;
  await import(join(here, file));
}
