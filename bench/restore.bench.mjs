// Restores (issue 22), every path an operator takes to get data back, each side by side with its
// baseline in the same run, from a warm page cache and cold (caches dropped before every run of
// every candidate, as a USB drive at the DR site reads):
// - a logical set: `lifeboat restore pg` (the gate's checks included) into a fresh server, the
//   database-corruption runbook run from the CLI as a drill (its deep verify and restore steps
//   into a scratch server), and `lifeboat verify --level restore`, against `pg_restore -j 2` of a
//   `pg_dump -Fc` file into a fresh server made the same way (initdb, start, createdb, restore,
//   stop). Both datasets (realistic, pgbench).
// - a files set: `lifeboat restore files` of ~500 MB of mostly incompressible data and of a tree
//   of 100,000 small files, against `restic restore` and `zstd -d | tar -x` of the same tree.
// Only CLI commands: the restore's internals may change under it. Each path's RTO forecast (what
// a runbook's forecast says before the run) is printed next to the measured time of one run: the
// last timed run, whose --json says the forecast it made from the runs before it.
// The defaults fit the 25-minute suite (≤ 8 min here on a quiet machine): each path runs in the
// mode that matters for it — cold for the realistic dataset and the files (a USB drive at the DR
// site), warm for pgbench (a 3 MiB set: cold adds only the programs' start) — and the tree of
// small files has 30,000 files. RESTORE_MODES=warm,cold runs every path in both modes,
// RESTORE_SMALL_FILES=100000 the issue's tree.
// - a directory-format set (`backup pg --format directory --jobs 2`) of the realistic dataset:
//   `lifeboat restore pg` restoring while the dump decodes (restore/pg-dir-overlap.ts), the same
//   set decoded whole first (LIFEBOAT_DIR_OVERLAP=0, the path before), against `pg_restore -j 2`
//   of a `pg_dump -Fd -Z0 -j 2` folder into a fresh server.
// Knobs: BENCH_RUNS, RESTORE_MODES (warm,cold; default per path, above), RESTORE_DATASETS
// (realistic,pgbench), RESTORE_DIR_DATASETS (realistic; empty: no directory-format part), RESTORE_FILES (big,small), RESTORE_FILES_MB, RESTORE_SMALL_FILES (30000);
// the dataset sizes of lib.mjs.
import { execFileSync, execSync } from 'node:child_process';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIFEBOAT, compare, dropCaches, duBytes, freePort, mib, pgBin, sharedDatasets } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** The modes of a path: RESTORE_MODES for every path, else the path's default (see the head). */
const MODES_OF = (path) =>
  (process.env.RESTORE_MODES ?? { realistic: 'cold', pgbench: 'warm', big: 'cold', small: 'cold' }[path] ?? 'warm,cold')
    .split(',')
    .filter((m) => m === 'warm' || m === 'cold');
const PG_SETS = (process.env.RESTORE_DATASETS ?? 'realistic,pgbench').split(',');
const DIR_SETS = (process.env.RESTORE_DIR_DATASETS ?? 'realistic').split(',');
const FILE_SETS = (process.env.RESTORE_FILES ?? 'big,small').split(',');
const BIG_MB = Number(process.env.RESTORE_FILES_MB ?? 500);
const SMALL_FILES = Number(process.env.RESTORE_SMALL_FILES ?? 30_000);
const asPg = process.getuid() === 0 ? 'runuser -u postgres -- ' : '';

/** A fresh cluster (initdb, start) as shell commands; `stop` stops and removes it. The same for every pg candidate. */
function freshServer(port, scratch) {
  const bin = pgBin();
  const data = join(scratch, 'data');
  return {
    start: [
      `rm -rf ${scratch} && mkdir -p ${scratch} && chmod 0777 ${scratch}`,
      `${asPg}${bin}/initdb -D ${data} -U postgres --auth=trust -E UTF8 --locale=C --no-sync --no-instructions > /dev/null`,
      `${asPg}${bin}/pg_ctl -D ${data} -l ${scratch}/log -w -o "-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${scratch} -c fsync=off" start > /dev/null`,
    ].join(' && '),
    stop: `${asPg}${bin}/pg_ctl -D ${data} -m immediate stop > /dev/null && rm -rf ${scratch}`,
  };
}

/** The baseline: a fresh cluster, pg_restore -j 2 of the dump, stopped and removed. */
function bareRestore(dump, port, scratch) {
  const s = freshServer(port, scratch);
  const bin = pgBin();
  return [
    s.start,
    `${bin}/createdb -h 127.0.0.1 -p ${port} -U postgres restored`,
    `${bin}/pg_restore --no-owner --no-privileges --exit-on-error -j 2 -h 127.0.0.1 -p ${port} -U postgres -d restored ${dump}`,
    s.stop,
  ].join(' && ');
}

/** ~`mb` MB of files: nine tenths random bytes (photos, archives), one tenth text. */
function fillBig(dir, mb) {
  mkdirSync(dir, { recursive: true });
  const chunk = 32 * 2 ** 20;
  const random = Math.round(mb * 0.9 * 2 ** 20);
  for (let i = 0, made = 0; made < random; i++) {
    const n = Math.min(chunk, random - made);
    writeFileSync(join(dir, `media-${i}.bin`), randomBytes(n));
    made += n;
  }
  const line = 'invoice 2026-11-21 customer 4711 paid 129.00 EUR by card; shipped by express carrier, tracking 1Z999\n';
  writeFileSync(join(dir, 'ledger.txt'), line.repeat(Math.round((mb * 0.1 * 2 ** 20) / line.length)));
}

/** `count` small files (0.5–4 KiB of text and some random bytes) in folders of 1,000. */
function fillSmall(dir, count) {
  const words = 'order shipped invoice refund customer warehouse delayed priority express parcel label carrier'.split(
    ' ',
  );
  const pool = randomBytes(1 << 20);
  for (let i = 0; i < count; i++) {
    const sub = join(dir, `d${String(Math.floor(i / 1000)).padStart(3, '0')}`);
    if (i % 1000 === 0) mkdirSync(sub, { recursive: true });
    const size = 512 + ((i * 2654435761) % 3584);
    const text = Array.from({ length: Math.ceil(size / 16) }, (_, k) => words[(i + k) % words.length]).join(' ');
    const at = (i * 4099) % (pool.length - 256);
    writeFileSync(
      join(sub, `f${i}.txt`),
      Buffer.concat([Buffer.from(text.slice(0, size - 128)), pool.subarray(at, at + 128)]),
    );
  }
}

const fmtS = (s) => (s === null || s === undefined ? '—' : `${Number(s).toFixed(s < 10 ? 1 : 0)} s`);

export async function run() {
  const work = mkdtempSync(join(process.env.BENCH_TMPDIR ?? tmpdir(), 'lifeboat-bench-restore-'));
  chmodSync(work, 0o755);
  const env = { LIFEBOAT_HOME: join(work, 'home') };
  const lb = (...args) =>
    execFileSync(process.execPath, [LIFEBOAT, ...args], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
      maxBuffer: 256 * 2 ** 20,
    }).trim();
  const json = (...args) => JSON.parse(lb(...args, '--json'));
  lb('keys', 'signing-new', '--out', join(work, 'sign.pem'));
  lb('keys', 'trust', join(work, 'sign.pem.pub'));
  const identity = join(work, 'id.age');
  const recipient = lb('keys', 'age-new', '--out', identity);
  const medium = join(work, 'medium');
  lb('medium', 'init', medium, '--label', 'bench-restore');
  /** A signed, encrypted backup of `system` onto the bench's medium. */
  const backup = (kind, system, ...what) =>
    lb(
      'backup',
      kind,
      '--system',
      system,
      ...what,
      '--to',
      medium,
      '--recipient',
      recipient,
      '--sign-key',
      join(work, 'sign.pem'),
    );
  const newestKey = (system) =>
    json('sets', '--system', system)[0]?.key ?? json('sets', '--system', system).sets[0].key;

  // Cold: every run of every candidate starts from an empty page cache.
  const coldRefused = dropCaches();
  /** The modes a path runs in here: cold falls back to warm where the kernel refuses to drop caches. */
  const modesOf = (path) => {
    const wanted = MODES_OF(path).map((m) => (m === 'cold' && coldRefused ? 'warm' : m));
    return [...new Set(wanted)];
  };
  const prepareFor = (mode, prepare) => () => {
    prepare?.();
    if (mode === 'cold') dropCaches();
  };
  /** Runs the candidates in every mode: { warm: rows, cold: rows }. */
  const inModes = (modes, candidates) =>
    Object.fromEntries(
      modes.map((mode) => {
        console.error(`  ${mode}…`);
        return [
          mode,
          compare(
            RUNS,
            candidates.map((c) => ({ ...c, prepare: prepareFor(mode, c.prepare) })),
          ),
        ];
      }),
    );
  const table = (byMode, baseIndex, extra = () => '') => {
    const modes = Object.keys(byMode);
    const heads = modes.map((m) => `${m} (median of ${RUNS})`);
    const out = [
      `| command | ${heads.join(' | ')} | ${modes.map((m) => `${m} vs baseline`).join(' | ')} | peak RSS |${extra(null) ? ` ${extra(null)} |` : ''}`,
      `|${' --- |'.repeat(1 + modes.length * 2 + 1 + (extra(null) ? 1 : 0))}`,
    ];
    const rows = byMode[modes[0]];
    rows.forEach((r, i) => {
      const walls = modes.map((m) => `${byMode[m][i].wall.toFixed(2)} s`);
      const ratios = modes.map((m) => `${(byMode[m][i].wall / byMode[m][baseIndex].wall).toFixed(2)}×`);
      const rss = Math.max(...modes.map((m) => byMode[m][i].rssMiB));
      out.push(
        `| \`${r.name}\` | ${walls.join(' | ')} | ${ratios.join(' | ')} | ${rss.toFixed(0)} MiB |${extra(null) ? ` ${extra(i)} |` : ''}`,
      );
    });
    return out;
  };

  const load0 = loadavg();
  const t0 = Date.now();
  const parts = [];
  /** Times one part of the bench (its preparation included), for the section's last line. */
  const timed = async (name, fn) => {
    const start = Date.now();
    try {
      return await fn();
    } finally {
      parts.push(`${name} ${((Date.now() - start) / 1000).toFixed(0)} s`);
    }
  };
  const sections = [
    '### Restores',
    '',
    `Every path an operator takes to get data back, each beside its baseline in the same run, median of ${RUNS}, peak RSS of the process tree (GNU time: its largest single process; PostgreSQL servers started by \`pg_ctl\` detach and are not counted, on either side). **Warm**: the page cache holds the medium (runs in a row); **cold**: \`sync; echo 3 > /proc/sys/vm/drop_caches\` before every run of every candidate and baseline, as a USB drive at the DR site reads (programs and PostgreSQL's binaries are read cold too, on both sides).${coldRefused ? ` **Cold runs were not possible here: ${coldRefused}** — warm only.` : ''} To fit the suite, each path runs by default in the mode that matters for it: the realistic dataset and the files cold, pgbench warm (its set is 3 MiB: cold adds only the programs' start); \`RESTORE_MODES=warm,cold\` runs both everywhere. Only CLI commands are timed. The forecast column is what the RTO forecast (runbooks/forecast.ts) said before the last timed run of that path, from the steps of the runs before it, beside that run's measured time (with one run there is nothing to forecast from).`,
    '',
  ];
  /** A table for the section, said on stderr as well: a run cut short still shows what it measured. */
  const add = (...lines) => {
    sections.push(...lines);
    console.error(lines.join('\n'));
  };
  try {
    // ---- logical sets ------------------------------------------------------------------
    if (PG_SETS.some(Boolean) || DIR_SETS.some(Boolean)) {
      const { cluster, datasets } = await timed('the datasets (shared with the backup bench)', () =>
        sharedDatasets('restore'),
      );
      for (const { db, title } of datasets.filter((d) => PG_SETS.includes(d.db) || DIR_SETS.includes(d.db))) {
        if (PG_SETS.includes(db))
          await timed(`${db} (${modesOf(db).join(', ')})`, async () => {
            console.error(`bench restore: ${db}: a Lifeboat set and a pg_dump -Fc file…`);
            backup('pg', db, '--db', cluster.url(db));
            const key = newestKey(db);
            const setDir = join(medium, 'sets', key);
            const dump = join(work, `${db}.dump`);
            execSync(`${pgBin()}/pg_dump -Fc -f ${dump} ${cluster.url(db)}`);
            const port = await freePort();
            const scratch = join(work, 'scratch');
            const server = freshServer(port, scratch);
            const target = `postgres://postgres@127.0.0.1:${port}/postgres`;
            const runbook = `node ${LIFEBOAT} run database-corruption --drill --yes --input system=${db} --input good_before=2100-01-01T00:00:00Z --identity ${identity} --json`;
            const candidates = [
              {
                name: 'initdb + lifeboat restore pg',
                command: () =>
                  `${server.start} && node ${LIFEBOAT} restore pg ${key} --target ${target} --database restored --identity ${identity} --json && ${server.stop}`,
                env,
              },
              { name: 'lifeboat run database-corruption --drill', command: () => runbook, env },
              {
                name: 'lifeboat verify --level restore',
                command: () => `node ${LIFEBOAT} verify ${key} --level restore --identity ${identity} > /dev/null`,
                env,
              },
              { name: 'initdb + pg_restore -j 2 (pg_dump -Fc file)', command: () => bareRestore(dump, port, scratch) },
            ];
            console.error(`bench restore: ${db}: timed runs…`);
            const byMode = inModes(modesOf(db), candidates);
            const forecasts = pgForecasts(byMode);
            add(
              `#### ${title}`,
              '',
              ...table(byMode, 3, (i) =>
                i === null
                  ? 'forecast / measured (one run)'
                  : forecasts[i]
                    ? `${fmtS(forecasts[i].forecast)}${forecasts[i].planned ? ` (+ ${fmtS(forecasts[i].planned)} planned)` : ''} / ${fmtS(forecasts[i].measured)}`
                    : '—',
              ),
              '',
              'Goals (issue 22), warm and cold: `restore pg` and the runbook ≤ 1.10×, `verify --level restore` ≤ 1.15× the baseline.',
              '',
              `Set ${mib(duBytes(setDir))} MiB (zstd + age); pg_dump -Fc file ${mib(duBytes(dump))} MiB. The runbook's time is the whole drill, people's steps answered by --yes (its plan, select, one-pass verify and restore, scratch server, validation and report steps; the forecast beside it is that of its automated steps, with apart the planned time the runbook gives steps nothing has measured — its validation's \`expected: 10m\`): ${forecasts.steps}. \`verify --level restore\` is no run, so no forecast.`,
              '',
            );
            rmSync(dump, { force: true });
          });
        if (DIR_SETS.includes(db))
          await timed(`${db} directory format (${modesOf(db).join(', ')})`, async () => {
            console.error(`bench restore: ${db}: a directory-format Lifeboat set and a pg_dump -Fd folder…`);
            const system = `${db}-dir`;
            backup('pg', system, '--db', cluster.url(db), '--format', 'directory', '--jobs', '2');
            const key = newestKey(system);
            const folder = join(work, `${db}.dir`);
            execSync(`${pgBin()}/pg_dump -Fd -Z0 -j 2 -f ${folder} ${cluster.url(db)}`);
            const port = await freePort();
            const scratch = join(work, 'scratch');
            const server = freshServer(port, scratch);
            const target = `postgres://postgres@127.0.0.1:${port}/postgres`;
            const restorePg = `node ${LIFEBOAT} restore pg ${key} --target ${target} --database restored --jobs 2 --identity ${identity} --json`;
            const candidates = [
              {
                name: 'initdb + lifeboat restore pg (overlapped with the decode)',
                command: () => `${server.start} && ${restorePg} && ${server.stop}`,
                env,
              },
              {
                name: 'initdb + lifeboat restore pg (decoded whole first)',
                command: () => `${server.start} && ${restorePg} && ${server.stop}`,
                env: { ...env, LIFEBOAT_DIR_OVERLAP: '0' },
              },
              {
                name: 'initdb + pg_restore -j 2 (pg_dump -Fd folder)',
                command: () => bareRestore(folder, port, scratch),
              },
            ];
            console.error(`bench restore: ${db} directory format: timed runs…`);
            const byMode = inModes(modesOf(db), candidates);
            add(
              `#### ${title}, directory format`,
              '',
              ...table(byMode, 2),
              '',
              `Set ${mib(duBytes(join(medium, 'sets', key)))} MiB (zstd + age); pg_dump -Fd folder ${mib(duBytes(folder))} MiB. The overlapped restore places each file of the dump once it matches its signed SHA-256 and size, restores pre-data once toc.dat passed, each table as soon as its file passed (up to 2 at a time), post-data (-j 2) after the whole artifact passed the gate.`,
              '',
            );
            rmSync(folder, { recursive: true, force: true });
          });
      }
    }

    // ---- files sets --------------------------------------------------------------------
    for (const which of FILE_SETS.filter(Boolean))
      await timed(`files ${which} (${modesOf(which).join(', ')})`, async () => {
        const src = join(work, `src-${which}`);
        const title =
          which === 'big'
            ? `~${BIG_MB} MB of files, nine tenths incompressible (in files of 32 MiB) and one tenth text (one file)`
            : `A tree of ${SMALL_FILES.toLocaleString('en')} small files (0.5–4 KiB, text) in folders of 1,000`;
        console.error(`bench restore: files (${which}): writing the data and backing it up three ways…`);
        if (which === 'big') fillBig(src, BIG_MB);
        else fillSmall(src, SMALL_FILES);
        const bytes = duBytes(src);
        const system = `files-${which}`;
        backup('files', system, '--path', src);
        const key = newestKey(system);
        const repo = join(work, `restic-${which}`);
        const resticEnv = { RESTIC_PASSWORD: 'bench', RESTIC_CACHE_DIR: join(work, 'restic-cache') };
        execSync(`restic init --repo ${repo} -q && restic backup --repo ${repo} -q ${src}`, {
          env: { ...process.env, ...resticEnv },
        });
        const tarball = join(work, `${which}.tar.zst`);
        execSync(`tar -C ${work} -cf - src-${which} | zstd -3 -T2 -q -o ${tarball}`, { shell: '/bin/bash' });
        const out = join(work, 'out');
        const clean = () => rmSync(out, { recursive: true, force: true });
        const lifeboatFiles = `node ${LIFEBOAT} restore files ${key} --to ${out} --identity ${identity} --json`;
        const candidates = [
          { name: 'lifeboat restore files', prepare: clean, command: () => lifeboatFiles, env },
          {
            name: 'restic restore',
            prepare: clean,
            command: () => `restic restore latest --repo ${repo} --target ${out} -q`,
            env: resticEnv,
          },
          {
            name: 'zstd -d | tar -x',
            prepare: () => {
              clean();
              mkdirSync(out);
            },
            command: () => `zstd -d -c -q ${tarball} | tar -x -C ${out}`,
          },
        ];
        console.error(`bench restore: files (${which}): timed runs…`);
        const modes = modesOf(which);
        const byMode = inModes(modes, candidates);
        clean();
        const one = lastRun(byMode, 0);
        const rate = (r) => `${(bytes / 2 ** 20 / r.wall).toFixed(0)} MiB/s`;
        add(
          `#### Files: ${title} — ${mib(bytes)} MiB`,
          '',
          ...table(byMode, 2, (i) =>
            i === null ? `throughput (${modes.join(' / ')})` : modes.map((m) => rate(byMode[m][i])).join(' / '),
          ),
          '',
          ...modes.map(
            (m) =>
              `${m}: Lifeboat's throughput **${(byMode[m][1].wall / byMode[m][0].wall).toFixed(2)}× restic's** (goal ≥ 1.5×), its time **${(byMode[m][0].wall / byMode[m][2].wall).toFixed(2)}× the tar pipeline's** (goal ≤ 1.2×; the pipeline neither decrypts nor checks a hash).`,
          ),
          '',
          `Set ${mib(duBytes(join(medium, 'sets', key)))} MiB, restic repository ${mib(duBytes(repo))} MiB, tar.zst ${mib(duBytes(tarball))} MiB. Forecast of \`lifeboat restore files\` / measured, one run: ${fmtS(one.forecast)} / ${fmtS(one.measured)}.`,
          '',
        );
        rmSync(src, { recursive: true, force: true });
        rmSync(repo, { recursive: true, force: true });
        rmSync(tarball, { force: true });
      });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const load1 = loadavg();
  const la = (l) => l.map((x) => x.toFixed(2)).join(', ');
  const timing = `This run: ${RUNS} run${RUNS === 1 ? '' : 's'} of each candidate; load average (1, 5, 15 min) ${la(load0)} at the start and ${la(load1)} at the end, on ${cpus().length} CPUs; the parts took ${parts.join(', ')} (${((Date.now() - t0) / 60000).toFixed(1)} min in all).`;
  return [...sections, timing, '', ...NOTES].join('\n');
}

/**
 * Where the time goes on the merged code (threaded decoder, one pass), from `node --cpu-prof` of
 * one run and the run's own step times (2026-12-02, a machine at load ~12): what closes the gaps.
 */
const NOTES = [
  '#### Where the time goes (merged code: threaded decoder, one pass; profiles of 2026-12-02)',
  '',
  "- **`restore pg`** (`--cpu-prof` of one run of a 400,000-row realistic set, 26 MiB stored, at load ~12): 8.6 s wall, of which the main thread was idle 5.8 s waiting on `pg_restore` (the step's `restore_ms` 5.1 s, against 3.0 s for `createdb` + `pg_restore -j 2` of the same data beside it). Its busy 2.4 s: the dump's decode (a set stored in less than 32 MiB keeps the stream stages on the main thread: zstd 0.3 s, SHA-256 0.2 s, writing the file 0.4 s), module loading 0.35 s, the run's journal and report. Sets of 32 MiB and more (the realistic set here, 107 MiB) decode on the two decoder threads. One decode, not two: the gate's checks and the deep check share it. What is left: the dump is decoded whole to a file **before** `pg_restore -j 2` starts (`-j` needs a seekable file; streaming a custom-format dump is not in this tree; a directory-format set made by this version is restored while it decodes, see its own table), and the restore inside the step (restore role, its grants, the forbidden-installs check, `pg_restore --verbose` as that role) took longer than the bare one beside it — not yet split.",
  "- **The database-corruption drill** is one pass now: its `verify` step checks the manifest, signature and sizes (0.2 s) and leaves the deep check to the restore step, which reads the set once. On top of `restore pg`: the scratch server (initdb, start), the validation queries and the report. Its forecast keeps the runbook's planned 10 minutes for the validation (`expected: 10m`; nothing measures `check.sql`), shown apart from the measured parts.",
  "- **`verify --level restore`**: one pass (the deep check writes the decoded dump the restore test uses; the scratch server starts while the dump decodes). The gap is that of `restore pg`: decode, then `pg_restore`, then the validation queries and the scratch server's removal.",
  "- **Peak RSS** of the pg and files restores is 147–212 MiB in this run (goal < 150 MiB), above the 119–152 MiB of the earlier, single-threaded run: the process now holds the decoder's two worker threads (each its own V8 heap; the blocks between them are only 9 × 1 MiB). Not yet attributed further: a heap snapshot per thread would say what to trim (smaller worker heaps via `resourceLimits`, fewer live blocks).",
  "- **`restore files`** (`--cpu-prof` of one restore of 10,000 small files, load ~12): 10.7 s wall, the main thread idle 5.3 s — waiting on the libuv pool, since each file is its own chain of awaited calls (open, write, close, lstat, chmod, lutimes, lchown: ~1.6 s of their JavaScript side), one file at a time; the rest GC (0.3 s), tar parsing, the index's SQLite transactions (0.1 s) and module loading (0.5 s). What closes it: several files in flight at once (as `restic restore` writes), and fewer calls a file (times and mode set on the open handle). For the 500 MB tree the decode runs on the two threads and the writes on the pool (see Decoder); it was not re-profiled in this round.",
  '- **`restore pg-pitr`** (see Point-in-time recovery): peak RSS was the WAL read whole (stored bytes, decoded pieces, the joined 16 MiB: ~40 MiB a segment) with dead buffers piling up to ~100 MiB before V8 collected them, plus a 16 MiB-semi-space young generation: first bounded by a forced collection before each read and 1 MiB semi-spaces (222–227 → 146–153 MiB on a 600,000-row realistic archive). Each segment now streams from the medium into one reused 16 MiB plaintext buffer (`pitr/wal-archive.ts`), with no forced collection: 138–146 MiB on pgbench archives of 130–155 MiB of WAL (151–153 with the collection, same archives); the WAL read is no longer the peak, the 1 MiB young generation still matters (155–180 MiB without it).',
  '',
];

/** The forecast of a run (the runbook's seconds, or one step's) next to its measured seconds. */
function stepSeconds(step) {
  return step?.startedAt && step?.finishedAt ? (Date.parse(step.finishedAt) - Date.parse(step.startedAt)) / 1000 : null;
}

/** The last timed run of candidate `i` (in the last mode run): its --json output and its wall seconds. */
function lastRun(byMode, i) {
  const rows = Object.values(byMode).at(-1);
  const r = rows[i];
  const n = r.walls.length - 1;
  let out = null;
  try {
    out = JSON.parse(r.stdouts[n]);
  } catch {
    // no JSON (a failed parse leaves the forecast unknown, not the bench failed)
  }
  return { out, forecast: out?.forecast?.seconds ?? null, measured: r.walls[n] };
}

/**
 * The forecast of each pg path's last timed run (a runbook run says it before it starts; `restore
 * pg` is a short run of a hidden runbook) beside its measured time. `verify --level restore` is no
 * run: nothing forecasts it (a runbook's verify.set at level restore would).
 */
function pgForecasts(byMode) {
  const restore = lastRun(byMode, 0);
  const drillRun = lastRun(byMode, 1);
  const drill = drillRun.out ?? { steps: [] };
  const part = (id) => drill.forecast?.parts?.find((p) => p.step === id);
  const step = (id) => drill.steps?.find((s) => s.id === id);
  // A drill answers people's steps at once: its forecast is compared without their planned time.
  // Steps without an estimate (the plan: no measurement to go by) count as nothing; steps that
  // keep the runbook's planned time (nothing measured them: the validation's 10 minutes) apart.
  const auto = (drill.forecast?.parts ?? []).filter(
    (p) => step(p.step)?.kind === 'action' && step(p.step)?.status !== 'skipped',
  );
  const sum = (ps) => ps.reduce((n, p) => n + (p.seconds ?? 0), 0);
  const isPlanned = (p) => /planned time in the runbook/.test(p.basis ?? '');
  const automated = drill.forecast ? sum(auto.filter((p) => !isPlanned(p))) : null;
  const planned = drill.forecast ? sum(auto.filter(isPlanned)) : 0;
  return Object.assign(
    [
      { forecast: restore.forecast, measured: restore.measured },
      { forecast: automated, planned, measured: drillRun.measured },
      null,
      null,
    ],
    {
      steps:
        ['verify', 'restore']
          .filter((id) => step(id))
          .map((id) => `${id} step forecast ${fmtS(part(id)?.seconds)}, measured ${fmtS(stepSeconds(step(id)))}`)
          .concat(
            drill.forecast
              ? [`the automated steps' forecast by step: ${auto.map((p) => `${p.step} ${fmtS(p.seconds)}`).join(', ')}`]
              : [],
          )
          .join('; ') || 'no step times (the drill said no JSON)',
    },
  );
}
