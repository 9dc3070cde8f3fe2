import { resolve } from 'node:path';
import { updateMetricsFile, unixSeconds, type MetricsUpdate, type Sample } from '../engine/monitor/metrics';
import type { CliIo } from './output';

/**
 * `--metrics-file`: the command's samples merged into a Prometheus text file (docs/monitoring.md). A file that
 * cannot be written is said on stderr and never changes the command's own exit code (a stale
 * last-success time is what the alert rules watch).
 */
export async function writeMetrics(io: CliIo, path: string, update: MetricsUpdate): Promise<void> {
  try {
    await updateMetricsFile(resolve(path), update);
  } catch (e) {
    io.stderr.write(
      `lifeboat: warning: the metrics file ${path} could not be written: ${e instanceof Error ? e.message : String(e)}\n`,
    );
  }
}

/**
 * Run `fn` and record its outcome under `lifeboat_<prefix>_…`: on success the last-success time and
 * what `success` adds; on failure the last-run flag at 0 and the failure counter raised; the error goes on.
 */
export async function withRunMetrics<T>(
  io: CliIo,
  path: string | undefined,
  prefix: 'backup' | 'wal_push',
  labels: Record<string, string>,
  fn: () => Promise<T>,
  success: (r: T) => Sample[] = () => [],
): Promise<T> {
  if (!path) return fn();
  let r: T;
  try {
    r = await fn();
  } catch (e) {
    const set: Sample[] = [{ name: `lifeboat_${prefix}_last_run_success`, labels, value: 0 }];
    if (prefix === 'backup')
      set.push({ name: 'lifeboat_backup_last_failure_timestamp_seconds', labels, value: unixSeconds(Date.now()) });
    await writeMetrics(io, path, {
      set,
      increment: [{ name: `lifeboat_${prefix}_failures_total`, labels }],
      ensure: [{ name: `lifeboat_${prefix}_successes_total`, labels }],
    });
    throw e;
  }
  await writeMetrics(io, path, {
    set: [
      { name: `lifeboat_${prefix}_last_run_success`, labels, value: 1 },
      { name: `lifeboat_${prefix}_last_success_timestamp_seconds`, labels, value: unixSeconds(Date.now()) },
      ...success(r),
    ],
    increment: [{ name: `lifeboat_${prefix}_successes_total`, labels }],
    ensure: [{ name: `lifeboat_${prefix}_failures_total`, labels }],
  });
  return r;
}
