import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgPromote } from '../../electron/engine/runbooks/actions/pg-promote';
import type { ActionContext } from '../../electron/engine/runbooks/actions/types';
import { ConfirmationNeeded } from '../../electron/engine/runbooks/actions/types';
import { freePort, runPgTool } from '../../electron/engine/postgres/scratch-cluster';
import { lifeboatAsync } from '../helpers/cli';
import { query, ScratchCluster, startPostgres } from '../helpers/postgres';
import { tempDir } from '../helpers/temp';

/**
 * `lifeboat check --replica` and the pg.promote action on a real streaming standby: one private primary,
 * one standby made by `pg_basebackup -R`, the built CLI spawned as cron would.
 */
let primary: ScratchCluster;
let standby: ScratchCluster;
let standbyDir: string;
const home = tempDir('lifeboat-check-replica-');
const env = { LIFEBOAT_HOME: home.path };

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await ok().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  primary = await startPostgres();
  await query(primary.url(), 'CREATE TABLE orders (id int PRIMARY KEY, note text)');
  await query(primary.url(), "INSERT INTO orders SELECT g, 'first' FROM generate_series(1, 100) g");
  standbyDir = mkdtempSync(join(tmpdir(), 'lifeboat-standby-'));
  if (primary.runAs) chownSync(standbyDir, primary.runAs.uid, primary.runAs.gid);
  const bb = await runPgTool(
    join(primary.binDir, 'pg_basebackup'),
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(primary.port),
      '-U',
      'postgres',
      '-D',
      join(standbyDir, 'data'),
      '-R',
      '-X',
      'stream',
      '--no-sync',
    ],
    { runAs: primary.runAs },
  );
  expect(bb.code, bb.stderr).toBe(0);
  standby = ScratchCluster.adopt(standbyDir, primary.binDir, await freePort());
  await standby.startServer();
  await until('the standby to replay the first rows', async () => {
    const [r] = await query<{ n: string }>(standby.url(), 'SELECT count(*) AS n FROM orders');
    return r?.n === '100';
  });
}, 60_000);

afterAll(async () => {
  await standby?.destroy();
  await primary?.destroy();
  rmSync(standbyDir, { recursive: true, force: true });
  home.cleanup();
}, 30_000);

describe('lifeboat check --replica (a real streaming standby)', () => {
  it('OK for a standby that has replayed all it received; CRITICAL for a server that is no standby', async () => {
    const ok = await lifeboatAsync(env, 'check', '--replica', standby.url(), '--max-lag', '5m');
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(
      /^LIFEBOAT OK - standby 127\.0\.0\.1:\d+: replay lag .*\| replay_lag=0s;300;600;0 replay_lag_bytes=0B;;;0\n/,
    );

    const notStandby = await lifeboatAsync(env, 'check', '--replica', primary.url(), '--max-lag', '5m');
    expect(notStandby.status).toBe(2);
    expect(notStandby.stdout).toMatch(/^LIFEBOAT CRITICAL - standby 127\.0\.0\.1:\d+ is not in recovery/);
  }, 30_000);

  it('a standby whose replay stalls goes CRITICAL past twice --max-lag, with the lag in the metrics file', async () => {
    // A transaction replayed since the standby started: its commit time is what the lag is measured from.
    await query(primary.url(), "INSERT INTO orders VALUES (0, 'before the pause')");
    await until('the standby to replay it', async () => {
      const [r] = await query<{ n: string }>(standby.url(), 'SELECT count(*) AS n FROM orders');
      return r?.n === '101';
    });
    await query(standby.url(), 'SELECT pg_wal_replay_pause()');
    try {
      await new Promise((r) => setTimeout(r, 2100));
      await query(primary.url(), "INSERT INTO orders VALUES (101, 'while paused')");
      await until('the standby to receive what it does not replay', async () => {
        const [r] = await query<{ behind: boolean }>(
          standby.url(),
          'SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn() AS behind',
        );
        return r?.behind === true;
      });
      const metrics = join(home.path, 'replica.prom');
      const late = await lifeboatAsync(
        env,
        'check',
        '--replica',
        standby.url(),
        '--max-lag',
        '1s',
        '--metrics-file',
        metrics,
        '--json',
      );
      expect(late.status, late.stdout + late.stderr).toBe(2);
      const r = JSON.parse(late.stdout) as { status: string; replica: { lagSeconds: number; lagBytes: number } };
      expect(r.status).toBe('CRITICAL');
      expect(r.replica.lagSeconds).toBeGreaterThan(2);
      expect(r.replica.lagBytes).toBeGreaterThan(0);
      const { readFileSync } = await import('node:fs');
      const text = readFileSync(metrics, 'utf8');
      expect(text).toMatch(/^lifeboat_check_status 2$/m);
      expect(text).toMatch(/^lifeboat_replica_replay_lag_bytes\{replica="127\.0\.0\.1:\d+"\} [1-9]\d*$/m);
    } finally {
      await query(standby.url(), 'SELECT pg_wal_replay_resume()');
    }
    await until('the standby to catch up', async () => {
      const [r] = await query<{ n: string }>(standby.url(), 'SELECT count(*) AS n FROM orders');
      return r?.n === '102';
    });
  }, 40_000);

  it('the DR-site activation runs its promote step when a standby is given; a drill measures and promotes nothing', async () => {
    const r = await lifeboatAsync(
      env,
      'run',
      'dr-site-activation',
      '--drill',
      '--yes',
      '--input',
      `standby=${standby.url()}`,
      '--json',
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as {
      steps: Array<{ id: string; status: string; output: Record<string, unknown> | null }>;
    };
    const promote = res.steps.find((s) => s.id === 'promote');
    expect(promote).toMatchObject({ status: 'done', output: { promoted: false, drill: true } });
    const [still] = await query<{ r: boolean }>(standby.url(), 'SELECT pg_is_in_recovery() AS r');
    expect(still?.r).toBe(true);
    // Without a standby the step does not apply.
    const none = await lifeboatAsync(env, 'run', 'dr-site-activation', '--drill', '--yes', '--json');
    const skipped = (JSON.parse(none.stdout) as typeof res).steps.find((s) => s.id === 'promote');
    expect(skipped?.status).toBe('skipped');
  }, 40_000);

  it('pg.promote shows the RPO about to be achieved, asks for the typed confirmation, promotes and waits for writes', async () => {
    const workDir = tempDir('lifeboat-promote-');
    const logs: string[] = [];
    const ctx = (confirmation: string | null, checkpoint: unknown = null): ActionContext =>
      ({
        signal: new AbortController().signal,
        progress: () => undefined,
        log: (_level: string, line: string) => logs.push(line),
        deps: { credentials: { get: () => Promise.resolve(null) } },
        runId: 'r1',
        stepId: 'promote',
        drill: false,
        workDir: workDir.path,
        checkpoint,
        saveCheckpoint: (c: unknown) => (saved = c),
        confirmation,
      }) as unknown as ActionContext;
    let saved: unknown = null;
    // The primary cut off (its connection info emptied): caught up with what it received is no lag of 0 — the
    // standby is judged on its last replayed transaction's age, so a long cut is CRITICAL, not a mere WARNING.
    await query(standby.url(), "ALTER SYSTEM SET primary_conninfo = ''");
    await query(standby.url(), 'SELECT pg_reload_conf()');
    await until('the standby to stop streaming and its last transaction to be 3 s old', async () => {
      const [r] = await query<{ ok: boolean }>(
        standby.url(),
        `SELECT NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')
            AND clock_timestamp() - pg_last_xact_replay_timestamp() > interval '3 s' AS ok`,
      );
      return r?.ok === true;
    });
    const cut = await lifeboatAsync(env, 'check', '--replica', standby.url(), '--max-lag', '1s');
    expect(cut.status, cut.stdout).toBe(2);
    expect(cut.stdout).toMatch(
      /^LIFEBOAT CRITICAL - standby .*: replay lag [\d.]+ s.*, NOT streaming from its primary/,
    );
    const lostAt = new Date().toISOString();
    const params = pgPromote.params.parse({ target: standby.url(), lost_at: lostAt, timeout: 30 });
    try {
      const asked = await pgPromote.run(params, ctx(null)).catch((e: unknown) => e);
      expect(asked).toBeInstanceOf(ConfirmationNeeded);
      const need = asked as ConfirmationNeeded;
      expect(need.expect).toBe(`promote:127.0.0.1:${standby.port}`);
      expect(need.message).toMatch(/The RPO about to be achieved: .* of transactions lost at most/);
      expect(saved).toBeNull();
      // Still a standby: nothing was done before the confirmation.
      const [before] = await query<{ r: boolean }>(standby.url(), 'SELECT pg_is_in_recovery() AS r');
      expect(before?.r).toBe(true);

      const out = await pgPromote.run(params, ctx(need.expect));
      expect(out.promoted).toBe(true);
      expect(typeof out.rpo_seconds).toBe('number');
      expect(out.rpo_from).toBe('lost_at');
      expect(out.last_replayed_at).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(saved).toMatchObject({ promoting: true });
      // It accepts writes now.
      await query(standby.url(), "INSERT INTO orders VALUES (102, 'written on the promoted standby')");
      expect(logs.some((l) => /accepts writes; achieved RPO/.test(l))).toBe(true);
      // A resumed step after the promotion does not ask again and reports the same RPO.
      const again = await pgPromote.run(params, ctx(null, saved));
      expect(again.promoted).toBe(true);
      // Measured to the promotion, not to the resume (no lost_at given): the same RPO a second later.
      const noLost = pgPromote.params.parse({ target: standby.url(), timeout: 30 });
      const promotedAt = Date.parse((saved as { promotedAt: string }).promotedAt);
      await new Promise((r) => setTimeout(r, 1100));
      const resumed = await pgPromote.run(noLost, ctx(null, saved));
      expect(resumed.rpo_seconds).toBe(Math.round((promotedAt - Date.parse(out.last_replayed_at as string)) / 1000));
      // Run afresh (no checkpoint) on the server now a primary: refused, nothing done twice.
      await expect(pgPromote.run(params, ctx(need.expect))).rejects.toThrow(
        /is not a standby \(not in recovery\): nothing to promote/,
      );

      const check = await lifeboatAsync(env, 'check', '--replica', standby.url(), '--max-lag', '5m');
      expect(check.status).toBe(2);
      expect(check.stdout).toContain('is not in recovery');
    } finally {
      workDir.cleanup();
    }
  }, 40_000);
});
