// Verification throughput (issue: verify media), from the page cache: `lifeboat verify --level
// integrity` of a ~1 GB set side by side with coreutils sha256sum of its artifacts and
// `restic check --read-data` on a restic repository of the same data; OpenSSL's single-core
// SHA-256 speed measured in the same run; one job vs two jobs on two artifacts; peak RSS;
// `--only-new` on an already verified medium of 10,000 sets.
import { execFileSync, execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIFEBOAT, compare, measure, median } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const GIB = 2 ** 30;

function opensslSha256() {
  // "sha256  … 16384 bytes" column, in kB/s (1000 bytes): the single-core EVP rate on 16 KiB blocks.
  const out = execSync('openssl speed -evp sha256 -bytes 16384 -seconds 2 2>/dev/null', { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.startsWith('sha256'));
  const k = Number(line.trim().split(/\s+/).pop().replace('k', ''));
  return (k * 1000) / 2 ** 20; // MiB/s
}

function fillFolder(dir, bytes) {
  mkdirSync(dir, { recursive: true });
  let made = 0;
  for (let i = 0; made < bytes; i++) {
    const size = Math.min(64 * 2 ** 20, bytes - made);
    writeFileSync(join(dir, `blob-${i}.bin`), randomBytes(size));
    made += size;
  }
}

export async function run() {
  const work = mkdtempSync(join(process.env.BENCH_TMPDIR ?? tmpdir(), 'lifeboat-bench-verify-'));
  const env = { LIFEBOAT_HOME: join(work, 'home') };
  const lb = (...args) =>
    execFileSync(process.execPath, [LIFEBOAT, ...args], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
      maxBuffer: 256 * 2 ** 20,
    });
  try {
    console.error('bench verify: writing ~1 GiB of data and backing it up…');
    const src = join(work, 'data');
    fillFolder(src, GIB);
    const medium = join(work, 'medium');
    lb('medium', 'init', medium, '--label', 'bench');
    lb('backup', 'files', '--system', 'big', '--path', src, '--to', medium);
    const setDir = join(medium, 'sets/big', readdirSync(join(medium, 'sets/big'))[0]);
    const repo = join(work, 'restic');
    const resticEnv = { RESTIC_PASSWORD: 'bench', RESTIC_CACHE_DIR: join(work, 'restic-cache') };
    execSync(`restic init --repo ${repo} -q && restic backup --repo ${repo} -q ${src}`, {
      env: { ...process.env, ...resticEnv },
    });
    // Warm the page cache for every contender.
    execSync(`cat ${setDir}/* > /dev/null; find ${repo} -type f -exec cat {} + > /dev/null`);
    const openssl = opensslSha256();
    const rows = compare(RUNS, [
      {
        name: 'lifeboat verify --level integrity --jobs 1',
        command: () => `node ${LIFEBOAT} verify ${setDir} --level integrity --jobs 1 --json`,
        env,
      },
      {
        name: 'sha256sum of the artifacts',
        command: () => `sha256sum ${setDir}/files.tar.zst ${setDir}/index.jsonl.zst > /dev/null`,
      },
      {
        name: 'restic check --read-data',
        command: () => `restic check --repo ${repo} -q --read-data > /dev/null`,
        env: resticEnv,
      },
    ]);
    const bytes = GIB;
    const rate = (wall) => bytes / 2 ** 20 / wall;

    console.error('bench verify: two artifacts, one job vs two…');
    const two = join(work, 'two');
    lb('medium', 'init', two, '--label', 'two');
    for (const half of ['a', 'b']) {
      const d = join(work, `half-${half}`);
      fillFolder(d, GIB / 2);
      lb('backup', 'files', '--system', `half-${half}`, '--path', d, '--to', two);
    }
    execSync(`find ${two} -type f -exec cat {} + > /dev/null`);
    const jobs = compare(RUNS, [
      { name: 'jobs 1', command: () => `node ${LIFEBOAT} verify ${two} --level integrity --jobs 1 --json`, env },
      { name: 'jobs 2', command: () => `node ${LIFEBOAT} verify ${two} --level integrity --jobs 2 --json`, env },
    ]);

    console.error('bench verify: --only-new on 10,000 sets…');
    const many = join(work, 'many');
    const { generateManySets } = await import('./catalog.bench.mjs');
    generateManySets(many, 10_000, true);
    lb('verify', many, '--level', 'inventory', '--json');
    const onlyNew = median(
      [1, 2, 3].map(
        () => measure(`node ${LIFEBOAT} verify ${many} --level inventory --only-new --json > /dev/null`, env).wall,
      ),
    );

    // The engine's own reading rate: bytes over the time from the first artifact started to the
    // last one finished (the whole-process time adds start-up, the rescan and the ledger).
    const streaming = (stdouts) =>
      median(
        stdouts.map((out) => {
          const report = JSON.parse(out);
          const arts = report.results.flatMap((r) =>
            r.artifacts.map((a) => ({ ...a, start: Date.parse(a.startedAt) })),
          );
          const t0 = Math.min(...arts.map((a) => a.start));
          const t1 = Math.max(...arts.map((a) => a.start + a.durationMs));
          return arts.reduce((n, a) => n + a.bytes, 0) / 2 ** 20 / ((t1 - t0) / 1000);
        }),
      );
    const engineRate = streaming(rows[0].stdouts);
    const jobsRate = jobs.map((j) => streaming(j.stdouts));
    const lines = [
      '### Verification',
      '',
      `~1 GiB set (incompressible data), integrity level, from the page cache. OpenSSL single-core SHA-256 (\`openssl speed -evp sha256\`, 16 KiB blocks), same run: **${openssl.toFixed(0)} MiB/s**.`,
      '',
      `| command | wall (median of ${RUNS}) | throughput | vs sha256sum | vs OpenSSL | peak RSS |`,
      '| --- | --- | --- | --- | --- | --- |',
    ];
    const sha = rows[1].wall;
    for (const r of rows)
      lines.push(
        `| \`${r.name}\` | ${r.wall.toFixed(2)} s | ${rate(r.wall).toFixed(0)} MiB/s | ${(sha / r.wall).toFixed(2)}× | ${((rate(r.wall) / openssl) * 100).toFixed(0)}% | ${r.rssMiB.toFixed(0)} MiB |`,
      );
    lines.push(
      '',
      `Reading rate inside the engine (first artifact started to last finished): **${engineRate.toFixed(0)} MiB/s**, ${((engineRate / openssl) * 100).toFixed(0)}% of OpenSSL's single-core SHA-256.`,
      '',
    );
    lines.push(
      'Goals: one job ≥ 2.5× sha256sum (≥ 75% of OpenSSL), faster than restic check --read-data, peak RSS < 150 MB.',
      '',
    );
    lines.push(
      `Two sets of ~512 MiB each, whole process: \`--jobs 1\` ${jobs[0].wall.toFixed(2)} s, \`--jobs 2\` ${jobs[1].wall.toFixed(2)} s (${(jobs[0].wall / jobs[1].wall).toFixed(2)}×); inside the engine ${jobsRate[0].toFixed(0)} → ${jobsRate[1].toFixed(0)} MiB/s, **${(jobsRate[1] / jobsRate[0]).toFixed(2)}×** (goal ≥ 1.7×); peak RSS ${jobs[1].rssMiB.toFixed(0)} MiB.`,
      '',
    );
    lines.push(
      `\`lifeboat verify <medium of 10,000 sets> --only-new\` after a first pass: **${onlyNew.toFixed(2)} s** (goal < 1 s; includes the rescan of the medium).`,
      '',
    );
    return lines.join('\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
