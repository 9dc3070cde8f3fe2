// Backup throughput (issue: make backups): lifeboat backup pg (zstd + age + Ed25519) side by
// side with pg_dump -Fc, the seed script's pg_dump | gzip, and pg_dump -Fc -Z0 | zstd -3 -T2,
// on pgbench -s 30 and on a realistic database of similar size; and lifeboat backup files
// against restic backup and tar | zstd on ~500 MB of mostly incompressible files.
import { execFileSync, execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIFEBOAT, compare, duBytes, fileBytes, mib, sharedDatasets } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function lifeboatSetup(work) {
  const home = join(work, 'home');
  const env = { LIFEBOAT_HOME: home };
  const run = (...args) =>
    execFileSync(process.execPath, [LIFEBOAT, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' }).trim();
  run('keys', 'signing-new', '--out', join(work, 'sign.pem'));
  const recipient = run('keys', 'age-new', '--out', join(work, 'id.age'));
  return { env, run, recipient, sign: join(work, 'sign.pem') };
}

function freshMedium(lb, path) {
  rmSync(path, { recursive: true, force: true });
  lb.run('medium', 'init', path, '--label', 'bench');
}

function dbRows(name, rows, baseline) {
  const zstdWall = rows.find((r) => r.name.startsWith('pg_dump -Fc -Z0 | zstd')).wall;
  const zstdBytes = rows.find((r) => r.name.startsWith('pg_dump -Fc -Z0 | zstd')).bytes;
  const lines = [
    `#### ${name}`,
    '',
    '| command | wall (median of ' + RUNS + ') | vs zstd pipeline | output | vs zstd output | peak RSS |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows)
    lines.push(
      `| \`${r.name}\` | ${r.wall.toFixed(2)} s | ${(r.wall / zstdWall).toFixed(2)}× | ${mib(r.bytes)} MiB | ${(r.bytes / zstdBytes).toFixed(2)}× | ${r.rssMiB.toFixed(0)} MiB |`,
    );
  lines.push('', baseline, '');
  return lines.join('\n');
}

function benchDatabase(cluster, db, lb, work) {
  const url = cluster.url(db);
  const out = join(work, 'out');
  const medium = join(work, 'medium');
  const pgDump = join(cluster.bin, 'pg_dump');
  const prep = () => {
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out);
  };
  // Warm up: the first read of freshly loaded tables sets hint bits and fills the cache.
  execSync(`${pgDump} -Fc -Z0 ${url} > /dev/null`);
  const rows = compare(RUNS, [
    {
      name: 'lifeboat backup pg (zstd + age + signed)',
      prepare: () => freshMedium(lb, medium),
      command: () =>
        `node ${LIFEBOAT} backup pg --system bench --db ${url} --to ${medium} --recipient ${lb.recipient} --sign-key ${lb.sign} --json > /dev/null`,
      output: () => duBytes(join(medium, 'sets')),
      env: lb.env,
    },
    {
      name: 'pg_dump -Fc -f x.dump',
      prepare: prep,
      command: () => `${pgDump} -Fc -f ${out}/x.dump ${url}`,
      output: () => fileBytes(`${out}/x.dump`),
    },
    {
      name: 'pg_dump | gzip > x.sql.gz (seed script)',
      prepare: prep,
      command: () => `${pgDump} ${url} | gzip > ${out}/x.sql.gz`,
      output: () => fileBytes(`${out}/x.sql.gz`),
    },
    {
      name: 'pg_dump -Fc -Z0 | zstd -3 -T2 > x.dump.zst',
      prepare: prep,
      command: () => `${pgDump} -Fc -Z0 ${url} | zstd -q -3 -T2 > ${out}/x.dump.zst`,
      output: () => fileBytes(`${out}/x.dump.zst`),
    },
  ]);
  return rows;
}

function benchFiles(lb, work) {
  const src = join(work, 'files');
  mkdirSync(src, { recursive: true });
  // ~500 MB: photos/PDF-like random bytes (mostly 1–8 MB) plus some text.
  let total = 0;
  for (let i = 0; total < 480 * 2 ** 20; i++) {
    const size = (1 + (i % 8)) * 2 ** 20;
    const dir = join(src, `album-${i % 12}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `img-${i}.jpg`), randomBytes(size));
    total += size;
  }
  const text = 'lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(400);
  for (let i = 0; i < 400; i++) {
    writeFileSync(join(src, `album-${i % 12}`, `notes-${i}.txt`), `${i} ${text}`);
    total += text.length;
  }
  const medium = join(work, 'fmedium');
  const repo = join(work, 'restic');
  const out = join(work, 'fout');
  const rows = compare(RUNS, [
    {
      name: 'lifeboat backup files (zstd + age + signed)',
      prepare: () => freshMedium(lb, medium),
      command: () =>
        `node ${LIFEBOAT} backup files --system photos --path ${src} --to ${medium} --recipient ${lb.recipient} --sign-key ${lb.sign} --json > /dev/null`,
      output: () => duBytes(join(medium, 'sets')),
      env: lb.env,
    },
    {
      name: 'restic backup (new repository each run)',
      prepare: () => {
        rmSync(repo, { recursive: true, force: true });
        execSync(`restic init --repo ${repo} -q`, { env: { ...process.env, RESTIC_PASSWORD: 'bench' } });
      },
      command: () => `restic backup --repo ${repo} -q ${src}`,
      output: () => duBytes(repo),
      env: { RESTIC_PASSWORD: 'bench', RESTIC_CACHE_DIR: join(work, 'restic-cache') },
    },
    {
      name: 'tar -c | zstd -3 -T2 (no encryption)',
      prepare: () => {
        rmSync(out, { recursive: true, force: true });
        mkdirSync(out);
      },
      command: () => `tar -cf - -C ${work} files | zstd -q -3 -T2 > ${out}/x.tar.zst`,
      output: () => fileBytes(`${out}/x.tar.zst`),
    },
  ]);
  const restic = rows[1].wall;
  const lines = [
    `#### ~${mib(total)} MiB of files, mostly incompressible`,
    '',
    `| command | wall (median of ${RUNS}) | throughput | vs restic | output | peak RSS |`,
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows)
    lines.push(
      `| \`${r.name}\` | ${r.wall.toFixed(2)} s | ${mib(total / r.wall)} MiB/s | ${(restic / r.wall).toFixed(2)}× | ${mib(r.bytes)} MiB | ${r.rssMiB.toFixed(0)} MiB |`,
    );
  lines.push('', 'Goal: at least 2× restic’s throughput, encrypted.', '');
  return lines.join('\n');
}

export async function run() {
  const work = mkdtempSync(join(process.env.BENCH_TMPDIR ?? tmpdir(), 'lifeboat-bench-backup-'));
  const { cluster, datasets } = await sharedDatasets('backup');
  const sections = ['### Backups', ''];
  try {
    const lb = lifeboatSetup(work);
    const goal =
      'Goals: ≤ 1.15× the zstd pipeline’s wall time with encryption and signing on; output no larger than the zstd pipeline’s; peak RSS under 150 MB.';
    for (const { db, title } of datasets) {
      console.error(`bench backup: ${db}…`);
      sections.push(dbRows(title, benchDatabase(cluster, db, lb, work), goal));
    }
    console.error('bench backup: files…');
    sections.push(benchFiles(lb, work));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return sections.join('\n');
}
