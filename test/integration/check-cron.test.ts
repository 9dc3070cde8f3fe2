import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lifeboatIn, type CliRun } from '../helpers/cli';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus';
import { tempDir } from '../helpers/temp';

/**
 * `lifeboat check`, `--metrics-file` and the exit codes, run as cron runs a job: no terminal, stdin
 * from /dev/null, a minimal environment (PATH, HOME, LIFEBOAT_HOME, nothing inherited).
 */
const root = tempDir('lifeboat-cron-');
const medium = join(root.path, 'medium');
const src = join(root.path, 'src');
const prom = join(root.path, 'textfile', 'lifeboat.prom');
const cronEnv = { PATH: '/usr/bin:/bin', HOME: root.path, LIFEBOAT_HOME: join(root.path, 'home'), LANG: 'C' };

function cron(...args: string[]): Promise<CliRun> {
  return cronWith({}, ...args);
}

function cronWith(extra: NodeJS.ProcessEnv, ...args: string[]): Promise<CliRun> {
  return lifeboatIn({ ...cronEnv, ...extra }, ...args);
}

const metrics = (): ReturnType<typeof parsePrometheusText> => parsePrometheusText(readFileSync(prom, 'utf8'));
const web = { system: 'web', kind: 'files' };

/** A copy of the medium whose web set says it was made `seconds` ago (straight-from-media checks read the manifest). */
function agedCopy(name: string, seconds: number): string {
  const copy = join(root.path, name);
  cpSync(medium, copy, { recursive: true });
  const [setId] = readdirSync(join(copy, 'sets', 'web'));
  const path = join(copy, 'sets', 'web', setId!, 'manifest.json');
  const m = JSON.parse(readFileSync(path, 'utf8')) as { created_at: string };
  m.created_at = new Date(Date.now() - seconds * 1000).toISOString();
  writeFileSync(path, JSON.stringify(m));
  return copy;
}

beforeAll(async () => {
  mkdirSync(src, { recursive: true });
  mkdirSync(join(root.path, 'textfile'));
  writeFileSync(join(src, 'index.html'), '<h1>shop</h1>\n'.repeat(500));
  const init = await cron('medium', 'init', medium, '--label', 'cron');
  expect(init.status, init.stderr).toBe(0);
}, 30_000);

afterAll(() => root.cleanup());

describe('lifeboat under cron: exit codes, one-line output, metrics files', () => {
  it('backup --metrics-file: success then failure are both recorded, the file stays valid text format', async () => {
    const ok = await cron(
      'backup',
      'files',
      '--system',
      'web',
      '--tier',
      'critical',
      '--path',
      src,
      '--to',
      medium,
      '--metrics-file',
      prom,
      '--json',
    );
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toBe('');
    const out = JSON.parse(ok.stdout) as { bytes: number; plain_bytes: number };
    let s = metrics();
    expect(sampleValue(s, 'lifeboat_backup_last_run_success', web)).toBe(1);
    expect(sampleValue(s, 'lifeboat_backup_bytes_stored', web)).toBe(out.bytes);
    expect(sampleValue(s, 'lifeboat_backup_bytes_read', web)).toBe(out.plain_bytes);
    expect(sampleValue(s, 'lifeboat_backup_compression_ratio', web)).toBeGreaterThan(5);
    expect(sampleValue(s, 'lifeboat_backup_failures_total', web)).toBe(0);
    expect(sampleValue(s, 'lifeboat_backup_successes_total', web)).toBe(1);
    const lastOk = sampleValue(s, 'lifeboat_backup_last_success_timestamp_seconds', web);
    expect(Math.abs(lastOk - Date.now() / 1000)).toBeLessThan(60);

    const failed = await cron(
      'backup',
      'files',
      '--system',
      'web',
      '--path',
      join(root.path, 'gone'),
      '--to',
      medium,
      '--metrics-file',
      prom,
    );
    expect(failed.status).not.toBe(0);
    expect(failed.stderr).toMatch(/^lifeboat: /);
    s = metrics();
    expect(sampleValue(s, 'lifeboat_backup_last_run_success', web)).toBe(0);
    expect(sampleValue(s, 'lifeboat_backup_failures_total', web)).toBe(1);
    expect(sampleValue(s, 'lifeboat_backup_successes_total', web)).toBe(1);
    expect(sampleValue(s, 'lifeboat_backup_last_success_timestamp_seconds', web)).toBe(lastOk);
  }, 40_000);

  it('wal-push --metrics-file as archive_command: the last push time, and a failure counted', async () => {
    const seg = join(root.path, '000000010000000000000001');
    writeFileSync(seg, randomBytes(64 * 1024));
    const ok = await cron('wal-push', seg, '--system', 'db', '--to', medium, '--metrics-file', prom);
    expect(ok.status, ok.stderr).toBe(0);
    const bad = await cron(
      'wal-push',
      join(root.path, '000000010000000000000002'),
      '--system',
      'db',
      '--to',
      medium,
      '--metrics-file',
      prom,
    );
    expect(bad.status).not.toBe(0);
    const s = metrics();
    expect(sampleValue(s, 'lifeboat_wal_push_last_success_timestamp_seconds', { system: 'db' })).toBeGreaterThan(0);
    expect(sampleValue(s, 'lifeboat_wal_push_last_run_success', { system: 'db' })).toBe(0);
    expect(sampleValue(s, 'lifeboat_wal_push_failures_total', { system: 'db' })).toBe(1);
    expect(sampleValue(s, 'lifeboat_wal_push_successes_total', { system: 'db' })).toBe(1);
    // The backup's samples are still there beside them.
    expect(sampleValue(s, 'lifeboat_backup_failures_total', web)).toBe(1);
  }, 30_000);

  it('wal-archiver --metrics-file: what its run pushed and failed, and the last push time', async () => {
    const pgWal = join(root.path, 'pg_wal');
    mkdirSync(join(pgWal, 'archive_status'), { recursive: true });
    writeFileSync(join(pgWal, '000000010000000000000003'), randomBytes(64 * 1024));
    writeFileSync(join(pgWal, 'archive_status', '000000010000000000000003.ready'), '');
    const r = await cron(
      'wal-archiver',
      '--spool',
      join(root.path, 'spool'),
      '--pg-wal',
      pgWal,
      '--system',
      'db2',
      '--to',
      medium,
      '--idle',
      '0',
      '--metrics-file',
      prom,
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const s = metrics();
    expect(sampleValue(s, 'lifeboat_wal_archiver_pushed', { system: 'db2' })).toBe(1);
    expect(sampleValue(s, 'lifeboat_wal_archiver_failed', { system: 'db2' })).toBe(0);
    expect(sampleValue(s, 'lifeboat_wal_push_last_success_timestamp_seconds', { system: 'db2' })).toBeGreaterThan(0);
  }, 30_000);

  it('check from the catalog and straight from the medium: OK 0, WARNING 1, CRITICAL 2 against the tier RPO', async () => {
    const ok = await cron('check');
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stderr).toBe('');
    expect(ok.stdout.split('\n')[0]).toMatch(
      /^LIFEBOAT OK - 1 system within objectives: web: newest set .* old \(RPO 5 min\) \| web_age=\d+s;300;600;0$/,
    );

    const fromMedium = await cron('check', '--from', medium, '--system', 'web', '--system', 'db', '--max-age', '1h');
    expect(fromMedium.status, fromMedium.stdout).toBe(0);
    expect(fromMedium.stdout).toMatch(/db: newest WAL .* old \(max age 1 h/);

    const warn = await cron('check', '--from', agedCopy('aged-7m', 420), '--system', 'web');
    expect(warn.status, warn.stdout).toBe(1);
    expect(warn.stdout).toMatch(
      /^LIFEBOAT WARNING - web: newest set 7 min( 0\d s)? old \(RPO 5 min\) \| web_age=4\d\ds;300;600;0\n/,
    );

    // A later set made without --tier: its system keeps the tier of its newest tiered set, from the medium as from
    // the catalog (it was UNKNOWN "no objective" straight from the medium, OK from the catalog).
    const untiered = agedCopy('untiered', 0);
    const [first] = readdirSync(join(untiered, 'sets', 'web'));
    const laterId = first!.replace(/^\d{8}T\d{6}Z/, '29991231T000000Z');
    cpSync(join(untiered, 'sets', 'web', first!), join(untiered, 'sets', 'web', laterId), { recursive: true });
    const later = join(untiered, 'sets', 'web', laterId, 'manifest.json');
    writeFileSync(later, JSON.stringify({ ...JSON.parse(readFileSync(later, 'utf8')), tier: null }));
    const sameTier = await cron('check', '--from', untiered, '--system', 'web');
    expect(sameTier.status, sameTier.stdout).toBe(0);
    expect(sameTier.stdout).toMatch(/^LIFEBOAT OK - .*web: newest set .* old \(RPO 5 min\)/);

    const crit = await cron('check', '--from', agedCopy('aged-15m', 900), '--system', 'web', '--json');
    expect(crit.status).toBe(2);
    expect(JSON.parse(crit.stdout)).toMatchObject({ status: 'CRITICAL', exitCode: 2, systems: [{ system: 'web' }] });
  }, 40_000);

  it('UNKNOWN (3) for a medium that cannot be read, one that does not answer, and bad usage, with the reason on the line', async () => {
    const gone = await cron('check', '--from', join(root.path, 'unplugged'), '--system', 'web');
    expect(gone.status).toBe(3);
    expect(gone.stdout).toMatch(
      /^LIFEBOAT UNKNOWN - web: its medium could not be read; cannot read .*unplugged: The medium folder is not there/,
    );
    // An old set on the medium read, the other medium unplugged: UNKNOWN, not a false CRITICAL.
    const oneGone = await cron('check', '--from', agedCopy('aged-1h', 3600), '--from', join(root.path, 'unplugged'));
    expect(oneGone.status, oneGone.stdout).toBe(3);
    expect(oneGone.stdout).toMatch(/^LIFEBOAT UNKNOWN - web: newest set 1 h old \(RPO 5 min\), not judged: a medium/);
    mkdirSync(join(root.path, 'empty'));
    const empty = await cron('check', '--from', join(root.path, 'empty'));
    expect(empty.status).toBe(3);
    expect(empty.stdout).toMatch(/^LIFEBOAT UNKNOWN - cannot read .*empty: it is not a Lifeboat medium/);

    const noCatalog = await cron('check', '--from', medium, '--verified-within', '1d');
    expect(noCatalog.status).toBe(3);
    expect(noCatalog.stdout).toMatch(/^LIFEBOAT UNKNOWN - --verified-within needs the catalog/);

    const badDuration = await cron('check', '--max-age', 'soon');
    expect(badDuration.status).toBe(3);
    expect(badDuration.stdout).toContain('--max-age takes a duration like 90s');

    const lagWithoutReplica = await cron('check', '--max-lag', '5m');
    expect(lagWithoutReplica.status).toBe(3);
    expect(lagWithoutReplica.stdout).toContain('--max-lag goes with --replica');

    // An S3 endpoint that accepts and never answers (retried for minutes by the SDK): UNKNOWN at --timeout, and
    // the process ends then (a monitoring system would kill it at its own timeout, Nagios calling that CRITICAL).
    const silent = createServer(() => undefined);
    const port = await new Promise<number>((r) =>
      silent.listen(0, '127.0.0.1', () => r((silent.address() as AddressInfo).port)),
    );
    try {
      const started = Date.now();
      const s3 = await cronWith(
        {
          AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
          AWS_ACCESS_KEY_ID: 'x',
          AWS_SECRET_ACCESS_KEY: 'y',
          AWS_REGION: 'us-east-1',
        },
        'check',
        '--from',
        's3://bucket/lifeboat',
        '--timeout',
        '2s',
      );
      expect(s3.status, s3.stdout + s3.stderr).toBe(3);
      expect(s3.stdout).toMatch(/^LIFEBOAT UNKNOWN - the check did not finish within 2\.0 s\.\nA medium or server/);
      expect(Date.now() - started).toBeLessThan(8000);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
    const badTimeout = await cron('check', '--timeout', 'never');
    expect(badTimeout.status).toBe(3);
    expect(badTimeout.stdout).toContain('--timeout takes a duration');

    const badFlag = await cron('check', '--no-such-flag');
    expect(badFlag.status).toBe(3);
    expect(badFlag.stdout).toMatch(/^LIFEBOAT UNKNOWN - bad usage/);
  }, 30_000);

  it('a metrics file that cannot be written leaves the exit code alone; foreign lines; writers at once leave a valid file', async () => {
    writeFileSync(join(root.path, 'not-a-dir'), '');
    const blocked = await cron(
      'check',
      '--from',
      medium,
      '--system',
      'web',
      '--metrics-file',
      join(root.path, 'not-a-dir', 'x.prom'),
    );
    expect(blocked.status, blocked.stdout).toBe(0);
    expect(blocked.stdout).toMatch(/^LIFEBOAT OK - /);
    expect(blocked.stderr).toMatch(
      /^lifeboat: warning: the metrics file .*not-a-dir\/x\.prom could not be written: ENOTDIR/,
    );

    // Another program's samples are kept; what the collector would refuse (a comment that is not HELP/TYPE
    // for Lifeboat, garbage, a timestamped sample) is not carried over into a file the collector reads.
    const shared = join(root.path, 'textfile', 'shared.prom');
    writeFileSync(shared, 'node_custom_job_ok{job="rsync"} 1\ngarbage here\nold_sample 1 1700000000\n');
    // Four checks at once: each rename is atomic, so whatever wins, the file is whole and valid.
    const runs = await Promise.all(
      [0, 1, 2, 3].map(() => cron('check', '--from', medium, '--system', 'web', '--metrics-file', shared)),
    );
    for (const r of runs) expect(r.status, r.stdout + r.stderr).toBe(0);
    const s = parsePrometheusText(readFileSync(shared, 'utf8'));
    expect(sampleValue(s, 'node_custom_job_ok', { job: 'rsync' })).toBe(1);
    expect(sampleValue(s, 'lifeboat_check_status')).toBe(0);
    expect(s.some((x) => x.name === 'old_sample')).toBe(false);
    expect(readdirSync(join(root.path, 'textfile')).filter((f) => f.includes('.tmp-'))).toEqual([]);
  }, 30_000);

  it('verify --metrics-file records the run and the newest verified set; check --verified-within reads it', async () => {
    const unverified = await cron('check', '--system', 'web', '--verified-within', '1d');
    expect(unverified.status).toBe(2);
    expect(unverified.stdout).toContain('no verified set');

    const v = await cron('verify', medium, '--metrics-file', prom);
    expect(v.status, v.stdout + v.stderr).toBe(0);
    const check = await cron('check', '--system', 'web', '--verified-within', '1d', '--metrics-file', prom);
    expect(check.status, check.stdout).toBe(0);
    expect(check.stdout).toMatch(/newest verified set .* old \(within 1 d/);
    const s = metrics();
    expect(sampleValue(s, 'lifeboat_verify_sets', { target: medium, result: 'ok' })).toBe(1);
    expect(sampleValue(s, 'lifeboat_verify_last_run_success', { target: medium })).toBe(1);
    const verifiedAt = sampleValue(s, 'lifeboat_newest_verified_set_timestamp_seconds', { system: 'web' });
    expect(sampleValue(s, 'lifeboat_newest_set_timestamp_seconds', { system: 'web' })).toBe(verifiedAt);
    expect(sampleValue(s, 'lifeboat_check_status')).toBe(0);
    expect(sampleValue(s, 'lifeboat_rpo_seconds', { system: 'web' })).toBe(300);
  }, 40_000);
});
