// WAL archiving keeping up with `pg_switch_wal()` in a loop (issue: PITR): PostgreSQL produces
// segments as fast as it can (a row, then a switch, 200 times) while an archive_command
// compresses, encrypts, hashes and writes each one atomically; we measure how fast each
// archive_command drains them — segments per second — against how fast PostgreSQL made them.
// Candidates: `lifeboat wal-push` (one Node process per segment), `lifeboat wal-push --async`
// (a background archiver pushes ahead; Node only acknowledges), `bin/lifeboat-wal-push` (the
// same, acknowledged from sh), and pgBackRest's archive-push, synchronous and asynchronous.
import { execFileSync, execSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIFEBOAT, ROOT, pgbackrestConf, startCluster } from './lib.mjs';

const SWITCHES = Number(process.env.WALSWITCH_COUNT ?? 200);

const chownTree = (path) => {
  if (process.getuid() === 0) execSync(`chown -R postgres:postgres ${JSON.stringify(path)}`);
};
const asPg = (cmd) => (process.getuid() === 0 ? `runuser -u postgres -- bash -c ${JSON.stringify(cmd)}` : cmd);

/** One cluster, one archive_command, SWITCHES segments: how long PostgreSQL took to make them and the archiver to take them. */
async function drain(work, label, archiveCommand, prepare = () => undefined) {
  let cluster = null;
  try {
    cluster = await startCluster({ wal_level: 'replica', archive_mode: 'on' });
    chownTree(cluster.dir);
    prepare(cluster);
    cluster.psql(`ALTER SYSTEM SET archive_command = '${archiveCommand.replace(/'/g, "''")}'`);
    cluster.psql('SELECT pg_reload_conf()');
    cluster.psql('CREATE TABLE beat (i int)');
    const count = () => Number(cluster.psql('SELECT archived_count FROM pg_stat_archiver'));
    const failed = () => Number(cluster.psql('SELECT failed_count FROM pg_stat_archiver'));
    cluster.psql('SELECT pg_switch_wal()');
    for (let i = 0; i < 300 && count() === 0; i++) execSync('sleep 0.1');
    if (count() === 0) throw new Error(`${label}: nothing archived; the archive_command fails (${failed()} failures)`);
    const before = count();
    const t0 = Date.now();
    cluster.psql(
      `DO $$ BEGIN FOR i IN 1..${SWITCHES} LOOP INSERT INTO beat VALUES (i); PERFORM pg_switch_wal(); COMMIT; END LOOP; END $$`,
    );
    const produced = (Date.now() - t0) / 1000;
    while (count() < before + SWITCHES) execSync('sleep 0.02');
    const drained = (Date.now() - t0) / 1000;
    console.error(`bench walswitch: ${label}: made in ${produced.toFixed(2)} s, archived in ${drained.toFixed(2)} s`);
    return { label, produced, drained, rate: SWITCHES / drained, made: SWITCHES / produced, failed: failed() };
  } finally {
    cluster?.stop();
  }
}

export async function run() {
  const work = mkdtempSync(join(process.env.BENCH_TMPDIR ?? tmpdir(), 'lifeboat-bench-walswitch-'));
  chmodSync(work, 0o755);
  const env = { ...process.env, LIFEBOAT_HOME: join(work, 'home') };
  const lb = (...args) => execFileSync(process.execPath, [LIFEBOAT, ...args], { env, encoding: 'utf8' });
  const recipient = lb('keys', 'age-new', '--out', join(work, 'id.age')).trim();
  const node = process.execPath;
  const fast = join(ROOT, 'bin/lifeboat-wal-push');
  const results = [];
  try {
    const medium = (name) => {
      const dir = join(work, name);
      lb('medium', 'init', dir, '--label', name);
      chownTree(dir);
      return dir;
    };
    const spool = (name) => {
      const dir = join(work, name);
      mkdirSync(dir);
      chownTree(dir);
      return dir;
    };
    results.push(
      await drain(
        work,
        '`lifeboat wal-push` (a Node process per segment)',
        `'${node}' '${LIFEBOAT}' wal-push %p --system switch --to '${medium('m-sync')}' --recipient ${recipient}`,
      ),
    );
    results.push(
      await drain(
        work,
        '`lifeboat wal-push --async` (background archiver, Node acknowledges)',
        `'${node}' '${LIFEBOAT}' wal-push %p --system switch --to '${medium('m-async')}' --recipient ${recipient} --async --spool '${spool('s-async')}'`,
      ),
    );
    results.push(
      await drain(
        work,
        '`bin/lifeboat-wal-push` (background archiver, sh acknowledges)',
        `LIFEBOAT_NODE='${node}' '${fast}' %p --system switch --to '${medium('m-fast')}' --recipient ${recipient} --spool '${spool('s-fast')}'`,
      ),
    );
    for (const mode of ['sync', 'async']) {
      results.push(
        await drain(
          work,
          `\`pgbackrest archive-push\` (${mode === 'sync' ? 'synchronous' : 'archive-async, process-max=2'})`,
          `pgbackrest --config=${join(work, `pgbackrest-${mode}`, 'pgbackrest.conf')} --stanza=bench archive-push %p`,
          (cluster) => {
            const conf = pgbackrestConf(join(work, `pgbackrest-${mode}`), cluster, [
              `archive-async=${mode === 'async' ? 'y' : 'n'}`,
            ]);
            execSync(asPg(`pgbackrest --config=${conf} --stanza=bench stanza-create`), { stdio: 'inherit' });
          },
        ),
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const made = results.reduce((a, r) => a + r.made, 0) / results.length;
  const best = results.find((r) => r.label.startsWith('`pgbackrest archive-push` (archive-async'));
  return [
    '### WAL archiving under pg_switch_wal() in a loop',
    '',
    `PostgreSQL makes ${SWITCHES} segments as fast as it can (a row and a switch each; ${made.toFixed(1)} segments/s on average here), each archive_command compressing with zstd and encrypting; a fresh cluster per candidate. "Keeps up" means the archive finished within about the time PostgreSQL took to make the segments.`,
    '',
    '| archive_command | PostgreSQL made them in | archived all in | segments/s | vs pgBackRest async | failed attempts |',
    '| --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.label} | ${r.produced.toFixed(2)} s | ${r.drained.toFixed(2)} s | ${r.rate.toFixed(1)} | ${(r.rate / best.rate).toFixed(2)}× | ${r.failed} |`,
    ),
    '',
    'PostgreSQL queues what the archiver has not taken yet, so a slower archiver only delays archiving (and keeps WAL on the server longer); it never loses a segment.',
    '',
  ].join('\n');
}
