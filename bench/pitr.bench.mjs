// Point-in-time recovery (issue: PITR), side by side with pgBackRest on the same cluster: both
// archive every WAL segment (one archive_command feeding both), both take a full base backup,
// then a pgbench workload writes WAL; each restores to the same target time into an empty data
// directory and replays to promotion. Also WAL archiving throughput: segments per second of
// `lifeboat wal-push` vs `pgbackrest archive-push`, one process per segment as PostgreSQL runs them.
// And pgBackRest's own repository restored by Lifeboat (restore pg-pitr --from <repo>, no pgbackrest)
// against `pgbackrest restore --type=time` of that same repository (issue 19).
// Both sides compress with zstd level 3 and encrypt (age / aes-256-cbc). Two datasets, each on
// its own cluster: pgbench -s 30 with pgbench's own workload, and the realistic table (text,
// numbers, timestamps, jsonb) with a workload updating and inserting its rows, so base backups
// and WAL compress as real data does rather than ~50× like pgbench's blank-padded rows. Each
// cluster is a physical copy of the suite's shared datasets (lib.mjs cloneDataset: loaded once for
// the backup, PITR and restore benches) with the other database dropped.
import { execFileSync, execSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIFEBOAT, compare, dropCaches, cloneDataset, duBytes, mib, pgBin, pgbackrestConf } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WORKLOAD_SECONDS = Number(process.env.PITR_WORKLOAD_SECONDS ?? 60);
// Real rows make more WAL per second (full pages that compress ~2×): 30 s give as much as
// pgbench's 60 s, and keep the suite under 20 minutes.
const REALISTIC_WORKLOAD_SECONDS = Number(process.env.PITR_REALISTIC_WORKLOAD_SECONDS ?? 30);
const PUSH_SEGMENTS = Number(process.env.PITR_PUSH_SEGMENTS ?? 24);
// Cold (issue 22): Lifeboat's restore and pgBackRest's again with the page cache emptied before every run, as a USB drive at the DR site reads.
// By default only for the realistic dataset (to fit the suite's 25 minutes, as the restore bench
// does): pgbench's base and WAL are stored in a few tens of MiB, so cold adds little but the
// programs' start. PITR_MODES=warm,cold runs both datasets cold too.
const coldFor = (key) =>
  (process.env.PITR_MODES ?? (key === 'realistic' ? 'warm,cold' : 'warm')).split(',').includes('cold');

const uid = () => Number(execSync('id -u postgres').toString());
const gid = () => Number(execSync('id -g postgres').toString());
const asPg = (cmd) => (process.getuid() === 0 ? `runuser -u postgres -- bash -c ${JSON.stringify(cmd)}` : cmd);

function chownTree(path) {
  if (process.getuid() === 0) execSync(`chown -R postgres:postgres ${JSON.stringify(path)}`);
}

// The realistic workload: random updates of notes and amounts (new row versions all over the
// table, so full-page images of real data), and inserts, from 2 clients.
const REALISTIC_WORKLOAD = [
  '\\set id random(1, 1700000)',
  "UPDATE events SET amount = amount + 1, note = note || ' ' || substr(md5(random()::text), 1, 8) WHERE id = :id;",
  "INSERT INTO events (id, customer_id, kind, amount, created_at, note, ref, payload) VALUES (2000000 + (random() * 1e12)::bigint, :id % 50000, 'order', 12.5, now(), 'workload ' || md5(random()::text), substr(md5(random()::text), 1, 20), jsonb_build_object('qty', :id % 7)) ON CONFLICT DO NOTHING;",
  '',
].join('\n');

const DATASETS = [
  {
    key: 'pgbench',
    workload: '',
    seconds: WORKLOAD_SECONDS,
    push: true,
  },
  {
    key: 'realistic',
    workload: REALISTIC_WORKLOAD,
    seconds: REALISTIC_WORKLOAD_SECONDS,
    push: false,
  },
];

export async function run() {
  const only = process.env.PITR_DATASETS?.split(',');
  const sections = [];
  for (const d of DATASETS) if (!only || only.includes(d.key)) sections.push(await runDataset(d));
  return ['### Point-in-time recovery', '', ...sections, ...NOTES].join('\n');
}

/**
 * Where the time of `restore pg-pitr` goes (2026-12-02, a machine shared at load 14–20): what the
 * tables above cannot say, and what was changed for it.
 */
export const NOTES = [
  '#### Where the time goes (profiles of 2026-12-02)',
  '',
  "- **WAL is not fetched by a process per segment.** `restore pg-pitr` reads, checks (signature policy, stored hash and size, plaintext hash and size) and decodes every segment in its own process, one after another, into a local spool ahead of replay (`pitr/wal-spool.ts`; four segments while the base is extracted, the rest during replay). PostgreSQL's `restore_command` is a three-line `sh` script (`pitr/restore-command.sh`) that waits for the proven file and puts it where PostgreSQL asked: no Node start on replay's path.",
  "- **A whole restore, process tree** (`--cpu-prof` of the CLI, and `/proc` sampled every 50 ms for the process and the PostgreSQL it starts; pgbench -s 10 and 20 s of workload, 6 segments, at load ~14): 15.0 s wall, Lifeboat 3.3 s of CPU, PostgreSQL 0.4 s — the rest was waiting for a share of the 2 cores. By phase: Node and the CLI loaded 2.2 s (0.7 s of CPU compiling the bundle), the plan 1.1 s (listing, signature sidecars, the last segments decoded for `pg_waldump`), extraction of the base 4.8 s (zstd, the plaintext SHA-256, the tar, PostgreSQL's `backup_manifest` checksums, writes through the libuv pool), the server's start until its first `restore_command` 2.8 s, replay 1 s, promotion and stop 2.8 s. Decoding WAL was 0.6 s of the main thread (zstd into the reused 16 MiB buffer 0.47 s). The job logs of the pgbench -s 30 runs (278 MiB of WAL, load ~14) say the same shape: extraction 7–14 s, server start + replay + promotion 12–23 s.",
  "- **Changed after these profiles**: the spool's files are written atomically but no longer durably (two fsyncs a 16 MiB segment the fetch waited for, for a scratch folder removed when replay ends), and `restore_command` hard-links the proven file into `pg_wal` when the spool and the data directory share a file system (a copy otherwise, as before) — replay waits for `restore_command`, and the 16 MiB copy a segment was on its path (50–100 ms a call at load 17).",
  "- **Not changed, what would close more**: a base whose stored size is under 32 MiB (pgbench's: its 460 MB compress ~50×) is decoded on the main thread (`restore/gate.ts` chooses the threads by stored size; by plaintext size it would take the two decoder threads, at the cost of their heaps in the peak RSS); the plan decodes the chain's last segments for `pg_waldump` and the spool decodes them again; Node's start and the bundle's compilation (~0.5 s a run) are fixed costs pgBackRest (C) does not have.",
  '',
];

async function runDataset(dataset) {
  const work = mkdtempSync(join(process.env.BENCH_TMPDIR ?? tmpdir(), 'lifeboat-bench-pitr-'));
  chmodSync(work, 0o755);
  const env = { LIFEBOAT_HOME: join(work, 'home') };
  const lb = (...args) =>
    execFileSync(process.execPath, [LIFEBOAT, ...args], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
      maxBuffer: 256 * 2 ** 20,
    });
  const medium = join(work, 'medium');
  lb('medium', 'init', medium, '--label', 'bench-pitr');
  const identity = join(work, 'id.age');
  const recipient = lb('keys', 'age-new', '--out', identity).trim();
  chownTree(medium);
  const repo = join(work, 'pgbackrest', 'repo');
  let cluster = null;
  try {
    console.error(`bench pitr (${dataset.key}): a copy of the shared dataset, archiving into both tools…`);
    const cloned = await cloneDataset('pitr', dataset.key, {
      wal_level: 'replica',
      archive_mode: 'on',
      full_page_writes: 'on',
      max_wal_size: '1GB',
    });
    cluster = cloned.cluster;
    const db = dataset.key;
    if (process.getuid() === 0) {
      chownSync(cluster.dir, uid(), gid());
    }
    const conf = pgbackrestConf(join(work, 'pgbackrest'), cluster, ['repo1-retention-full=2']);
    chownTree(work);
    const archiveCommand = `'${process.execPath}' '${LIFEBOAT}' wal-push %p --system bench --to '${medium}' --recipient ${recipient} && pgbackrest --config=${conf} --stanza=bench archive-push %p`;
    cluster.psql(`ALTER SYSTEM SET archive_command = '${archiveCommand.replace(/'/g, "''")}'`);
    cluster.psql('SELECT pg_reload_conf()');
    execSync(asPg(`pgbackrest --config=${conf} --stanza=bench stanza-create`), { stdio: 'inherit' });

    console.error(`bench pitr (${dataset.key}): base backups, timed side by side (lifeboat pg-base, pgbackrest full)…`);
    // The last of each tool's backups is the one its restore below starts from.
    const bases = compare(RUNS, [
      {
        name: 'lifeboat backup pg-base (zstd + age)',
        command: () =>
          `node ${LIFEBOAT} backup pg-base --system bench --db ${cluster.url()} --to ${medium} --recipient ${recipient} > /dev/null`,
        env,
      },
      {
        name: 'pgbackrest backup --type=full (zst + aes-256-cbc, process-max=2)',
        command: () => asPg(`pgbackrest --config=${conf} --stanza=bench --type=full backup`),
      },
    ]);

    console.error(`bench pitr (${dataset.key}): workload for ${dataset.seconds}s…`);
    const lsn0 = cluster.psql('SELECT pg_current_wal_lsn()');
    let workloadArgs = '';
    if (dataset.workload) {
      const file = join(work, 'workload.sql');
      writeFileSync(file, dataset.workload);
      workloadArgs = `-n -f ${file}`;
    }
    execSync(
      `${pgBin()}/pgbench -c 2 -j 2 -T ${dataset.seconds} ${workloadArgs} -h 127.0.0.1 -p ${cluster.port} -U postgres ${db}`,
      { stdio: 'ignore' },
    );
    const walBytes = Number(cluster.psql(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '${lsn0}')::bigint`));
    const target = cluster.psql(
      'SELECT to_char(clock_timestamp() AT TIME ZONE \'UTC\', \'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"\')',
    );
    execSync('sleep 1');
    cluster.psql('CREATE TABLE after_target (x int)', db);
    const last = cluster.psql('SELECT pg_walfile_name(pg_current_wal_lsn())');
    cluster.psql('SELECT pg_switch_wal()');
    for (let i = 0; i < 600; i++) {
      const archived = cluster.psql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver");
      if (archived >= last) break;
      execSync('sleep 0.5');
    }

    console.error(`bench pitr (${dataset.key}): restores to the same target time…`);
    const d1 = join(work, 'restore-lifeboat');
    const d2 = join(work, 'restore-pgbackrest');
    const port2 = cluster.port + 1;
    // A script file, run as the postgres user: no quoting through two shells.
    const script = join(work, 'pgbackrest-restore.sh');
    writeFileSync(
      script,
      [
        'set -e',
        `rm -rf ${d2} && mkdir -m 700 ${d2}`,
        `pgbackrest --config=${conf} --stanza=bench --pg1-path=${d2} --type=time --target='${target.replace('T', ' ').replace('Z', '+00')}' --target-action=promote restore`,
        `echo "archive_mode = 'off'" >> ${d2}/postgresql.auto.conf`,
        `${pgBin()}/pg_ctl -D ${d2} -l ${d2}/log -w -t 3600 -o '-p ${port2} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${d2}' start > /dev/null`,
        `until [ "$(${pgBin()}/psql -X -h 127.0.0.1 -p ${port2} -U postgres -tAc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; do sleep 0.2; done`,
        `${pgBin()}/pg_ctl -D ${d2} -m fast -w stop > /dev/null`,
        '',
      ].join('\n'),
    );
    chmodSync(script, 0o755);
    // Lifeboat restoring from pgBackRest's own repository (no pgbackrest involved): the same base and WAL as pgbackrest restore.
    const d3 = join(work, 'restore-lifeboat-from-pgbackrest');
    const passFile = join(work, 'pgbackrest.pass');
    writeFileSync(passFile, 'bench-passphrase\n', { mode: 0o600 });
    const lifeboatPitr = {
      name: 'lifeboat restore pg-pitr',
      prepare: () => rmSync(d1, { recursive: true, force: true }),
      // The bench archives unsigned (wal-push without --sign-key, as its throughput row measures): accepted explicitly.
      command: () =>
        `node ${LIFEBOAT} restore pg-pitr --system bench --from ${medium} --target-time ${target} --data-dir ${d1} --identity ${identity} --allow-unsigned-wal --stop --json`,
      env,
    };
    const pgbackrestPitr = {
      name: 'pgbackrest restore --type=time (+ replay to promotion)',
      command: () => asPg(`bash ${script}`),
      prepare: () => chownTree(work),
    };
    const rows = compare(RUNS, [
      lifeboatPitr,
      pgbackrestPitr,
      {
        name: 'lifeboat restore pg-pitr from the pgBackRest repository',
        prepare: () => rmSync(d3, { recursive: true, force: true }),
        // --allow-unsigned: the backup was not verified in this bench's catalog first (the trust rule's override).
        command: () =>
          `node ${LIFEBOAT} restore pg-pitr --system bench --from ${repo} --passphrase-file ${passFile} --allow-unsigned --target-time ${target} --data-dir ${d3} --stop --json`,
        env,
      },
    ]);
    const ratio = rows[0].wall / rows[1].wall;
    const ratioForeign = rows[2].wall / rows[1].wall;
    let cold = null;
    const COLD = coldFor(dataset.key);
    const coldRefused = COLD ? dropCaches() : null;
    if (COLD && !coldRefused) {
      console.error(`bench pitr (${dataset.key}): the same two restores cold (page cache emptied before each)…`);
      const withDrop = (c) => ({
        ...c,
        prepare: () => {
          c.prepare?.();
          dropCaches();
        },
      });
      cold = compare(RUNS, [withDrop(lifeboatPitr), withDrop(pgbackrestPitr)]);
    }

    const dbMiB = mib(Number(cluster.psql(`SELECT pg_database_size('${db}')`)));
    const head = [
      dataset.key === 'pgbench'
        ? `#### pgbench -i -s ${process.env.BENCH_PGBENCH_SCALE ?? 30} (${dbMiB} MiB), then ${dataset.seconds} s of pgbench writing ${mib(walBytes)} MiB of WAL`
        : `#### Realistic data (text, numbers, timestamps, jsonb; ${dbMiB} MiB), then ${dataset.seconds} s of updates and inserts writing ${mib(walBytes)} MiB of WAL`,
      '',
      `Archived by both tools from one archive_command; each restores its full base backup into an empty data directory and replays to the same target time, until promotion. Both compress with zstd 3 and encrypt. Median of ${RUNS}.`,
      '',
      '| candidate | wall (s) | peak RSS (MiB) |',
      '|---|---|---|',
      ...rows.map((r) => `| ${r.name} | ${r.wall.toFixed(1)} | ${r.rssMiB.toFixed(0)} |`),
      '',
      `**Ratio lifeboat / pgBackRest: ${ratio.toFixed(2)}×** (goal ≤ 1.0×, issue 22; peak RSS < 150 MiB). Archive sizes: Lifeboat ${mib(duBytes(join(medium, 'wal')))} MiB of WAL, pgBackRest ${mib(duBytes(join(repo, 'archive')))} MiB.`,
      '',
      ...(cold
        ? [
            `Cold (\`sync; echo 3 > /proc/sys/vm/drop_caches\` before every run of both), median of ${RUNS}:`,
            '',
            '| candidate | wall (s) | peak RSS (MiB) |',
            '|---|---|---|',
            ...cold.map((r) => `| ${r.name} | ${r.wall.toFixed(1)} | ${r.rssMiB.toFixed(0)} |`),
            '',
            `**Cold ratio lifeboat / pgBackRest: ${(cold[0].wall / cold[1].wall).toFixed(2)}×** (goal ≤ 1.0×).`,
            '',
          ]
        : coldRefused
          ? [`Cold runs were not possible here: ${coldRefused}.`, '']
          : [
              "Not run cold here (PITR_MODES; by default only the realistic dataset runs cold: pgbench's base and WAL are stored in a few tens of MiB, so cold adds little but the programs' start).",
              '',
            ]),
      `**The same pgBackRest repository restored by Lifeboat (no pgbackrest; every file's SHA-1 and every segment's checked) / by pgbackrest restore: ${ratioForeign.toFixed(2)}×** (goal ≤ 1.2×).`,
      '',
      `Base backups of the same cluster before the workload, median of ${RUNS}:`,
      '',
      '| candidate | wall (s) | vs pgBackRest | peak RSS (MiB) |',
      '|---|---|---|---|',
      ...bases.map(
        (r) =>
          `| ${r.name} | ${r.wall.toFixed(1)} | ${(r.wall / bases[1].wall).toFixed(2)}× | ${r.rssMiB.toFixed(0)} |`,
      ),
      '',
    ];
    if (!dataset.push) return head.join('\n');

    console.error(`bench pitr: archiving throughput, ${PUSH_SEGMENTS} segments, one process each…`);
    const segs = join(work, 'segments');
    mkdirSync(segs);
    const names = readdirSync(join(cluster.dir, 'data', 'pg_wal'))
      .filter((n) => /^[0-9A-F]{24}$/.test(n))
      .sort()
      .slice(0, PUSH_SEGMENTS);
    for (const n of names) copyFileSync(join(cluster.dir, 'data', 'pg_wal', n), join(segs, n));
    chownTree(segs);
    const pushMedium = join(work, 'push-medium');
    lb('medium', 'init', pushMedium, '--label', 'push');
    chownTree(pushMedium);
    const push = compare(RUNS, [
      {
        name: 'lifeboat wal-push',
        prepare: () => execSync(`rm -rf ${pushMedium}/wal`),
        command: () =>
          names
            .map(
              (n) =>
                `node ${LIFEBOAT} wal-push ${join(segs, n)} --system push --to ${pushMedium} --recipient ${recipient}`,
            )
            .join(' && '),
        env,
      },
      {
        name: 'pgbackrest archive-push',
        prepare: () =>
          execSync(
            `rm -rf ${repo}/archive/bench/15-1/0000000100000000 ${repo}/archive/bench/15-1/0000000100000001 2>/dev/null || true`,
          ),
        command: () =>
          asPg(
            names
              .map(
                (n) => `pgbackrest --config=${conf} --stanza=bench archive-push ${join(segs, n)} 2>/dev/null || true`,
              )
              .join(' ; '),
          ),
      },
    ]);
    const segPerSec = push.map((r) => names.length / r.wall);
    return [
      ...head,
      `WAL archiving, ${names.length} real segments of this workload, one process per segment as PostgreSQL calls archive_command:`,
      '',
      '| candidate | wall (s) | segments/s | peak RSS (MiB) |',
      '|---|---|---|---|',
      ...push.map(
        (r, i) => `| ${r.name} | ${r.wall.toFixed(2)} | ${segPerSec[i].toFixed(1)} | ${r.rssMiB.toFixed(0)} |`,
      ),
      '',
      `Ratio of throughput lifeboat / pgBackRest: ${(segPerSec[0] / segPerSec[1]).toFixed(2)}×. A segment is 16 MiB, so ${segPerSec[0].toFixed(1)} segments/s keeps up with ${(segPerSec[0] * 16).toFixed(0)} MiB/s of WAL.`,
      '',
    ].join('\n');
  } finally {
    cluster?.stop();
    // BENCH_KEEP_LOGS=<dir>: keep Lifeboat's job log (step times of each restore) for a closer look.
    if (process.env.BENCH_KEEP_LOGS) execSync(`cp -r ${join(work, 'home', 'logs')} ${process.env.BENCH_KEEP_LOGS}`);
    rmSync(work, { recursive: true, force: true });
  }
}
