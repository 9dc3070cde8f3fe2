import { randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { LifeboatError } from '../errors';

/**
 * A plain SQL dump is replayed with psql, and psql obeys the backslash meta-commands in its
 * input: `\! cmd` runs a shell command, `\o |cmd`, `\g |cmd`, `\w |cmd` and `\copy … program`
 * pipe into one, `\i`/`\ir` read any file. A dump is data, so none of that may run on the
 * machine that checks or restores it. Two layers:
 *  1. this filter reads the dump before psql runs and refuses any meta-command at the start of a
 *     line outside COPY data (where pg_dump never writes one), naming the first it finds; the
 *     dump's own `\restrict <key>` / `\unrestrict <key>` lines (pg_dump since 17.6/16.10/15.14)
 *     are dropped;
 *  2. the output starts with `\restrict <random key>`: psql (15.14+ and the other minors of
 *     August 2025) then refuses every meta-command, wherever in a line it hides, for the whole
 *     replay — the key is unknown to the dump, so it cannot lift the restriction.
 */
export class SqlMetaCommandGuard extends Transform {
  /** Every meta-command found (line number and the command, cut short). The first is the refusal's reason. */
  readonly found: Array<{ line: number; command: string }> = [];
  readonly key = randomBytes(24).toString('hex');
  private partial = '';
  private line = 0;
  private inCopy = false;
  private started = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (!this.started) {
      this.started = true;
      this.push(`\\restrict ${this.key}\n`);
    }
    const text = this.partial + chunk.toString('latin1');
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    const out: string[] = [];
    for (const l of lines) {
      const kept = this.check(l);
      if (kept !== null) out.push(kept, '\n');
    }
    if (out.length) this.push(Buffer.from(out.join(''), 'latin1'));
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (!this.started) this.push(`\\restrict ${this.key}\n`);
    if (this.partial) {
      const kept = this.check(this.partial);
      if (kept !== null) this.push(Buffer.from(kept, 'latin1'));
    }
    cb();
  }

  /** The line to pass on, or null to drop it; meta-commands are noted. */
  private check(l: string): string | null {
    this.line++;
    if (this.inCopy) {
      // COPY data: backslashes are escapes (\N is NULL) until the end marker.
      if (l === '\\.' || l === '\\.\r') this.inCopy = false;
      return l;
    }
    if (/^COPY\s.*\sFROM\s+stdin/i.test(l)) this.inCopy = true;
    const s = l.trimStart();
    if (!s.startsWith('\\')) return l;
    if (/^\\(un)?restrict\s+\S+\s*$/.test(s)) return null;
    this.found.push({ line: this.line, command: s.slice(0, 80) });
    return l;
  }
}

/** The refusal for a dump holding meta-commands: what it tried and where. */
export function metaCommandRefusal(found: SqlMetaCommandGuard['found'], what: string): LifeboatError {
  const first = found[0]!;
  return new LifeboatError(
    'DB_RESTORE_FAILED',
    `${what} holds the psql meta-command \`${first.command}\` on line ${first.line}${found.length > 1 ? ` (and ${found.length - 1} more)` : ''}: refused before psql ran anything.`,
    {
      hint: 'A dump is data: commands for psql in it (\\! runs a shell command) never run here. Edit them out by hand if the file is yours.',
    },
  );
}
