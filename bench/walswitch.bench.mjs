// WAL archiving keeping up with `pg_switch_wal()` in a loop (issue: PITR): PostgreSQL produces
// segments as fast as it can (a row, then a switch, 200 times), `lifeboat wal-push` is its
// archive_command (compressing, encrypting, hashing, writing atomically); we measure how fast
// the archiver drains them — segments per second — and how far behind it fell.
import { execFileSync, execSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIFEBOAT, startCluster } from './lib.mjs';

const SWITCHES = Number(process.env.WALSWITCH_COUNT ?? 200);

export async function run() {
  const work = mkdtempSync(join(process.env.BENCH_TMPDIR ?? tmpdir(), 'lifeboat-bench-walswitch-'));
  chmodSync(work, 0o755);
  const env = { ...process.env, LIFEBOAT_HOME: join(work, 'home') };
  const lb = (...args) => execFileSync(process.execPath, [LIFEBOAT, ...args], { env, encoding: 'utf8' });
  const medium = join(work, 'medium');
  lb('medium', 'init', medium, '--label', 'switch');
  const recipient = lb('keys', 'age-new', '--out', join(work, 'id.age')).trim();
  if (process.getuid() === 0) execSync(`chown -R postgres:postgres ${medium}`);
  let cluster = null;
  try {
    cluster = await startCluster({ wal_level: 'replica', archive_mode: 'on' });
    cluster.psql(`ALTER SYSTEM SET archive_command = '''${process.execPath}'' ''${LIFEBOAT}'' wal-push %p --system switch --to ''${medium}'' --recipient ${recipient}'`);
    cluster.psql('SELECT pg_reload_conf()');
    cluster.psql('CREATE TABLE beat (i int)');
    const count = () => Number(cluster.psql('SELECT archived_count FROM pg_stat_archiver'));
    const failed = () => Number(cluster.psql('SELECT failed_count FROM pg_stat_archiver'));
    for (let i = 0; i < 200 && count() === 0; i++) execSync('sleep 0.1');
    const before = count();
    const t0 = Date.now();
    cluster.psql(`DO $$ BEGIN FOR i IN 1..${SWITCHES} LOOP INSERT INTO beat VALUES (i); PERFORM pg_switch_wal(); COMMIT; END LOOP; END $$`);
    const produced = (Date.now() - t0) / 1000;
    while (count() < before + SWITCHES) execSync('sleep 0.05');
    const drained = (Date.now() - t0) / 1000;
    const rate = SWITCHES / drained;
    return [
      '### WAL archiving under pg_switch_wal() in a loop',
      '',
      `PostgreSQL produced ${SWITCHES} segments in ${produced.toFixed(2)} s (a row and a switch each); \`lifeboat wal-push\` as archive_command archived them all in ${drained.toFixed(1)} s: **${rate.toFixed(1)} segments/s** (${failed()} failed attempts). PostgreSQL queues what the archiver has not taken yet, so a faster burst only delays archiving; it never loses a segment.`,
      '',
    ].join('\n');
  } finally {
    cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
