// Shared helpers of the benchmark scripts: a scratch PostgreSQL, timing with peak RSS
// (GNU time over the whole process tree), medians, and machine facts.
import { execFileSync, execSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

export const ROOT = new URL('..', import.meta.url).pathname;
export const LIFEBOAT = join(ROOT, 'bin/lifeboat.cjs');

export function pgBin() {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  return `/usr/lib/postgresql/${versions[0]}/bin`;
}

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * A scratch PostgreSQL in a temp dir (as the postgres user when we are root): a new one (initdb), or
 * with `from` a running scratch cluster, a physical copy of it (pg_basebackup: its data without
 * loading it again).
 */
export async function startCluster(settings = {}, { from = null } = {}) {
  const bin = pgBin();
  const dir = mkdtempSync(join(process.env.BENCH_TMPDIR ?? tmpdir(), 'lifeboat-bench-pg-'));
  const asPg = process.getuid() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  if (asPg.length)
    chownSync(dir, Number(execSync('id -u postgres').toString()), Number(execSync('id -g postgres').toString()));
  const run = (args) =>
    execFileSync(asPg[0] ?? args[0], asPg.length ? [...asPg.slice(1), ...args] : args.slice(1), {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  if (from)
    run([
      join(bin, 'pg_basebackup'),
      '-D',
      join(dir, 'data'),
      '-h',
      '127.0.0.1',
      '-p',
      String(from.port),
      '-U',
      'postgres',
      '-X',
      'stream',
      '--checkpoint=fast',
      '--no-sync',
      '--no-manifest',
    ]);
  else
    run([
      join(bin, 'initdb'),
      '-D',
      join(dir, 'data'),
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ]);
  const port = await freePort();
  const opts = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: dir,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_wal_size: '4GB',
    ...settings,
  };
  run([
    join(bin, 'pg_ctl'),
    '-D',
    join(dir, 'data'),
    '-l',
    join(dir, 'log'),
    '-w',
    '-o',
    [`-p ${port}`, ...Object.entries(opts).map(([k, v]) => `-c ${k}=${v}`)].join(' '),
    'start',
  ]);
  return {
    dir,
    port,
    bin,
    url: (db = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${db}`,
    psql: (sql, db = 'postgres') =>
      execFileSync(
        join(bin, 'psql'),
        [
          '-X',
          '-q',
          '-v',
          'ON_ERROR_STOP=1',
          '-h',
          '127.0.0.1',
          '-p',
          String(port),
          '-U',
          'postgres',
          '-d',
          db,
          '-tA',
          '-c',
          sql,
        ],
        { encoding: 'utf8' },
      ).trim(),
    stop: () => {
      try {
        run([join(bin, 'pg_ctl'), '-D', join(dir, 'data'), '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Run a shell command under GNU time: wall seconds and peak RSS (MiB) of the process tree. */
export function measure(command, env = {}) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', 'bash', '-o', 'pipefail', '-c', command], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0)
    throw new Error(`failed (${r.status}): ${command}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  const last = r.stderr.trim().split('\n').pop();
  const [wall, kb] = last.split(' ').map(Number);
  return { wall, rssMiB: kb / 1024, stdout: r.stdout };
}

/**
 * Empty the page cache (`sync; echo 3 > /proc/sys/vm/drop_caches`; needs root), as a USB drive at
 * the DR site reads cold: null when done, else why the kernel refused.
 */
export function dropCaches() {
  try {
    execSync('sync; echo 3 > /proc/sys/vm/drop_caches', { shell: '/bin/bash', stdio: ['ignore', 'ignore', 'pipe'] });
    return null;
  } catch (e) {
    return String(e.stderr ?? e.message).trim() || 'drop_caches refused';
  }
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Run several candidates side by side: `runs` rounds, each round running every candidate once
 * in a rotating order (so none always goes first, on a colder cache). Each run starts with the
 * disk idle (`sync` after its preparation, not timed): otherwise a candidate pays for the
 * writeback of what the one before it wrote (up to 500 MB here). Per candidate: median wall,
 * max peak RSS, and the size of `output()` after its last run.
 */
export function compare(runs, candidates) {
  const stats = candidates.map(() => ({ walls: [], rss: [], bytes: 0, outputs: [] }));
  for (let round = 0; round < runs; round++) {
    for (let k = 0; k < candidates.length; k++) {
      const i = (round + k) % candidates.length;
      const c = candidates[i];
      c.prepare?.();
      execSync('sync');
      const m = measure(c.command(), c.env);
      stats[i].walls.push(m.wall);
      stats[i].rss.push(m.rssMiB);
      stats[i].bytes = c.output ? c.output() : 0;
      stats[i].outputs.push(m.stdout);
    }
  }
  return candidates.map((c, i) => ({
    name: c.name,
    wall: median(stats[i].walls),
    walls: stats[i].walls,
    rssMiB: Math.max(...stats[i].rss),
    bytes: stats[i].bytes,
    stdouts: stats[i].outputs,
  }));
}

export function duBytes(path) {
  if (!existsSync(path)) return 0;
  return Number(
    execSync(`du -sb ${JSON.stringify(path)}`)
      .toString()
      .split('\t')[0],
  );
}

export function fileBytes(path) {
  return statSync(path).size;
}

export function machineFacts() {
  const v = (cmd) => {
    try {
      return execSync(cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .trim()
        .split('\n')[0];
    } catch {
      return 'not installed';
    }
  };
  return [
    `- CPU: ${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    `- Memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- Node ${process.versions.node}; ${v(`${pgBin()}/postgres --version`)}; ${v('zstd --version')}; ${v('gzip --version')}`,
    `- age ${v('age --version')}; ${v('restic version')}; ${v('pgbackrest version')}; ${v('openssl version')}`,
  ].join('\n');
}

export const mib = (b) => (b / 2 ** 20).toFixed(1);

/** The realistic dataset: text, numbers, timestamps and jsonb, compressing about 3×. */
export function realisticSql(rows) {
  return `
    CREATE TABLE events (id bigint PRIMARY KEY, customer_id int NOT NULL, kind text NOT NULL, amount numeric(12,2), created_at timestamptz NOT NULL, note text, ref text, payload jsonb);
    WITH words AS (SELECT ARRAY['order','shipped','invoice','refund','customer','warehouse','delayed','priority','express','standard','returned','damaged','payment','card','transfer','pending','approved','rejected','review','address','parcel','label','carrier','tracking','signature','weekend','morning','evening','urgent','fragile','bulk','sample','discount','coupon','loyalty','premium','basic','trial','renewal','cancelled'] AS w)
    INSERT INTO events
    SELECT g, (random()*50000)::int, (ARRAY['view','cart','order','pay','ship','return','review','support'])[1 + (g % 8)],
           round((random()*500)::numeric, 2), timestamptz '2026-01-01' + (g || ' seconds')::interval,
           (SELECT string_agg(w[1 + floor(random()*40)::int], ' ') FROM words, generate_series(1, 6 + (g % 10))),
           substr(md5(g::text || random()::text), 1, 20),
           jsonb_build_object('sku', 'SKU-' || (random()*9999)::int, 'qty', 1 + (g % 7), 'ip', '10.' || (g % 250) || '.' || (random()*250)::int || '.' || (random()*250)::int, 'tags', jsonb_build_array((ARRAY['gift','b2b','mobile','web','app'])[1 + (g % 5)], (random()*100)::int))
    FROM generate_series(1, ${rows}) g;
  `;
}

/**
 * A pgBackRest configuration for stanza `bench` on a scratch cluster: zstd 3, AES-256 (the same
 * work as Lifeboat's zstd + age), two processes. `dir` gets the repo, log and lock folders;
 * `extra` lines go in [global]. Returns the config file's path.
 */
export function pgbackrestConf(dir, cluster, extra = []) {
  for (const d of ['repo', 'log', 'lock', 'spool']) mkdirSync(join(dir, d), { recursive: true });
  const conf = join(dir, 'pgbackrest.conf');
  writeFileSync(
    conf,
    [
      '[global]',
      `repo1-path=${join(dir, 'repo')}`,
      'repo1-cipher-type=aes-256-cbc',
      'repo1-cipher-pass=bench-passphrase',
      'compress-type=zst',
      'compress-level=3',
      'process-max=2',
      `spool-path=${join(dir, 'spool')}`,
      `log-path=${join(dir, 'log')}`,
      `lock-path=${join(dir, 'lock')}`,
      'log-level-console=warn',
      ...extra,
      '[bench]',
      `pg1-path=${join(cluster.dir, 'data')}`,
      `pg1-port=${cluster.port}`,
      `pg1-socket-path=${cluster.dir}`,
      '',
    ].join('\n'),
  );
  if (process.getuid() === 0) execSync(`chown -R postgres:postgres ${JSON.stringify(dir)}`);
  return conf;
}

/**
 * Both datasets every database benchmark runs on, loaded into `cluster`: `pgbench` (pgbench -i
 * -s 30, BENCH_PGBENCH_SCALE: blank-padded rows that compress ~50×) and `realistic` (text, numbers, timestamps and
 * jsonb of similar size, ~3×). Returns [{ db, title }].
 */
export function loadBenchDatasets(cluster, label) {
  const scale = process.env.BENCH_PGBENCH_SCALE ?? '30';
  console.error(`bench ${label}: loading pgbench -s ${scale}…`);
  cluster.psql('CREATE DATABASE pgbench');
  execFileSync(
    join(cluster.bin, 'pgbench'),
    ['-i', '-q', '-s', scale, '-h', '127.0.0.1', '-p', String(cluster.port), '-U', 'postgres', 'pgbench'],
    { stdio: 'ignore' },
  );
  console.error(`bench ${label}: loading the realistic database…`);
  cluster.psql('CREATE DATABASE realistic');
  cluster.psql(realisticSql(Number(process.env.BENCH_REALISTIC_ROWS ?? 1_700_000)), 'realistic');
  cluster.psql('VACUUM ANALYZE', 'realistic');
  const size = (db) => mib(Number(cluster.psql(`SELECT pg_database_size('${db}')`)));
  return [
    {
      db: 'realistic',
      title: `Realistic data (text, numbers, timestamps, jsonb) — database size ${size('realistic')} MiB`,
    },
    { db: 'pgbench', title: `pgbench -i -s ${scale} — database size ${size('pgbench')} MiB` },
  ];
}

let shared = null;

/**
 * One scratch cluster with both datasets for every benchmark that only reads them (backup,
 * restore): loading them is the slow part, so it happens once per `npm run bench`. run.mjs stops
 * it at the end (stopSharedDatasets).
 */
export async function sharedDatasets(label) {
  if (!shared) {
    const cluster = await startCluster();
    try {
      shared = { cluster, datasets: loadBenchDatasets(cluster, label) };
    } catch (e) {
      cluster.stop();
      throw e;
    }
  }
  return shared;
}

/**
 * A cluster of its own holding one of the shared datasets (`db`: pgbench or realistic), for a
 * benchmark that writes to it (PITR's workloads): a physical copy of the shared cluster with the
 * other databases dropped, instead of loading the dataset again. Returns the cluster and the
 * dataset's title.
 */
export async function cloneDataset(label, db, settings = {}) {
  const { cluster: source, datasets } = await sharedDatasets(label);
  const dataset = datasets.find((d) => d.db === db);
  if (!dataset) throw new Error(`No shared dataset named ${db}.`);
  const cluster = await startCluster(settings, { from: source });
  try {
    for (const other of datasets) if (other.db !== db) cluster.psql(`DROP DATABASE ${other.db}`);
    cluster.psql('CHECKPOINT');
  } catch (e) {
    cluster.stop();
    throw e;
  }
  return { cluster, dataset };
}

export function stopSharedDatasets() {
  shared?.cluster.stop();
  shared = null;
}
