import { formatDuration } from '../../../shared/format';
import type { Catalog } from '../catalog/catalog';
import { objectivesFor, recoverability, recoverabilityOf } from '../catalog/objectives';
import { LifeboatError, mapError } from '../errors';
import { parseManifest } from '../format/manifest';
import { parseStored, type ArchivedWal } from '../format/wal-names';
import { TIERS, type Settings, type Tier } from '../settings/settings';
import type { MediumOpener } from '../storage/open-medium';
import type { Sample } from './metrics';

/**
 * `lifeboat check`: the monitoring-plugin answer (Nagios, Icinga, Zabbix) for the backups of each
 * system, against its tier's RPO by default (docs/monitoring.md). Facts come from the catalog (the
 * laptop) or straight from media (a server, no catalog); judging is the same for both.
 */

export type CheckStatus = 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';
export const EXIT_CODE: Record<CheckStatus, 0 | 1 | 2 | 3> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 };
/** Worst first: a CRITICAL system outranks a WARNING one, which outranks a system that could not be judged. */
const RANK: Record<CheckStatus, number> = { OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3 };

export const worst = (a: CheckStatus, b: CheckStatus): CheckStatus => (RANK[a] >= RANK[b] ? a : b);

export interface SystemFacts {
  system: string;
  /** When the newest recovery point was made: the newest set, or the newest archived WAL file when newer. */
  newestAt: string | null;
  newestSetAt: string | null;
  newestWalAt: string | null;
  /** null when unknown (straight from a medium: verifications live in the catalog). */
  newestVerifiedAt: string | null;
  rpoSeconds: number | null;
  /**
   * A place that may hold the system's sets could not be read (a medium given with --from): with nothing found
   * the system is UNKNOWN; with an older set found, a verdict worse than OK is UNKNOWN too (a newer set may be there).
   */
  unreadable: string | null;
}

export interface SystemCheck {
  system: string;
  status: CheckStatus;
  text: string;
  ageSeconds: number | null;
  verifiedAgeSeconds: number | null;
  warnSeconds: number | null;
  critSeconds: number | null;
  facts: SystemFacts;
}

export interface ReplicaFacts {
  host: string;
  port: number;
  standby: boolean;
  streaming: boolean;
  receivedLsn: string | null;
  replayedLsn: string | null;
  lagBytes: number;
  /** 0 when everything received is replayed, else the age of the last replayed transaction (an upper bound). */
  lagSeconds: number | null;
  lastReplayedAt: string | null;
}

export interface CheckResult {
  status: CheckStatus;
  exitCode: 0 | 1 | 2 | 3;
  /** The first line: `LIFEBOAT CRITICAL - …`. */
  summary: string;
  /** Performance data, `label=value[unit];warn;crit;min`, in the plugin format. */
  perfdata: string[];
  systems: SystemCheck[];
  replica: (ReplicaFacts & { status: CheckStatus; text: string; maxLagSeconds: number | null }) | null;
  /** Things the check could not read (a medium), each making the result at least UNKNOWN. */
  problems: string[];
  checkedAt: string;
}

export interface Thresholds {
  /** WARNING past this age (default the RPO), CRITICAL past twice it. */
  maxAgeSeconds?: number | null;
  /** WARNING when the newest verified set is older than this, CRITICAL past twice it or when none is verified. */
  verifiedWithinSeconds?: number | null;
}

/** Ten years: past that a threshold is a typo (and perfdata would print it in exponent form). */
const MAX_DURATION_S = 3650 * 86_400;

/** "90s", "15m", "36h", "7d", "1d12h", or a bare number of seconds. */
export function parseCheckDuration(text: string, what: string): number {
  const t = text.trim();
  // A bare number is seconds only on its own: "1h30" is refused, not read as 1 h 30 s.
  const m = /^\d+$/.test(t)
    ? [t, undefined, undefined, undefined, t]
    : /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(t);
  const s = m ? Number(m[1] ?? 0) * 86_400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0) : 0;
  if (!m || t === '' || s <= 0 || s > MAX_DURATION_S)
    throw new LifeboatError(
      'BAD_INPUT',
      `${what} takes a duration like 90s, 15m, 36h, 7d or 1d12h (at most 3650d); got "${text}".`,
      /^\d+[dhm]\d+$/.test(t)
        ? { hint: `Give every part its unit: ${t}${t.match(/d\d+$/) ? 'h' : t.match(/h\d+$/) ? 'm' : 's'}.` }
        : {},
    );
  return s;
}

/** How far ahead of this clock a recovery point may be dated (clocks differ a little) before it cannot be judged. */
const FUTURE_SKEW_S = 300;

/** "42 s", never "0 ms" for a set made this second. */
const human = (seconds: number): string => (seconds < 1 ? 'under 1 s' : formatDuration(seconds));

const age = (iso: string | null, now: Date): number | null =>
  iso === null ? null : Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
const later = (a: string | null, b: string | null): string | null => (a === null ? b : b === null || a >= b ? a : b);

/** Judge one system's facts. */
export function judgeSystem(f: SystemFacts, t: Thresholds, now: Date): SystemCheck {
  const warn = t.maxAgeSeconds ?? f.rpoSeconds;
  const crit = warn === null ? null : warn * 2;
  const ageSeconds = age(f.newestAt, now);
  const verifiedAgeSeconds = age(f.newestVerifiedAt, now);
  const out = (status: CheckStatus, text: string): SystemCheck => ({
    system: f.system,
    status,
    text,
    ageSeconds,
    verifiedAgeSeconds,
    warnSeconds: warn,
    critSeconds: crit,
    facts: f,
  });
  if (f.unreadable !== null && f.newestAt === null) return out('UNKNOWN', `${f.system}: ${f.unreadable}`);
  if (ageSeconds === null) return out('CRITICAL', `${f.system}: no backup set`);
  // A recovery point dated ahead of this clock (past a little skew) has no age to judge: never a false OK.
  if (Date.parse(f.newestAt!) - now.getTime() > FUTURE_SKEW_S * 1000)
    return out(
      'UNKNOWN',
      `${f.system}: newest recovery point dated ${f.newestAt}, ahead of this machine's clock (${now.toISOString()}): a clock is wrong`,
    );
  const what = f.newestWalAt !== null && f.newestWalAt === f.newestAt ? 'newest WAL' : 'newest set';
  let status: CheckStatus;
  let text: string;
  if (warn === null || crit === null) {
    status = 'UNKNOWN';
    text = `${f.system}: ${what} ${human(ageSeconds)} old, no objective to judge it (give --max-age or set the system's tier)`;
  } else {
    status = ageSeconds > crit ? 'CRITICAL' : ageSeconds > warn ? 'WARNING' : 'OK';
    text = `${f.system}: ${what} ${human(ageSeconds)} old (${t.maxAgeSeconds ? 'max age' : 'RPO'} ${formatDuration(warn)})`;
    // Too old on the media read, yet a medium could not be read: the newer set may be there (no false alarm).
    if (status !== 'OK' && f.unreadable !== null) {
      status = 'UNKNOWN';
      text += `, not judged: ${f.unreadable} and may hold a newer one`;
    }
  }
  const vw = t.verifiedWithinSeconds ?? null;
  if (vw !== null) {
    if (verifiedAgeSeconds === null) {
      status = worst(status, 'CRITICAL');
      text += ', no verified set';
    } else {
      status = worst(status, verifiedAgeSeconds > 2 * vw ? 'CRITICAL' : verifiedAgeSeconds > vw ? 'WARNING' : 'OK');
      text += `, newest verified set ${human(verifiedAgeSeconds)} old (within ${formatDuration(vw)})`;
    }
  }
  return out(status, text);
}

/** A perfdata label: the plugin format quotes labels with spaces or quotes (system names have neither). */
const label = (s: string): string => (/^[A-Za-z0-9._-]+$/.test(s) ? s : `'${s.replace(/'/g, "''")}'`);
const perf = (name: string, value: number, unit: string, warn: number | null, crit: number | null): string =>
  `${label(name)}=${value}${unit};${warn ?? ''};${crit ?? ''};0`;

/** The whole answer: every system's verdict, the replica's, what could not be read; the summary line and perfdata. */
export function summarize(
  systems: SystemCheck[],
  replica: CheckResult['replica'],
  problems: string[],
  now: Date,
): CheckResult {
  let status: CheckStatus = 'OK';
  for (const s of systems) status = worst(status, s.status);
  if (replica) status = worst(status, replica.status);
  if (problems.length) status = worst(status, 'UNKNOWN');
  if (systems.length === 0 && !replica && problems.length === 0) status = 'UNKNOWN';
  const bad = [...systems]
    .filter((s) => s.status !== 'OK')
    .sort((a, b) => RANK[b.status] - RANK[a.status] || a.system.localeCompare(b.system));
  // Each finding names its own state only when it differs from the whole (a WARNING beside a CRITICAL).
  const tag = (st: CheckStatus, text: string): string => (st === status ? text : `${st} ${text}`);
  const parts: string[] = [];
  if (replica && replica.status !== 'OK') parts.push(tag(replica.status, replica.text));
  parts.push(...bad.map((s) => tag(s.status, s.text)));
  parts.push(...problems.map((p) => tag('UNKNOWN', p)));
  let text: string;
  if (systems.length === 0 && !replica && problems.length === 0) text = 'no system to check (no sets known)';
  else if (parts.length === 0) {
    const what = systems.map((s) => s.text);
    if (replica) what.unshift(replica.text);
    text = `${systems.length ? `${systems.length} system${systems.length > 1 ? 's' : ''} within objectives: ` : ''}${what.join('; ')}`;
  } else text = parts.join('; ');
  const perfdata: string[] = [];
  for (const s of systems) {
    if (s.ageSeconds !== null) perfdata.push(perf(`${s.system}_age`, s.ageSeconds, 's', s.warnSeconds, s.critSeconds));
    if (s.verifiedAgeSeconds !== null)
      perfdata.push(perf(`${s.system}_verified_age`, s.verifiedAgeSeconds, 's', null, null));
  }
  if (replica) {
    if (replica.lagSeconds !== null)
      perfdata.push(
        perf(
          'replay_lag',
          Math.round(replica.lagSeconds),
          's',
          replica.maxLagSeconds,
          replica.maxLagSeconds === null ? null : replica.maxLagSeconds * 2,
        ),
      );
    perfdata.push(perf('replay_lag_bytes', replica.lagBytes, 'B', null, null));
  }
  return {
    status,
    exitCode: EXIT_CODE[status],
    summary: `LIFEBOAT ${status} - ${text}`,
    perfdata,
    systems,
    replica,
    problems,
    checkedAt: now.toISOString(),
  };
}

/** The plugin output: the summary, then ` | ` and the perfdata, on one line. */
export function pluginLine(r: CheckResult): string {
  return r.perfdata.length ? `${r.summary} | ${r.perfdata.join(' ')}` : r.summary;
}

/** Facts from the catalog: every system it knows (or the ones named), verified sets included. */
export function factsFromCatalog(catalog: Catalog, settings: Settings, systems: string[], now: Date): SystemFacts[] {
  const rows = systems.length
    ? systems.map((s) => recoverabilityOf(catalog, settings, s, null, now))
    : recoverability(catalog, settings, now);
  return rows.map((r) => ({
    system: r.system,
    newestAt: r.newestSet?.createdAt ?? null,
    newestSetAt: r.newestSet?.createdAt ?? null,
    newestWalAt: null,
    newestVerifiedAt: r.newestVerifiedSet?.createdAt ?? null,
    rpoSeconds: objectivesFor(catalog, settings, r.system).rpoSeconds,
    unreadable: null,
  }));
}

const isTier = (t: unknown): t is Tier => typeof t === 'string' && (TIERS as readonly string[]).includes(t);

/**
 * Facts straight from media (no catalog): each system's newest set (its manifest: when, and the tier it was made
 * with) and its newest archived WAL file. A medium that cannot be read is a problem (UNKNOWN), never a verdict.
 */
export async function factsFromMedia(
  locations: string[],
  open: MediumOpener,
  settings: Settings,
  systems: string[],
): Promise<{ facts: SystemFacts[]; problems: string[] }> {
  const bySystem = new Map<string, SystemFacts & { tier: Tier | null; tierAt: string | null }>();
  const problems: string[] = [];
  const entry = (system: string): SystemFacts & { tier: Tier | null; tierAt: string | null } => {
    let f = bySystem.get(system);
    if (!f) {
      f = {
        system,
        newestAt: null,
        newestSetAt: null,
        newestWalAt: null,
        newestVerifiedAt: null,
        rpoSeconds: null,
        unreadable: null,
        tier: null,
        tierAt: null,
      };
      bySystem.set(system, f);
    }
    return f;
  };
  for (const s of systems) entry(s);
  for (const location of locations) {
    try {
      const medium = await open(location);
      if ((await medium.readInfo()) === null) {
        problems.push(
          `cannot read ${location}: it is not a Lifeboat medium (no lifeboat-medium.json; unplugged or not mounted?)`,
        );
        continue;
      }
      const sets = (await medium.listSets()).filter((s) => systems.length === 0 || systems.includes(s.system));
      // Each system's sets newest first by id (ids start with the UTC time): the newest one's manifest gives
      // the time; the tier is the newest set's that has one, as the catalog takes it (catalog/objectives.ts),
      // so a backup run without --tier after tiered ones is judged the same from the catalog and from here.
      const bySys = new Map<string, Array<(typeof sets)[number]>>();
      for (const s of sets) bySys.set(s.system, [...(bySys.get(s.system) ?? []), s]);
      for (const [system, list] of bySys) {
        list.sort((a, b) => (a.setId < b.setId ? 1 : -1));
        const f = entry(system);
        for (const [i, s] of list.entries()) {
          const m = parseManifest(await medium.readFile(`${s.path}/manifest.json`));
          if (i === 0) f.newestSetAt = later(f.newestSetAt, m.created_at);
          if (isTier(m.tier)) {
            if (f.tierAt === null || m.created_at > f.tierAt) [f.tier, f.tierAt] = [m.tier, m.created_at];
            break;
          }
        }
      }
      for (const system of new Set([...bySys.keys(), ...systems])) {
        // The archive's files (pitr/wal-archive.ts lists them the same way), newest by the time it was written.
        const wal = (await medium.listFiles(`wal/${system}`, { limit: 10_000_000, maxDepth: 2 }))
          .map((w) => parseStored(w.path, w.size, w.mtimeMs))
          .filter((w): w is ArchivedWal => w !== null);
        if (wal.length === 0) continue;
        const newestWal = new Date(Math.max(...wal.map((w) => w.mtimeMs))).toISOString();
        const f = entry(system);
        f.newestWalAt = later(f.newestWalAt, newestWal);
      }
    } catch (e) {
      const err = mapError(e);
      problems.push(`cannot read ${location}: ${err.message}`);
    }
  }
  const facts = [...bySystem.values()].map(({ tier, tierAt: _tierAt, ...f }) => {
    const configured = settings.systems[f.system]?.tier ?? tier;
    return {
      ...f,
      newestAt: later(f.newestSetAt, f.newestWalAt),
      rpoSeconds: configured ? settings.tiers[configured].rpoMinutes * 60 : null,
      unreadable: problems.length
        ? f.newestSetAt === null && f.newestWalAt === null
          ? 'its medium could not be read'
          : 'a medium could not be read'
        : null,
    };
  });
  return { facts, problems };
}

/** The check as metrics (docs/monitoring.md): status, newest set and verified set times, the RPO. */
export function checkSamples(r: CheckResult): Sample[] {
  const t = (iso: string): number => Math.round(Date.parse(iso) / 1000);
  const out: Sample[] = [
    { name: 'lifeboat_check_status', labels: {}, value: r.exitCode },
    { name: 'lifeboat_check_last_run_timestamp_seconds', labels: {}, value: t(r.checkedAt) },
  ];
  for (const s of r.systems) {
    const labels = { system: s.system };
    if (s.facts.newestAt)
      out.push({ name: 'lifeboat_newest_set_timestamp_seconds', labels, value: t(s.facts.newestAt) });
    if (s.facts.newestVerifiedAt)
      out.push({ name: 'lifeboat_newest_verified_set_timestamp_seconds', labels, value: t(s.facts.newestVerifiedAt) });
    if (s.warnSeconds !== null) out.push({ name: 'lifeboat_rpo_seconds', labels, value: s.warnSeconds });
  }
  if (r.replica) {
    const labels = { replica: `${r.replica.host}:${r.replica.port}` };
    if (r.replica.lagSeconds !== null)
      out.push({ name: 'lifeboat_replica_replay_lag_seconds', labels, value: r.replica.lagSeconds });
    out.push({ name: 'lifeboat_replica_replay_lag_bytes', labels, value: r.replica.lagBytes });
    out.push({ name: 'lifeboat_replica_streaming', labels, value: r.replica.streaming ? 1 : 0 });
  }
  return out;
}
