import { describe, expect, it } from 'vitest';
import type { SetResult } from '../../shared/domain/verify';
import { LifeboatError } from '../../electron/engine/errors';
import { JobManager } from '../../electron/engine/jobs/job-manager';
import { judgeVerify, type VerifyReport } from '../../electron/engine/verify/run';
import { judgeWal } from '../../electron/engine/api/keys-jobs-handlers';

/** Issue 21: recent jobs stay listed with their result; a job that ran and found failures is no green "succeeded". */
const never = (signal: AbortSignal): Promise<never> =>
  new Promise((_r, reject) => signal.addEventListener('abort', () => reject(new Error('stopped'))));

function report(verdicts: Array<SetResult['verdict']>): VerifyReport {
  const results = verdicts.map((verdict, i) => ({ key: `shop/s${i}`, verdict }) as SetResult);
  return { results, skipped: [], bytes: 0, durationMs: 1, bytesPerSecond: null, blocked: [] };
}

describe('recent jobs', () => {
  it('keeps the 50 newest finished jobs by default, never a running one, newest first', async () => {
    const jobs = new JobManager();
    const running = jobs.start({ kind: 'verify', title: 'long' }, (ctx) => never(ctx.signal));
    for (let i = 0; i < 60; i++) await jobs.start({ kind: 'scan', title: `scan ${i}` }, async () => i).done;
    const list = jobs.list();
    expect(list.filter((j) => j.status !== 'running')).toHaveLength(50);
    expect(list.some((j) => j.id === running.snapshot.id)).toBe(true);
    // The oldest finished ones went first: scan 10 is the oldest kept.
    expect(
      list
        .filter((j) => j.kind === 'scan')
        .map((j) => j.title)
        .at(-1),
    ).toBe('scan 10');
    expect(jobs.running('verify')?.id).toBe(running.snapshot.id);
    expect(jobs.running('scan')).toBeUndefined();
    jobs.cancel(running.snapshot.id);
    const final = await running.done;
    expect([final.status, final.outcome]).toEqual(['cancelled', 'cancelled']);
    expect(final.headline).toMatch(/Cancelled/);
    expect(jobs.running('verify')).toBeUndefined();
  }, 10_000);

  it('a finished job carries an outcome and a headline: passed, findings, error', async () => {
    const jobs = new JobManager();
    const plain = await jobs.start({ kind: 'scan', title: 'scan' }, async () => 1).done;
    expect([plain.status, plain.outcome, plain.headline]).toEqual(['succeeded', 'passed', 'Done.']);
    const found = await jobs.start({ kind: 'verify', title: 'verify', judge: judgeVerify }, async () =>
      report(['undecryptable', 'corrupted', 'corrupted', 'missing']),
    ).done;
    expect([found.status, found.outcome, found.headline]).toEqual(['succeeded', 'findings', '4 of 4 sets failed']);
    const failed = await jobs.start({ kind: 'verify', title: 'verify', judge: judgeVerify }, async () => {
      throw new LifeboatError('STORAGE_UNREACHABLE', 'The drive is gone.');
    }).done;
    expect([failed.status, failed.outcome, failed.headline]).toEqual(['failed', 'error', 'The drive is gone.']);
    // A judge that throws never leaves a pass behind.
    const broken = await jobs.start(
      { kind: 'verify', title: 'verify', judge: judgeVerify },
      async () => ({}) as VerifyReport,
    ).done;
    expect(broken.outcome).toBe('findings');
    // While running there is no outcome yet.
    const live = jobs.start({ kind: 'k', title: 'live' }, (ctx) => never(ctx.signal));
    expect([live.snapshot.outcome, live.snapshot.headline]).toEqual([null, null]);
    jobs.cancel(live.snapshot.id);
    await live.done;
  });

  it('judges verification reports and WAL checks in words', () => {
    expect(judgeVerify(report(['ok', 'ok']))).toEqual({ outcome: 'passed', headline: 'All 2 sets passed' });
    expect(judgeVerify(report(['ok', 'not-checked']))).toEqual({
      outcome: 'findings',
      headline: '1 of 2 sets passed, 1 not checked',
    });
    expect(judgeVerify(report(['restore-failed', 'not-checked', 'ok']))).toEqual({
      outcome: 'findings',
      headline: '1 of 3 sets failed, 1 not checked',
    });
    expect(judgeVerify(report([])).outcome).toBe('passed');
    const wal = {
      system: 'shop',
      files: 10,
      bytes: 0,
      corrupt: [],
      unsigned: [],
      unsignedAccepted: false,
      gaps: [],
      windows: [],
      ok: true,
      origin: 'lifeboat' as const,
    };
    expect(judgeWal(wal)).toEqual({ outcome: 'passed', headline: 'WAL of shop intact: 10 files' });
    expect(
      judgeWal({
        ...wal,
        ok: false,
        corrupt: [{ name: 'x', reason: 'y' }],
        gaps: [{ timeline: 1, from: 'a', to: 'b' }] as never,
      }).headline,
    ).toBe('WAL of shop has problems: 1 corrupt, 1 gap (of 10 files)');
    expect(judgeWal({ ...wal, ok: false, files: 0 }).headline).toBe('No WAL archived for shop');
  });
});
