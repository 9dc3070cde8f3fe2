import type { JobSpec, JobContext } from '../engine/jobs/job-manager';
import type { Engine } from '../engine/engine';
import { LifeboatError } from '../engine/errors';
import { ProgressLine, type CliIo } from './output';

/**
 * Run engine work as a job from the CLI: a progress line on a TTY, Ctrl-C (or SIGTERM from
 * cron/systemd) cancels cleanly so partial writes are removed, and a failure surfaces as the
 * job's coded error.
 */
export async function runAsJob<T>(
  engine: Engine,
  io: CliIo,
  spec: JobSpec,
  fn: (ctx: JobContext) => Promise<T>,
): Promise<T> {
  const progress = new ProgressLine(io);
  const unsubscribe = engine.jobs.subscribe((e) => {
    if (e.type === 'log' && e.log && (e.log.level === 'warn' || e.log.level === 'error')) {
      progress.done();
      io.stderr.write(`${e.log.level}: ${e.log.message}\n`);
    }
    if (e.type !== 'finished') progress.update(e.snapshot);
  });
  let value: T | undefined;
  const { snapshot, done } = engine.jobs.start(spec, async (ctx) => {
    value = await fn(ctx);
    return null;
  });
  const cancel = (): void => {
    progress.done();
    io.stderr.write('lifeboat: stopping, removing partial writes…\n');
    engine.jobs.cancel(snapshot.id);
  };
  process.once('SIGINT', cancel);
  process.once('SIGTERM', cancel);
  try {
    const final = await done;
    progress.done();
    if (final.status !== 'succeeded') {
      const err = final.error ?? { code: 'INTERNAL' as const, message: 'The job failed.' };
      throw new LifeboatError(err.code, err.message, err.hint ? { hint: err.hint } : {});
    }
    return value as T;
  } finally {
    process.off('SIGINT', cancel);
    process.off('SIGTERM', cancel);
    unsubscribe();
  }
}
