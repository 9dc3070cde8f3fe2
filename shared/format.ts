/**
 * The one place human formatting lives, for the CLI, the engine's messages and the UI alike:
 * sizes, durations, times (local, with the zone) and ages. Other modules never format these by hand.
 */

/** Human sizes (binary units). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** A duration given in milliseconds: "850 ms", "4.2 s", "3 min 05 s", "2 h 07 min", "3 d 4 h". */
export function formatDurationMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  const neg = ms < 0 ? '-' : '';
  const a = Math.abs(ms);
  if (a < 1000) return `${neg}${Math.round(a)} ms`;
  const s = a / 1000;
  if (s < 60) return `${neg}${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const total = Math.round(s);
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (d > 0) return `${neg}${d} d${h ? ` ${h} h` : ''}`;
  // Whole units read as such: an objective of one hour is "1 h", not "1 h 00 min".
  if (h > 0) return `${neg}${h} h${m ? ` ${String(m).padStart(2, '0')} min` : ''}`;
  return `${neg}${m} min${sec ? ` ${String(sec).padStart(2, '0')} s` : ''}`;
}

/** A duration given in seconds (see formatDurationMs). */
export function formatDuration(seconds: number): string {
  return formatDurationMs(seconds * 1000);
}

/**
 * A point in time for people: local time in the given IANA zone (default: this machine's), to the
 * second, with the zone's abbreviation, e.g. "2026-12-02 03:00:12 CET". ISO 8601-like order on purpose
 * (no US/EU ambiguity). Invalid input is returned as given.
 */
export function formatLocalTime(iso: string | number | Date, o: { timeZone?: string; seconds?: boolean } = {}): string {
  const d = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: o.timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: o.seconds === false ? undefined : '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  }).formatToParts(d);
  const get = (t: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === t)?.value ?? '';
  const time = `${get('hour')}:${get('minute')}${o.seconds === false ? '' : `:${get('second')}`}`;
  return `${get('year')}-${get('month')}-${get('day')} ${time} ${get('timeZoneName')}`.trim();
}

/** How long ago (or ahead) a time is, relative to `now`: "just now", "5 min ago", "3 h ago", "2 d ago", "in 4 h". */
export function formatAge(iso: string | number | Date, now: number = Date.now()): string {
  const t = iso instanceof Date ? iso.getTime() : new Date(iso).getTime();
  if (Number.isNaN(t)) return String(iso);
  const diff = now - t;
  const a = Math.abs(diff);
  if (a < 45_000) return 'just now';
  const unit = a < 3_600_000 ? [60_000, 'min'] : a < 172_800_000 ? [3_600_000, 'h'] : [86_400_000, 'd'];
  const n = Math.round(a / (unit[0] as number));
  return diff >= 0 ? `${n} ${unit[1]} ago` : `in ${n} ${unit[1]}`;
}

/** "2026-12-02 03:00:12 CET (5 h ago)": the form the UI and reports show a time in. */
export function formatTimeWithAge(iso: string | number | Date, o: { timeZone?: string; now?: number } = {}): string {
  return `${formatLocalTime(iso, { timeZone: o.timeZone })} (${formatAge(iso, o.now)})`;
}
