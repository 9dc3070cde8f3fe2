// Restores (issue: demo and benchmarks): a logical set restored and proven by `lifeboat verify
// --level restore` — hashes, signature, decryption and decompression with the plaintext hash,
// then pg_restore -j 2 into a scratch PostgreSQL it creates and removes — side by side with the
// bare baseline `pg_restore -j 2` of a `pg_dump -Fc` file into a fresh server made the same way
// (initdb, start, createdb, pg_restore -j 2, stop). Both datasets: pgbench -s 30 and realistic.
import { execFileSync, execSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIFEBOAT, compare, freePort, mib, pgBin, sharedDatasets } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);

/** The baseline as one shell command: a fresh cluster, pg_restore -j 2 of the dump, stopped and removed. */
function bareRestore(dump, port, scratch) {
  const bin = pgBin();
  const asPg = process.getuid() === 0 ? 'runuser -u postgres -- ' : '';
  const data = join(scratch, 'data');
  return [
    `rm -rf ${scratch} && mkdir -p ${scratch} && chmod 0777 ${scratch}`,
    `${asPg}${bin}/initdb -D ${data} -U postgres --auth=trust -E UTF8 --locale=C --no-sync --no-instructions > /dev/null`,
    `${asPg}${bin}/pg_ctl -D ${data} -l ${scratch}/log -w -o "-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${scratch} -c fsync=off" start > /dev/null`,
    `${bin}/createdb -h 127.0.0.1 -p ${port} -U postgres restored`,
    `${bin}/pg_restore --no-owner --no-privileges --exit-on-error -j 2 -h 127.0.0.1 -p ${port} -U postgres -d restored ${dump}`,
    `${asPg}${bin}/pg_ctl -D ${data} -m immediate stop > /dev/null`,
    `rm -rf ${scratch}`,
  ].join(' && ');
}

export async function run() {
  const work = mkdtempSync(join(process.env.BENCH_TMPDIR ?? tmpdir(), 'lifeboat-bench-restore-'));
  chmodSync(work, 0o755);
  const env = { LIFEBOAT_HOME: join(work, 'home') };
  const lb = (...args) =>
    execFileSync(process.execPath, [LIFEBOAT, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' }).trim();
  lb('keys', 'signing-new', '--out', join(work, 'sign.pem'));
  lb('keys', 'trust', join(work, 'sign.pem.pub'));
  const recipient = lb('keys', 'age-new', '--out', join(work, 'id.age'));
  const { cluster, datasets } = await sharedDatasets('restore');
  const sections = [
    '### Restores',
    '',
    'A logical set restored and proven by `lifeboat verify --level restore` (integrity, signature, decryption, decompression with the plaintext hash, then `pg_restore -j 2` into a scratch PostgreSQL it creates, then removes) against `pg_restore -j 2` of a `pg_dump -Fc` file into a fresh server made the same way (initdb, start, createdb, restore, stop). Same PostgreSQL, same 2 jobs.',
    '',
  ];
  try {
    for (const { db, title } of datasets) {
      console.error(`bench restore: ${db}: a Lifeboat set and a pg_dump -Fc file…`);
      const medium = join(work, `medium-${db}`);
      lb('medium', 'init', medium, '--label', db);
      lb(
        'backup',
        'pg',
        '--system',
        db,
        '--db',
        cluster.url(db),
        '--to',
        medium,
        '--recipient',
        recipient,
        '--sign-key',
        join(work, 'sign.pem'),
      );
      const setDir = join(medium, 'sets', db, readdirSync(join(medium, 'sets', db))[0]);
      const dump = join(work, `${db}.dump`);
      execSync(`${pgBin()}/pg_dump -Fc -f ${dump} ${cluster.url(db)}`);
      const port = await freePort();
      const rows = compare(RUNS, [
        {
          name: 'lifeboat verify --level restore',
          command: () =>
            `node ${LIFEBOAT} verify ${setDir} --level restore --identity ${join(work, 'id.age')} > /dev/null`,
          env,
        },
        {
          name: 'initdb + pg_restore -j 2 (pg_dump -Fc file)',
          command: () => bareRestore(dump, port, join(work, 'scratch')),
        },
      ]);
      const base = rows[1].wall;
      sections.push(
        `#### ${title}`,
        '',
        `| command | wall (median of ${RUNS}) | vs pg_restore -j 2 | peak RSS |`,
        '| --- | --- | --- | --- |',
      );
      for (const r of rows)
        sections.push(
          `| \`${r.name}\` | ${r.wall.toFixed(2)} s | ${(r.wall / base).toFixed(2)}× | ${r.rssMiB.toFixed(0)} MiB |`,
        );
      sections.push(
        '',
        `Set size ${mib(Number(execSync(`du -sb ${setDir}`).toString().split('\t')[0]))} MiB (zstd + age); dump ${mib(Number(execSync(`du -sb ${dump}`).toString().split('\t')[0]))} MiB.`,
        '',
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return sections.join('\n');
}
