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
// a runbook's forecast says before the run) is printed next to the measured time of one run.
// Knobs: BENCH_RUNS, RESTORE_MODES (warm,cold), RESTORE_DATASETS (realistic,pgbench),
// RESTORE_FILES (big,small), RESTORE_FILES_MB, RESTORE_SMALL_FILES; the dataset sizes of lib.mjs.
import { execFileSync, execSync } from 'node:child_process';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIFEBOAT, compare, dropCaches, duBytes, freePort, mib, pgBin, sharedDatasets } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const MODES = (process.env.RESTORE_MODES ?? 'warm,cold').split(',');
const PG_SETS = (process.env.RESTORE_DATASETS ?? 'realistic,pgbench').split(',');
const FILE_SETS = (process.env.RESTORE_FILES ?? 'big,small').split(',');
const BIG_MB = Number(process.env.RESTORE_FILES_MB ?? 500);
const SMALL_FILES = Number(process.env.RESTORE_SMALL_FILES ?? 100_000);
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
  const coldRefused = MODES.includes('cold') ? dropCaches() : null;
  const modes = MODES.filter((m) => m === 'warm' || !coldRefused);
  const prepareFor = (mode, prepare) => () => {
    prepare?.();
    if (mode === 'cold') dropCaches();
  };
  /** Runs the candidates in every mode: { warm: rows, cold: rows }. */
  const inModes = (candidates) =>
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

  const sections = [
    '### Restores',
    '',
    `Every path an operator takes to get data back, each beside its baseline in the same run, median of ${RUNS}, peak RSS of the process tree (GNU time: its largest single process; PostgreSQL servers started by \`pg_ctl\` detach and are not counted, on either side). **Warm**: the page cache holds the medium (runs in a row); **cold**: \`sync; echo 3 > /proc/sys/vm/drop_caches\` before every run of every candidate and baseline, as a USB drive at the DR site reads (programs and PostgreSQL's binaries are read cold too, on both sides).${coldRefused ? ` **Cold runs were not possible here: ${coldRefused}** — warm only.` : ''} Only CLI commands are timed. The forecast column is what the RTO forecast (runbooks/forecast.ts) said before one more run of that path, from the steps of the runs before it (the timed ones, warm and cold), beside that run's measured time.`,
    '',
  ];
  /** A table for the section, said on stderr as well: a run cut short still shows what it measured. */
  const add = (...lines) => {
    sections.push(...lines);
    console.error(lines.join('\n'));
  };
  try {
    // ---- logical sets ------------------------------------------------------------------
    if (PG_SETS.some(Boolean)) {
      const { cluster, datasets } = await sharedDatasets('restore');
      for (const { db, title } of datasets.filter((d) => PG_SETS.includes(d.db))) {
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
              `${server.start} && node ${LIFEBOAT} restore pg ${key} --target ${target} --database restored --identity ${identity} > /dev/null && ${server.stop}`,
            env,
          },
          { name: 'lifeboat run database-corruption --drill', command: () => `${runbook} > /dev/null`, env },
          {
            name: 'lifeboat verify --level restore',
            command: () => `node ${LIFEBOAT} verify ${key} --level restore --identity ${identity} > /dev/null`,
            env,
          },
          { name: 'initdb + pg_restore -j 2 (pg_dump -Fc file)', command: () => bareRestore(dump, port, scratch) },
        ];
        console.error(`bench restore: ${db}: timed runs…`);
        const byMode = inModes(candidates);
        console.error(`bench restore: ${db}: the forecasts of one more run of each path…`);
        const forecasts = pgForecasts({ json, env, server, key, target, identity, runbook });
        add(
          `#### ${title}`,
          '',
          ...table(byMode, 3, (i) =>
            i === null
              ? 'forecast / measured (one run)'
              : forecasts[i]
                ? `${fmtS(forecasts[i].forecast)} / ${fmtS(forecasts[i].measured)}`
                : '—',
          ),
          '',
          'Goals (issue 22), warm and cold: `restore pg` and the runbook ≤ 1.10×, `verify --level restore` ≤ 1.15× the baseline.',
          '',
          `Set ${mib(duBytes(setDir))} MiB (zstd + age); pg_dump -Fc file ${mib(duBytes(dump))} MiB. The runbook's time is the whole drill, people's steps answered by --yes (its plan, select, deep verify, scratch server, restore, validation and report steps; the forecast beside it is that of its automated steps): ${forecasts.steps}. \`verify --level restore\` is no run, so no forecast.`,
          '',
        );
      }
    }

    // ---- files sets --------------------------------------------------------------------
    for (const which of FILE_SETS.filter(Boolean)) {
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
      const lifeboatFiles = `node ${LIFEBOAT} restore files ${key} --to ${out} --identity ${identity}`;
      const candidates = [
        { name: 'lifeboat restore files', prepare: clean, command: () => `${lifeboatFiles} > /dev/null`, env },
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
      const byMode = inModes(candidates);
      console.error(`bench restore: files (${which}): the forecast of one more run…`);
      clean();
      const one = filesForecast(json, key, out, identity);
      clean();
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
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return [...sections, ...NOTES].join('\n');
}

/**
 * Where the time goes, from profiles of the whole process (`node --cpu-prof`, the job log's step
 * times) made when this bench was written (2026-12-02, a machine at load ~20): what closes the gaps.
 */
const NOTES = [
  '#### Where the time goes (profiles of 2026-12-02)',
  '',
  "- **`restore pg` and the runbook's restore step**: the gate decodes the whole dump (stored SHA-256, age, zstd, plaintext SHA-256, all on the main thread) into the run's folder *before* `pg_restore -j 2` starts, so decode and restore add up instead of overlapping; then the CLI's own start (~0.5 s of module loading), the run's journal and report. What closes it: the decoder on threads and, for custom-format dumps, streaming or decode-to-file chosen by size (issue 22, items 1 and 3).",
  "- **The database-corruption drill** is two passes over the set: its `verify` step (deep: a whole decode and `pg_restore --list`) and then the restore step's own decode, plus a scratch server (initdb) and the validation and report steps. One verified pass (issue 22, item 2) removes the first decode.",
  '- **`verify --level restore`**: a deep pass, then a second decode for the test restore into a scratch server it creates (initdb) — the same two passes; one pass closes it.',
  "- **`restore files`**, 20,000 small files (`--cpu-prof`): a third of the process's time was `IndexStore.markDone`, one SQLite transaction per restored file (now batched in transactions of 4,096, restore/index-store.ts); then opening, writing and closing each file, owners and times, the SHA-256 of each file and the module loading. 128 MiB of random data: SHA-256 (stored and plaintext) and age on the main thread are most of the CPU; waiting on the disk the rest. What closes it: decoding on threads with the main thread only writing (item 1), and writing small files from more than one thread, as `restic restore` does.",
  '- **`restore pg-pitr`** (see Point-in-time recovery): peak RSS was the WAL read whole (stored bytes, decoded pieces, the joined 16 MiB: ~40 MiB a segment) with dead buffers piling up to ~100 MiB before V8 collected them, plus a 16 MiB-semi-space young generation: now collected before each read and 1 MiB semi-spaces (222–227 → 146–153 MiB on a 600,000-row realistic archive). Each segment now streams from the medium into one reused 16 MiB plaintext buffer (`pitr/wal-archive.ts`), with no forced collection: 138–146 MiB on pgbench archives of 130–155 MiB of WAL (151–153 with the collection, same archives); the WAL read is no longer the peak, the 1 MiB young generation still matters (155–180 MiB without it).',
  '',
];

/** The forecast of a run (the runbook's seconds, or one step's) next to its measured seconds. */
function stepSeconds(step) {
  return step?.startedAt && step?.finishedAt ? (Date.parse(step.finishedAt) - Date.parse(step.startedAt)) / 1000 : null;
}

/**
 * One run of each pg path, not timed with the others: the forecast the run made before it started
 * (a runbook run says it; `restore pg` is a short run of a hidden runbook) and its measured time.
 * `verify --level restore` is no run: its forecast is the runbook step verify.set at that level.
 */
function pgForecasts({ json, env, server, key, target, identity, runbook }) {
  execSync(server.start, { shell: '/bin/bash' });
  let restore;
  try {
    const t0 = Date.now();
    restore = json('restore', 'pg', key, '--target', target, '--database', 'restored', '--identity', identity);
    restore.measured = (Date.now() - t0) / 1000;
  } finally {
    execSync(server.stop, { shell: '/bin/bash' });
  }
  const t1 = Date.now();
  const drill = JSON.parse(
    execSync(runbook, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 2 ** 20 }),
  );
  const drillSeconds = (Date.now() - t1) / 1000;
  const part = (id) => drill.forecast?.parts.find((p) => p.step === id);
  const step = (id) => drill.steps.find((s) => s.id === id);
  // A drill answers people's steps at once: its forecast is compared without their planned time.
  // Steps without an estimate (the plan, the validation: no measurement to go by) count as nothing.
  const automated = (drill.forecast?.parts ?? [])
    .filter((p) => step(p.step)?.kind === 'action' && step(p.step)?.status !== 'skipped')
    .reduce((n, p) => n + (p.seconds ?? 0), 0);
  return Object.assign(
    [
      { forecast: restore.forecast?.seconds ?? null, measured: restore.measured },
      { forecast: automated, measured: drillSeconds },
      // `verify --level restore` is no run: nothing forecasts it (a runbook's verify.set at level restore would).
      null,
      null,
    ],
    {
      steps: ['verify', 'restore']
        .map((id) => `${id} step forecast ${fmtS(part(id)?.seconds)}, measured ${fmtS(stepSeconds(step(id)))}`)
        .join('; '),
    },
  );
}

function filesForecast(json, key, out, identity) {
  const t0 = Date.now();
  const r = json('restore', 'files', key, '--to', out, '--identity', identity);
  return { forecast: r.forecast?.seconds ?? null, measured: (Date.now() - t0) / 1000 };
}
