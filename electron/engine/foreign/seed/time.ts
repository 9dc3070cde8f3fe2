import { LifeboatError } from '../../errors';

/** The laptop's own IANA zone: the default when a medium names none. */
export function laptopTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** Refuses a zone Intl does not know (a typo would silently shift every time by hours). */
export function checkTimeZone(zone: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone;
  } catch {
    throw new LifeboatError('BAD_INPUT', `Unknown time zone ${JSON.stringify(zone)}.`, {
      hint: 'Give an IANA zone name such as Europe/Berlin or UTC.',
    });
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Milliseconds the zone is ahead of UTC at the instant `ms`. */
function offsetAt(ms: number, zone: string): number {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(ms)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const asUtc = Date.UTC(p.year!, p.month! - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

export interface LocalStamp {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/**
 * The UTC instant of a wall-clock time read in `zone`. A time that does not exist (the hour skipped
 * when clocks go forward) is read with the offset before the change; one that exists twice (the
 * hour repeated in autumn) as its first occurrence, as cron runs it.
 */
export function localToUtc(s: LocalStamp, zone: string): Date {
  const wall = Date.UTC(s.year, s.month - 1, s.day, s.hour, s.minute, s.second);
  const before = offsetAt(wall - 86_400_000, zone);
  const after = offsetAt(wall + 86_400_000, zone);
  // Try both offsets around the wall time; keep the earliest that reads back as the same wall time.
  const candidates = [wall - Math.max(before, after), wall - Math.min(before, after)].sort((a, b) => a - b);
  for (const t of candidates) if (t + offsetAt(t, zone) === wall) return new Date(t);
  return new Date(wall - before);
}
