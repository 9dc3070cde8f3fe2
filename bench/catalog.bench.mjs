// Catalog at scale (issue: catalog; fleet scale, issue 22): synthetic media of 10,000 and 100,000
// sets (10 artifacts each) with valid manifests, each scanned into a fresh catalog with its peak
// RSS; a rescan with nothing changed; the `sets --system X --json` query; `find` over 1,000,000
// indexed paths; the catalog's size.
// Query times are given both inside the engine (LIFEBOAT_TIMING) and for the CLI process whole.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIFEBOAT, ROOT, median } from './lib.mjs';

const require = createRequire(import.meta.url);
const SETS = Number(process.env.BENCH_CATALOG_SETS ?? 10_000);
/** The fleet-scale medium (issue 22): a shared bucket written by many servers. */
const LARGE_SETS = Number(process.env.BENCH_CATALOG_LARGE_SETS ?? 100_000);
const ARTIFACTS_PER_SET = 10;
const INDEXED_PATHS = Number(process.env.BENCH_CATALOG_PATHS ?? 1_000_000);

function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** A synthetic medium of `sets` valid Lifeboat sets (10 artifacts each, not present). */
export function generateManySets(root, sets = SETS, withArtifacts = false) {
  mkdirSync(root, { recursive: true });
  writeFileSync(
    join(root, 'lifeboat-medium.json'),
    JSON.stringify({
      format: 'lifeboat-medium/1',
      id: '01KBENCH0000000000000000AA',
      label: 'bench-10k',
      created_at: '2026-01-01T00:00:00.000Z',
      created_by: 'bench',
    }),
  );
  const h = (n) => n.toString(16).padStart(64, '0');
  for (let i = 0; i < sets; i++) {
    const system = `system-${String(i % 50).padStart(2, '0')}`;
    const t = new Date(Date.UTC(2025, 0, 1) + i * 3_600_000);
    const setId = `${t.toISOString().replace(/[-:]/g, '').slice(0, 15)}Z-files`;
    const dir = join(root, 'sets', system, setId);
    mkdirSync(dir, { recursive: true });
    const artifacts = Array.from({ length: ARTIFACTS_PER_SET }, (_v, k) => ({
      path: `part-${k}.tar.zst`,
      role: 'files-tar',
      bytes: 1000 + k,
      sha256: h(i * 100 + k),
      encodings: ['zstd'],
      plain_bytes: 4000 + k,
      plain_sha256: h(i * 100 + k + 1),
      recipients: [],
    }));
    // With artifacts of the right sizes, the sets pass the inventory level.
    if (withArtifacts) for (const a of artifacts) writeFileSync(join(dir, a.path), Buffer.alloc(a.bytes));
    if (withArtifacts)
      writeFileSync(join(dir, 'SHA256SUMS'), artifacts.map((a) => `${a.sha256}  ${a.path}\n`).join(''));
    writeFileSync(
      join(dir, 'manifest.json'),
      canonical({
        format: 'lifeboat-set/1',
        set_id: setId,
        system,
        kind: 'files',
        tier: 'standard',
        created_at: t.toISOString(),
        started_at: t.toISOString(),
        finished_at: t.toISOString(),
        parent: null,
        lifeboat_version: 'bench',
        host: 'bench',
        source: {},
        artifacts,
        warnings: [],
      }),
    );
  }
}

/** One CLI run: wall time, the engine's own time (LIFEBOAT_TIMING) and peak RSS (GNU time). */
function time(args, env) {
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', 'peak-rss-kib %M', process.execPath, LIFEBOAT, ...args], {
    env: { ...process.env, ...env, LIFEBOAT_TIMING: '1' },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const wall = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`lifeboat ${args.join(' ')} failed: ${r.stderr}`);
  const m = /timing \S+ ([\d.]+) ms/.exec(r.stderr);
  const rss = /peak-rss-kib (\d+)/.exec(r.stderr);
  return { wall, engine: m ? Number(m[1]) : null, rssMiB: rss ? Number(rss[1]) / 1024 : null, stdout: r.stdout };
}

/** Bumped whenever generateManySets writes something else: a cached medium of another version is made again. */
const GENERATOR_VERSION = 1;

/**
 * The synthetic medium of `sets` sets, made once and kept under BENCH_TMPDIR keyed by what
 * shapes it (a scan only reads it): at 100,000 sets making it took longer than scanning it.
 * A medium is used only when its marker says it was made whole; BENCH_CATALOG_CACHE=0 makes it afresh.
 */
function syntheticMedium(work, sets) {
  const cache = process.env.BENCH_CATALOG_CACHE !== '0';
  const base = cache ? (process.env.BENCH_TMPDIR ?? tmpdir()) : work;
  const medium = join(base, `lifeboat-bench-catalog-medium-v${GENERATOR_VERSION}-${sets}x${ARTIFACTS_PER_SET}`);
  const marker = join(medium, '.bench-complete');
  if (cache && existsSync(marker)) {
    console.error(`bench catalog: the medium of ${sets} sets made before (${medium})`);
    return { medium, cached: true };
  }
  rmSync(medium, { recursive: true, force: true });
  console.error(`bench catalog: generating ${sets} sets…`);
  generateManySets(medium, sets);
  writeFileSync(marker, new Date().toISOString());
  return { medium, cached: cache };
}

/** Scan, rescan, `sets` and `find` over one synthetic medium of `sets` sets, in a fresh catalog. */
function measureMedium(work, sets) {
  const { medium, cached } = syntheticMedium(work, sets);
  const home = join(work, `home-${sets}`);
  // The files just written are flushed first, so the scans do not pay for their writeback.
  execFileSync('sync');
  const env = { LIFEBOAT_HOME: home };
  execFileSync(process.execPath, [LIFEBOAT, 'info'], { env: { ...process.env, ...env }, stdio: 'ignore' });
  const scans = [];
  for (let i = 0; i < 3; i++) {
    rmSync(home, { recursive: true, force: true });
    const r = time(['scan', medium, '--json'], env);
    scans.push(r);
    const s = JSON.parse(r.stdout);
    if (s.sets.total !== sets) throw new Error(`scan found ${s.sets.total} sets`);
    // The catalog just written is flushed before the next run, as the medium was.
    execFileSync('sync');
  }
  const rescans = [1, 2, 3].map(() => time(['scan', medium, '--json'], env));
  const setsQ = [1, 2, 3, 4, 5].map(() => time(['sets', '--system', 'system-07', '--json'], env));
  // 1,000,000 indexed paths, written straight into the catalog's file index.
  console.error(`bench catalog: indexing ${INDEXED_PATHS} paths…`);
  const Database = require(join(ROOT, 'node_modules/better-sqlite3'));
  const db = new Database(join(home, 'catalog.sqlite'));
  const keys = db.prepare('SELECT key FROM sets ORDER BY key LIMIT 100').pluck().all();
  const insert = db.prepare(
    "INSERT INTO file_index (set_key, path, type, size, mtime, mode, sha256) VALUES (?, ?, 'file', ?, '2026-01-01T00:00:00.000Z', 420, NULL)",
  );
  db.transaction(() => {
    for (let i = 0; i < INDEXED_PATHS; i++) {
      const key = keys[i % keys.length];
      insert.run(
        key,
        `srv/data/dept-${i % 97}/project-${i % 1013}/doc-${i}.${['pdf', 'txt', 'jpg', 'xlsx'][i % 4]}`,
        i % 100000,
      );
    }
  })();
  // The per-set path texts `find` searches, as recordFileIndex writes them.
  db.exec(
    "INSERT INTO file_paths (set_key, paths) SELECT set_key, group_concat(path, char(10)) FROM file_index WHERE type != 'dir' GROUP BY set_key",
  );
  db.close();
  const finds = [1, 2, 3, 4, 5].map(() => time(['find', '*/project-1012/doc-*.xlsx', '--json'], env));
  const findsBroad = [1, 2, 3].map(() => time(['find', '*.pdf', '--json'], env));
  const size = statSync(join(home, 'catalog.sqlite')).size;
  if (!cached) rmSync(medium, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
  const wall = (runs) => median(runs.map((x) => x.wall));
  // Only the query commands report the engine's own time (LIFEBOAT_TIMING).
  const engine = (runs) => (runs.some((x) => x.engine === null) ? null : median(runs.map((x) => x.engine)));
  const rss = (runs) => Math.max(...runs.map((x) => x.rssMiB ?? 0));
  return { scans, rescans, setsQ, finds, findsBroad, size, wall, engine, rss };
}

export async function run() {
  const work = mkdtempSync(join(process.env.BENCH_TMPDIR ?? tmpdir(), 'lifeboat-bench-catalog-'));
  // The load average beside the numbers: the machine may be shared (the times are the CLI's whole process).
  const load = () =>
    loadavg()
      .map((x) => x.toFixed(1))
      .join(', ');
  try {
    const loadBefore = load();
    const small = measureMedium(work, SETS);
    const large = measureMedium(work, LARGE_SETS);
    const loadAfter = load();
    for (const [n, m] of [
      [SETS, small],
      [LARGE_SETS, large],
    ])
      console.error(
        `bench catalog: ${n} sets: scans ${m.scans.map((x) => `${x.wall.toFixed(0)} ms ${x.rssMiB} MiB`).join(', ')}; rescans ${m.rescans.map((x) => `${x.wall.toFixed(0)} ms ${x.rssMiB} MiB`).join(', ')}`,
      );
    const ms = (x) => (x === null ? '' : `${x.toFixed(0)} ms`);
    const mib = (x) => `${x.toFixed(0)} MiB`;
    const both = (f) => `${f(small)} | ${f(large)}`;
    return [
      '### Catalog',
      '',
      `Synthetic media of ${SETS.toLocaleString('en')} and ${LARGE_SETS.toLocaleString('en')} sets (${ARTIFACTS_PER_SET} artifacts each, valid manifests, 50 systems), each scanned into a fresh catalog; then ${INDEXED_PATHS.toLocaleString('en')} file paths in the index. A scan reads and commits manifests in batches (electron/engine/catalog/scan.ts, BATCH_SETS); peak RSS is the largest of the runs (GNU time).`,
      '',
      `| measure | ${SETS.toLocaleString('en')} sets | ${LARGE_SETS.toLocaleString('en')} sets | goal (${SETS.toLocaleString('en')} / ${LARGE_SETS.toLocaleString('en')}) | engine only (${SETS.toLocaleString('en')} / ${LARGE_SETS.toLocaleString('en')}) |`,
      '| --- | --- | --- | --- | --- |',
      `| \`lifeboat scan\` into an empty catalog (whole CLI process) | ${both((m) => ms(m.wall(m.scans)))} | ≤ 3 s / ≤ 15 s | |`,
      `| its peak RSS | ${both((m) => mib(m.rss(m.scans)))} | < 150 MiB | |`,
      `| rescan, nothing changed | ${both((m) => ms(m.wall(m.rescans)))} | ≤ 0.5 s / ≤ 2 s | |`,
      `| its peak RSS | ${both((m) => mib(m.rss(m.rescans)))} | < 150 MiB | |`,
      `| \`lifeboat sets --system X --json\` | ${both((m) => ms(m.wall(m.setsQ)))} | ≤ 50 ms (query), the same at both sizes | ${[small, large].map((m) => `${m.engine(m.setsQ).toFixed(1)} ms`).join(' / ')} |`,
      `| \`lifeboat find '*/project-1012/doc-*.xlsx'\` over ${INDEXED_PATHS.toLocaleString('en')} paths | ${both((m) => ms(m.wall(m.finds)))} | ≤ 100 ms (query), the same at both sizes | ${[small, large].map((m) => `${m.engine(m.finds).toFixed(1)} ms`).join(' / ')} |`,
      `| \`lifeboat find '*.pdf'\` (250,000 matches; the newest 1,000 returned) | ${both((m) => ms(m.wall(m.findsBroad)))} | | ${[small, large].map((m) => `${m.engine(m.findsBroad).toFixed(1)} ms`).join(' / ')} |`,
      `| catalog size on disk | ${both((m) => `${(m.size / 2 ** 20).toFixed(1)} MiB`)} | | |`,
      '',
      "The table is a run on a quiet machine (its load below). On a quiet machine the first scan of 100,000 sets takes about 23 s (goal 15 s; the rescan, `find` and peak RSS goals are met). Earlier the same afternoon, on the machine shared with other jobs (load 7–20), the same 100,000-set medium scanned by the previous build (main at ea84bc3) and this one, alternately, at load about 20: first scan 122 s and 184 s wall, 23.9 s and 23.5 s of user CPU, 193 MiB and 229 MiB before; 72 s wall, 22.9 s user CPU and 118 MiB after; rescan 157 MiB before, 130 MiB after; the catalog after the scan 327 MB before, 244 MB after (32.5 MB and 24.2 MB at 10,000 sets). Again at load 7-9, in both orders (the first run of a pair may meet a dropped page cache): before 36.9 s and 50.4 s wall, 20.7 s and 21.0 s of user CPU, 218 MiB and 240 MiB; after 94.1 s (run first: 11.9 s of system time reading a cold medium) and 30.9 s wall, 31.4 s and 21.7 s of user CPU, 118 MiB and 119 MiB. So the first scan's CPU time is about what it was (about 21 s of user CPU at 100,000 sets): the time goal of 15 s is not met, and this round moved memory and the catalog's size, not the scan's CPU. What changed (issue 22, item 5): the artifacts' hashes are 32-byte blobs (migration 10, catalog/hash-column.ts), a quarter of the catalog; a folder medium reads each manifest and signature with one open (O_NOFOLLOW) and checks the path the kernel opened (/proc/self/fd) instead of an lstat of every part of the path (10,000 manifests: 40 ms of user CPU instead of 80-190 ms, the same system time); `scan` runs with V8 optimizing for size and a 1 MiB young generation (bin/lifeboat.cjs), which holds the garbage of the batches' manifests to a bound: the peak goal is met at both sizes; `find` lets the indexed sets lead its query (CROSS JOIN) — SQLite walked all the sets newest first and probed the file index for each (100 indexed sets among 100,000, by itself: 393 ms before, 7.5 ms after; among 10,000: 49 ms and 3.3 ms, at that load); the synthetic media are made once and kept under BENCH_TMPDIR. Where the time of a first scan went on the quiet machine before (CPU profile at 100,000 sets, load below 1): 18.9 s of 43 s in the batches' transactions (SQLite writing sets, artifacts and presence), 6.1 s reading manifests (3.2 s of it the lstat of each part of their paths), 2.5 s looking for their signatures, 5.5 s parsing and checking manifests, 2.8 s judging the systems' trends, 2 s garbage collection. `sets --system X` returns 200 sets at 10,000 and 2,000 at 100,000: its time is the same per set (about 10 µs), so it cannot be the same at both sizes without a page of the newest sets (not done). What would close the first scan's time gap: reading and parsing manifests on a worker thread while the main thread writes the previous batch; the sets' two created_at indexes and the presence index written once per batch in key order; a listing per system (a Medium interface change), so the listed folders of the whole medium are never in memory at once.",
      '',
      `Load average (1, 5, 15 min) at the start of this run: ${loadBefore}; at its end: ${loadAfter} (2 cores).`,
      '',
      'The whole-process times include Node start-up and opening the catalog with its integrity check. `sets --system X` returns 200 sets at 10,000 and 2,000 at 100,000.',
      '',
    ].join('\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
