#!/usr/bin/env node
// `npm run bench [-- <name>]`: runs the benchmark scripts (bench/<name>.bench.mjs), each side by
// side with its baselines in the same run, stores each one's results in bench/sections/, and
// rewrites BENCHMARKS.md from all sections plus the machine's facts. Not a test: it measures.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { machineFacts, stopSharedDatasets } from './lib.mjs';
import { PART_SHARES_MIN, budgetCheck, suiteSection } from './suite.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
if (!existsSync(join(root, 'out/main/cli.js'))) execSync('npm run build:js', { cwd: root, stdio: 'inherit' });
// Baseline tools come from Debian; install what is missing.
const missing = ['restic', 'zstd', 'age', 'pgbackrest'].filter((t) => {
  try {
    execSync(`command -v ${t}`, { stdio: 'ignore', shell: '/bin/bash' });
    return false;
  } catch {
    return true;
  }
});
if (missing.length) execSync(`apt-get install -y -qq ${missing.join(' ')}`, { stdio: 'inherit' });

// `--rewrite`: BENCHMARKS.md again from bench/sections, nothing measured (after a section's notes were edited).
const rewrite = process.argv[2] === '--rewrite';
const wanted = rewrite ? undefined : process.argv[2];
const benches = readdirSync(here)
  .filter((f) => f.endsWith('.bench.mjs'))
  .map((f) => f.replace('.bench.mjs', ''));
if (wanted && !benches.includes(wanted)) {
  console.error(`No benchmark named ${wanted}. Known: ${benches.join(', ')}`);
  process.exit(2);
}
const suiteStart = new Date();
const load0 = loadavg();
/** Each part's wall time, in the order they ran. */
const parts = [];
/** Each part's time and the budget check, said on stderr (a run that failed midway still says them). */
const sayTimes = () => {
  const totalMin = (Date.now() - suiteStart.getTime()) / 60000;
  const check = budgetCheck(parts, totalMin);
  console.error(
    `bench: ${parts.map((p) => `${p.name} ${p.minutes.toFixed(1)} min`).join(', ')}; ${totalMin.toFixed(1)} min in all.`,
  );
  if (!wanted) console.error(`bench: ${check.verdict.replace(/\*\*/g, '')}`);
  else if (check.overParts.length) console.error(`bench: ${wanted} took more than its share of the suite's budget.`);
  return totalMin;
};
try {
  for (const name of benches) {
    if (rewrite || (wanted && name !== wanted)) continue;
    console.error(`== ${name}`);
    const started = new Date();
    const { run } = await import(join(here, `${name}.bench.mjs`));
    const body = await run();
    const minutes = (Date.now() - started.getTime()) / 60000;
    parts.push({ name, minutes });
    console.error(
      `== ${name} took ${minutes.toFixed(1)} min (its share of the suite: ${PART_SHARES_MIN[name] ?? '—'} min)`,
    );
    writeFileSync(
      join(here, 'sections', `${name}.md`),
      `${body}\n_Measured ${started.toISOString().slice(0, 16)}Z in ${minutes.toFixed(1)} min._\n`,
    );
  }
} finally {
  stopSharedDatasets();
  const totalMin = rewrite ? 0 : sayTimes();
  // The whole suite's own time (issue 22: under 25 minutes on 2 cores), only when it ran whole.
  if (!rewrite && !wanted && parts.length === benches.length)
    writeFileSync(
      join(here, 'sections', 'zz-suite.md'),
      suiteSection({
        parts,
        totalMin,
        startedAt: suiteStart,
        load: { start: load0, end: loadavg() },
        cpus: cpus().length,
      }),
    );
}
const sections = readdirSync(join(here, 'sections'))
  .filter((f) => f.endsWith('.md'))
  .sort()
  .map((f) => readFileSync(join(here, 'sections', f), 'utf8'));
writeFileSync(
  join(root, 'BENCHMARKS.md'),
  `# Benchmarks\n\nRerun with \`npm run bench\` (all) or \`npm run bench -- <name>\` (${benches.join(', ')}). Every number is a median of several runs measured side by side with its baseline in the same run, from the page cache unless it says **cold** (caches dropped before every run of every candidate), each run starting with the disk idle (\`sync\` before it), with peak RSS of the whole process tree (GNU time). Nothing here is a timed test.\n\n## Machine\n\n${machineFacts()}\n\n## Results\n\n${sections.join('\n')}`,
);
console.error('BENCHMARKS.md written.');
