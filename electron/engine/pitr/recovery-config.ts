import { shellWord } from '../../../shared/shell-quote';
import script from './restore-command.sh?raw';

/**
 * What a point-in-time restore appends to the data directory's postgresql.auto.conf, built from
 * typed parts with each layer of quoting explicit: a path is one shell word (restore_command runs
 * through /bin/sh), its `%` doubled (PostgreSQL expands %f, %p, %r and %% in restore_command), and
 * the whole value a postgresql.conf string. The restore_command is restore-command.sh, a real file
 * bundled as text and copied into the spool (wal-spool.ts), where the postgres user can run it.
 */

/** The restore_command script (restore-command.sh): `<script> <spool> %f %p`. */
export const RESTORE_COMMAND_SCRIPT: string = script;

/** A value as a postgresql.conf string: single-quoted, a quote doubled, backslashes and line breaks escaped. */
export function confString(value: string): string {
  const escaped = value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/'/g, "''");
  return `'${escaped}'`;
}

/** One argument of restore_command: a shell word whose `%` PostgreSQL leaves alone. */
function commandWord(s: string): string {
  return shellWord(s).replace(/%/g, '%%');
}

/** The restore_command: the spool's script, given the spool folder, the file name (%f) and where to put it (%p). */
export function restoreCommand(scriptPath: string, spool: string): string {
  return `${commandWord(scriptPath)} ${commandWord(spool)} "%f" "%p"`;
}

export interface RecoveryTarget {
  /** The script in the spool, and the spool. */
  scriptPath: string;
  spool: string;
  /** ISO 8601, UTC. */
  targetTime: string;
  /** The base backup's set id (named in a comment). */
  base: string;
  /**
   * `immediate`: the target is the end of the base backup and no WAL replays past it (the plan's
   * window is that one point). A time target there fails: replay ends with no commit after the
   * time, and PostgreSQL 13+ stops with "recovery ended before configured recovery target was
   * reached". `recovery_target = 'immediate'` ends recovery where the base backup is consistent.
   */
  stop?: 'time' | 'immediate';
}

/** PostgreSQL's form of an ISO 8601 UTC time: `2026-01-02 03:04:05.678+00`. */
function pgTime(iso: string): string {
  return iso.replace('T', ' ').replace('Z', '+00');
}

/** The lines appended to postgresql.auto.conf: replay to the target through the spool, then promote. */
export function recoveryConfig(t: RecoveryTarget): string {
  const oneLine = (s: string): string => s.replace(/[\r\n]+/g, ' ');
  return [
    '',
    `# Added by Lifeboat for a point-in-time restore to ${oneLine(t.targetTime)} (base ${oneLine(t.base)}${t.stop === 'immediate' ? ', its end' : ''}).`,
    `restore_command = ${confString(restoreCommand(t.scriptPath, t.spool))}`,
    t.stop === 'immediate'
      ? "recovery_target = 'immediate'"
      : `recovery_target_time = ${confString(pgTime(t.targetTime))}`,
    "recovery_target_action = 'promote'",
    "recovery_target_timeline = 'latest'",
    "archive_mode = 'off'",
    '',
  ].join('\n');
}
