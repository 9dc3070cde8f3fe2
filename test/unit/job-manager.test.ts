import { describe, expect, it } from 'vitest';
import type { JobEvent } from '../../shared/domain/jobs';
import { LifeboatError } from '../../electron/engine/errors';
import { JobManager } from '../../electron/engine/jobs/job-manager';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('JobManager', () => {
  it('runs a job to success with steps, progress and a result, seq rising', async () => {
    const jobs = new JobManager({ throttleMs: 0 });
    const events: JobEvent[] = [];
    jobs.subscribe((e) => events.push(e));
    const { snapshot, done } = jobs.start({ kind: 'test', title: 'Test job' }, async (ctx) => {
      ctx.step('one');
      ctx.progress({ bytesTotal: 100, bytesDone: 50, current: 'a' });
      await sleep(5);
      ctx.progress({ bytesDone: 100 });
      ctx.log('info', 'half way');
      return { answer: 42 };
    });
    expect(snapshot.status).toBe('running');
    const final = await done;
    expect(final.status).toBe('succeeded');
    expect(final.result).toEqual({ answer: 42 });
    expect(final.counters.bytesDone).toBe(100);
    expect(events.map((e) => e.type)).toEqual(['started', 'step', 'progress', 'progress', 'log', 'finished']);
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(jobs.get(snapshot.id)?.status).toBe('succeeded');
  });

  it('throttles progress events but never loses the latest counters', async () => {
    const jobs = new JobManager({ throttleMs: 50 });
    const progress: JobEvent[] = [];
    jobs.subscribe((e) => {
      if (e.type === 'progress') progress.push(e);
    });
    const { done } = jobs.start({ kind: 'test', title: 'many updates' }, async (ctx) => {
      for (let i = 1; i <= 1000; i++) ctx.progress({ bytesDone: i });
      await sleep(120);
    });
    await done;
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.length).toBeLessThan(10);
    expect(progress.at(-1)?.snapshot.counters.bytesDone).toBe(1000);
  });

  it('computes a rate and an ETA from the counters', async () => {
    let now = 1_000_000;
    const jobs = new JobManager({ throttleMs: 0, now: () => now });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { snapshot, done } = jobs.start({ kind: 'test', title: 'rate' }, async (ctx) => {
      ctx.progress({ bytesDone: 0, bytesTotal: 1000 });
      now += 2000;
      ctx.progress({ bytesDone: 400 });
      await gate;
    });
    await sleep(0);
    const mid = jobs.get(snapshot.id)!;
    expect(mid.bytesPerSecond).toBeCloseTo(200);
    expect(mid.etaSeconds).toBeCloseTo(3);
    release();
    await done;
  });

  it('cancels through the AbortSignal and settles as cancelled', async () => {
    const jobs = new JobManager();
    const { snapshot, done } = jobs.start({ kind: 'test', title: 'long' }, async (ctx) => {
      await new Promise<void>((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
      });
    });
    expect(jobs.cancel(snapshot.id)).toBe(true);
    const final = await done;
    expect(final.status).toBe('cancelled');
    expect(final.error?.code).toBe('CANCELLED');
    expect(jobs.cancel(snapshot.id)).toBe(false);
    expect(jobs.cancel('job-unknown')).toBe(false);
  });

  it('maps a failure to a coded, redacted error', async () => {
    const jobs = new JobManager();
    const { done } = jobs.start({ kind: 'test', title: 'fails' }, async () => {
      throw new LifeboatError('DB_UNREACHABLE', 'no route to postgres://u:sekrit@h/db');
    });
    const final = await done;
    expect(final.status).toBe('failed');
    expect(final.error?.code).toBe('DB_UNREACHABLE');
    expect(final.error?.message).not.toContain('sekrit');
  });

  it('lists newest first and keeps a bounded number of finished jobs', async () => {
    const jobs = new JobManager({ keepFinished: 3 });
    for (let i = 0; i < 5; i++) await jobs.start({ kind: 'k', title: `t${i}` }, async () => i).done;
    expect(jobs.list()).toHaveLength(3);
  });

  it('shutdown cancels what runs', async () => {
    const jobs = new JobManager();
    const { done } = jobs.start(
      { kind: 'k', title: 'forever' },
      (ctx) => new Promise((_r, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('stopped')))),
    );
    await jobs.shutdown();
    expect((await done).status).toBe('cancelled');
  });
});
