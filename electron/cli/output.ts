import { formatBytes, formatDuration } from '../../shared/format';
import type { WireError } from '../../shared/errors';
import type { JobSnapshot } from '../../shared/domain/jobs';

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export const processIo: CliIo = { stdout: process.stdout, stderr: process.stderr };

export { formatBytes, formatDuration };

/**
 * A one-line progress display on a TTY (stderr), redrawn in place: step, bytes, rate, elapsed,
 * ETA. Silent when stderr is not a terminal, so cron mails stay clean.
 */
export class ProgressLine {
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly io: CliIo,
    private readonly enabled = Boolean(io.stderr.isTTY),
  ) {}

  update(s: JobSnapshot): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const elapsed = (now - Date.parse(s.startedAt)) / 1000;
    const parts = [s.step ?? s.title];
    const c = s.counters;
    if (c.bytesDone > 0 || c.bytesTotal)
      parts.push(`${formatBytes(c.bytesDone)}${c.bytesTotal ? ` / ${formatBytes(c.bytesTotal)}` : ''}`);
    if (c.itemsTotal) parts.push(`${c.itemsDone}/${c.itemsTotal}`);
    if (s.bytesPerSecond) parts.push(`${formatBytes(s.bytesPerSecond)}/s`);
    parts.push(formatDuration(elapsed));
    if (s.etaSeconds !== null && s.etaSeconds > 0) parts.push(`ETA ${formatDuration(s.etaSeconds)}`);
    if (s.current) parts.push(s.current);
    const width = Math.max(20, (this.io.stderr.columns ?? 100) - 1);
    this.io.stderr.write(`\r\x1b[2K${parts.join('  ').slice(0, width)}`);
    this.drawn = true;
  }

  done(): void {
    if (this.drawn) this.io.stderr.write('\r\x1b[2K');
    this.drawn = false;
  }
}

export function printError(io: CliIo, error: WireError, json: boolean): void {
  if (json) {
    io.stdout.write(`${JSON.stringify({ ok: false, error })}\n`);
    return;
  }
  io.stderr.write(`lifeboat: ${error.message}\n`);
  if (error.hint) io.stderr.write(`  ${error.hint}\n`);
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain text table: columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return 'never';
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  return `${formatDuration(s)} ago`;
}
