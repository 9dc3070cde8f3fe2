import { existsSync, renameSync } from 'node:fs';
import { resolve } from 'node:path';
import { findFiles, listMedia, listSets, listSystems, whereIs } from '../../engine/catalog/queries';
import { readKnownMedia, rememberMedium } from '../../engine/catalog/known-media';
import { carryOver, describeCarryOver } from '../../engine/catalog/rebuild';
import { scanMedium, type ScanSummary } from '../../engine/catalog/scan';
import { cleanCandidate, suspiciousSystems, systemTrend, systemTrends } from '../../engine/catalog/trends';
import type { Engine } from '../../engine/engine';
import { checkTimeZone } from '../../engine/foreign/seed/time';
import { LifeboatError, mapError } from '../../engine/errors';
import { resolveDataDir, dataPaths } from '../../engine/settings/paths';
import { indicatorThresholds } from '../../engine/settings/settings';
import { withCliEngine } from '../engine';
import { foreignSecretsFor, type ForeignSecretOptions } from '../foreign-options';
import { readIdentities } from '../keys-io';
import { ago, formatBytes, formatDuration, printJson, table, type CliIo } from '../output';
import { runAsJob } from '../run-job';

/** With LIFEBOAT_TIMING=1, report how long the engine call took (benchmarks compare it with the whole process). */
function timed<T>(io: CliIo, name: string, fn: () => T): T {
  const t = process.hrtime.bigint();
  const value = fn();
  if (process.env.LIFEBOAT_TIMING === '1')
    io.stderr.write(`timing ${name} ${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(2)} ms\n`);
  return value;
}

function printScan(io: CliIo, s: ScanSummary): void {
  io.stdout.write(
    `${s.label ?? '(no label)'}  ${s.location}  [${s.kind}${s.initialized ? `, ${s.mediumId}` : ', not a Lifeboat medium'}]\n`,
  );
  io.stdout.write(
    `  ${s.sets.total} sets: ${s.sets.new} new, ${s.sets.updated} updated, ${s.sets.unchanged} unchanged, ${s.sets.missing} now missing${s.sets.reappeared ? `, ${s.sets.reappeared} back` : ''}\n`,
  );
  if (s.foreign.seedScript || s.foreign.pgbackrest || s.foreign.restic) {
    io.stdout.write(
      `  foreign, read-only (their own integrity data, never a Lifeboat signature): ${s.foreign.seedScript} seed-script sets, ${s.foreign.pgbackrest} pgBackRest backups, ${s.foreign.restic} restic snapshots\n`,
    );
  }
  for (const u of s.unreadable) io.stdout.write(`  UNREADABLE ${u.path}: ${u.reason}\n`);
  // Never a silent zero: each thing recognised and not read, per file or folder, with what it needs.
  for (const f of s.findings)
    io.stdout.write(`  ${f.blocking ? 'NEEDS' : 'FOUND'} ${f.path}: ${f.what} — needs ${f.needs}\n`);
  for (const h of s.hints) io.stdout.write(`  note: ${h}\n`);
  io.stdout.write(`  scanned in ${(s.durationMs / 1000).toFixed(2)} s\n`);
}

/** Move a damaged catalog aside (with its WAL files) so a fresh one can be built. */
function moveCatalogAside(): string | null {
  const paths = dataPaths(resolveDataDir());
  if (!existsSync(paths.catalog)) return null;
  const aside = `${paths.catalog}.broken-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(paths.catalog, aside);
  for (const suffix of ['-wal', '-shm'])
    if (existsSync(paths.catalog + suffix)) renameSync(paths.catalog + suffix, aside + suffix);
  return aside;
}

export async function scanCommand(
  io: CliIo,
  location: string | undefined,
  opts: { rebuild?: boolean; identity?: string[]; timeZone?: string; json?: boolean } & ForeignSecretOptions,
): Promise<void> {
  const identities = readIdentities(opts.identity ?? []);
  const timeZone = opts.timeZone ? checkTimeZone(opts.timeZone) : undefined;
  if (!location && !opts.rebuild)
    throw new LifeboatError(
      'BAD_INPUT',
      'Give a medium to scan (a folder, s3://bucket/prefix or azure://container/prefix), or --rebuild.',
    );
  let locations: string[];
  let aside: string | null = null;
  if (opts.rebuild) {
    locations = readKnownMedia(resolveDataDir());
    aside = moveCatalogAside();
    if (location) locations = [...new Set([...locations, location])];
  } else {
    locations = [location!];
  }
  await withCliEngine(async (engine) => {
    // First what the media cannot give back (pinned keys, runs and journals, the ledger), from the file moved aside.
    const carried = aside ? carryOver(aside, engine.catalog) : null;
    const results: Array<ScanSummary | { location: string; error: { code: string; message: string } }> = [];
    const secrets = foreignSecretsFor(engine, opts);
    for (const loc of locations) {
      try {
        const medium = await engine.openMedium(loc);
        const summary = await runAsJob(engine, io, { kind: 'scan', title: `Scan of ${medium.location}` }, (ctx) =>
          scanMedium(engine.catalog, medium, ctx, {
            identities,
            secrets,
            timeZone,
            indicator: (system) => indicatorThresholds(engine.settings(), system),
          }),
        );
        rememberMedium(engine.paths.dataDir, medium.location);
        results.push(summary);
        if (!opts.json) printScan(io, summary);
      } catch (e) {
        const err = mapError(e);
        // A single medium: its error is the command's error. A rebuild goes on with the others.
        if (!opts.rebuild) throw err;
        results.push({ location: loc, error: { code: err.code, message: err.message } });
        if (!opts.json) io.stdout.write(`${loc}: NOT SCANNED — ${err.message}\n`);
      }
    }
    // A backup found that cannot be read without a key or tool the operator can give: exit 2 (what is missing is printed above).
    const blocked = results.some((r) => 'findings' in r && r.findings.some((f) => f.blocking));
    if (blocked) process.exitCode = 2;
    if (opts.json) {
      printJson(
        io,
        opts.rebuild
          ? {
              ok: true,
              rebuilt: true,
              previous_catalog: aside,
              kept: carried?.kept ?? [],
              lost: carried?.lost ?? [],
              media: results,
            }
          : { ok: !blocked, ...results[0] },
      );
    } else if (opts.rebuild) {
      io.stdout.write(
        `Catalog rebuilt: sets, media and file indexes from ${locations.length} known media${aside ? `; the old file is kept at ${aside}` : ''}.\n`,
      );
      io.stdout.write(
        carried
          ? `${describeCarryOver(carried)}\n`
          : 'There was no old catalog: nothing to carry over (pinned keys, runs, journals and the ledger start empty).\n',
      );
    }
    if (!opts.json)
      for (const line of suspiciousLines(engine)) io.stdout.write(`SUSPICIOUS (ransomware indicator) ${line}\n`);
  });
}

/** One line per system whose sets the ransomware indicator flagged, naming the clean candidate (read from the verdicts: cheap on a rescan). */
function suspiciousLines(engine: Engine): string[] {
  const systems = suspiciousSystems(engine.catalog);
  return systems.flatMap((system) => {
    const clean = cleanCandidate(systemTrend(engine.catalog, system));
    return clean ? [`${system}: ${clean.why}`] : [];
  });
}

export async function setsCommand(
  io: CliIo,
  opts: {
    system?: string;
    kind?: string;
    since?: string;
    until?: string;
    medium?: string;
    verified?: boolean;
    signed?: boolean;
    json?: boolean;
  },
): Promise<void> {
  for (const t of [opts.since, opts.until])
    if (t && Number.isNaN(Date.parse(t)))
      throw new LifeboatError('BAD_INPUT', `Not a time: ${t} (use ISO 8601, e.g. 2026-11-21 or 2026-11-21T02:00:00Z).`);
  await withCliEngine(async (engine) => {
    const rows = timed(io, 'sets', () =>
      listSets(engine.catalog, {
        system: opts.system,
        kind: opts.kind,
        since: opts.since ? new Date(opts.since).toISOString() : undefined,
        until: opts.until ? new Date(opts.until).toISOString() : undefined,
        // A folder is cataloged by its absolute path: a relative one or a trailing slash names it too.
        medium: opts.medium && /^[./]/.test(opts.medium) ? resolve(opts.medium) : opts.medium,
        verified: opts.verified ? true : undefined,
        signed: opts.signed ? true : undefined,
      }),
    );
    if (opts.json) {
      printJson(io, rows);
      return;
    }
    if (rows.length === 0) {
      io.stdout.write('No sets match. (`lifeboat scan <medium>` reads a medium into the catalog.)\n');
      return;
    }
    io.stdout.write(
      table(
        ['SET', 'KIND', 'CREATED', 'SIZE', 'MEDIA', 'TRUST'],
        rows.map((r) => [
          r.key,
          r.origin === 'lifeboat' ? r.kind : `${r.kind} (${r.origin})`,
          r.createdAt.slice(0, 19).replace('T', ' '),
          formatBytes(r.bytes),
          `${r.media}${r.missingFrom ? ` (+${r.missingFrom} missing)` : ''}`,
          [
            r.verified ? 'verified' : 'not verified',
            r.origin !== 'lifeboat' ? 'foreign' : r.signed ? `signed ${r.signerKeyId ?? ''}`.trim() : 'unsigned',
            r.encrypted ? 'encrypted' : '',
            r.suspicious.length ? 'SUSPICIOUS' : '',
          ]
            .filter(Boolean)
            .join(', '),
        ]),
      ),
    );
    for (const r of rows)
      if (r.suspicious.length) io.stdout.write(`${r.key} is SUSPICIOUS: ${r.suspicious.join('; ')}\n`);
  });
}

export async function whereCommand(io: CliIo, set: string, opts: { json?: boolean }): Promise<void> {
  await withCliEngine(async (engine) => {
    const found = whereIs(engine.catalog, set);
    if (!found)
      throw new LifeboatError('NOT_FOUND', `No set ${set} in the catalog.`, {
        hint: '`lifeboat sets` lists what the catalog knows; scan more media to find others.',
      });
    if (opts.json) {
      printJson(io, found);
      return;
    }
    io.stdout.write(`${found.key}\n`);
    io.stdout.write(
      table(
        ['MEDIUM', 'LOCATION', 'STATE', 'LAST SEEN', 'VERIFIED THERE'],
        found.rows.map((r) => [
          r.label ?? r.mediumId,
          `${r.location}/${r.setPath}`,
          r.missingSince ? `MISSING since ${r.missingSince.slice(0, 16)}` : 'present',
          `${ago(r.lastSeen)} (listing ${ago(r.mediumLastSync)})`,
          r.lastVerification
            ? `${r.lastVerification.verdict} at ${r.lastVerification.level}, ${ago(r.lastVerification.at)}`
            : 'never',
        ]),
      ),
    );
  });
}

const GAP = '—';
const pctText = (x: number | null): string => (x === null ? GAP : `${Math.round(x * 100)}%`);

/** `systems --trend`: each Lifeboat set of each system, oldest first, with its measurements and the indicator's verdict. */
function trendCommand(io: CliIo, engine: Engine, opts: { json?: boolean; system?: string }): void {
  const trends = systemTrends(engine.catalog, opts.system, (name) => indicatorThresholds(engine.settings(), name));
  if (opts.json) {
    printJson(io, trends);
    return;
  }
  if (trends.length === 0) {
    io.stdout.write('No Lifeboat sets yet: make a backup, or scan a medium first.\n');
    return;
  }
  for (const t of trends) {
    io.stdout.write(`${t.system}\n`);
    io.stdout.write(
      table(
        ['SET', 'KIND', 'SIZE', 'PLAIN', 'RATIO', 'INCOMPRESSIBLE', 'CHANGED FILES', 'DURATION', 'INDICATOR'],
        t.points.map((p) => [
          p.setId,
          p.incremental ? `${p.kind} (incr)` : p.kind,
          formatBytes(p.storedBytes),
          p.plainBytes === null ? GAP : formatBytes(p.plainBytes),
          p.ratio === null ? GAP : `${p.ratio.toFixed(2)}×`,
          pctText(p.incompressibleShare),
          p.filesChanged === null || p.filesTotal === null ? GAP : `${p.filesChanged} of ${p.filesTotal}`,
          p.durationMs === null ? GAP : formatDuration(p.durationMs / 1000),
          p.suspicious === null ? 'not judged' : p.suspicious ? 'SUSPICIOUS' : 'ok',
        ]),
      ),
    );
    for (const p of t.points)
      if (p.suspicious) io.stdout.write(`  ${p.setId} is SUSPICIOUS: ${p.reasons.join('; ')}\n`);
    if (t.cleanCandidate) io.stdout.write(`  clean candidate: ${t.cleanCandidate.why}\n`);
  }
  io.stdout.write(`(${GAP}: not recorded: a set made before this measurement existed, or nothing to compare with)\n`);
}

export async function systemsCommand(
  io: CliIo,
  opts: { json?: boolean; trend?: boolean; system?: string },
): Promise<void> {
  await withCliEngine(async (engine) => {
    if (opts.trend) return trendCommand(io, engine, opts);
    if (opts.system)
      throw new LifeboatError('BAD_INPUT', '--system goes with --trend.', {
        hint: `lifeboat systems --trend --system ${opts.system}`,
      });
    const rows = listSystems(engine.catalog, engine.settings());
    if (opts.json) {
      printJson(io, rows);
      return;
    }
    if (rows.length === 0) {
      io.stdout.write('No systems yet: scan a medium first.\n');
      return;
    }
    io.stdout.write(
      table(
        ['SYSTEM', 'TIER', 'SETS', 'NEWEST', 'NEWEST VERIFIED', 'STATUS'],
        rows.map((r) => [
          r.system,
          r.tier ?? '-',
          String(r.sets),
          r.newestSet ? ago(r.newestSet.createdAt) : '-',
          r.newestVerifiedSet ? ago(r.newestVerifiedSet.createdAt) : 'none',
          `${r.status.toUpperCase()}: ${r.reason}`,
        ]),
      ),
    );
    for (const line of suspiciousLines(engine)) io.stdout.write(`SUSPICIOUS sets (ransomware indicator) of ${line}\n`);
    for (const r of rows) {
      for (const w of r.wal) {
        io.stdout.write(
          `${r.system}: WAL archive on ${w.label ?? w.mediumId}: ${w.files} files up to ${w.lastSegment ?? '—'}, last archived ${ago(w.lastArchivedAt)}${w.gaps ? `, ${w.gaps} GAP(S)` : ''} (as of the scan ${ago(w.scannedAt)}; lifeboat pitr plan for the window)\n`,
        );
      }
    }
  });
}

/**
 * A path as shown on a terminal: names that are not UTF-8 are already `\xNN`-escaped in the index;
 * control characters (a name may hold ESC or a newline) are escaped the same way here.
 */
function printable(path: string): string {
  // eslint-disable-next-line no-control-regex
  return path.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export async function findCommand(io: CliIo, glob: string, opts: { system?: string; json?: boolean }): Promise<void> {
  await withCliEngine(async (engine) => {
    const hits = timed(io, 'find', () => findFiles(engine.catalog, glob, opts.system));
    if (opts.json) {
      printJson(io, hits);
      return;
    }
    if (hits.length === 0) {
      io.stdout.write(
        'No indexed file matches. (File sets are indexed when Lifeboat makes them, or when scanned with --identity or deep-verified.)\n',
      );
      return;
    }
    io.stdout.write(
      table(
        ['PATH', 'SIZE', 'SET', 'SET CREATED'],
        hits.map((h) => [printable(h.path), formatBytes(h.size), h.setKey, h.createdAt.slice(0, 19).replace('T', ' ')]),
      ),
    );
  });
}

export async function mediaCommand(io: CliIo, opts: { json?: boolean }): Promise<void> {
  await withCliEngine(async (engine) => {
    const rows = listMedia(engine.catalog);
    if (opts.json) {
      printJson(io, rows);
      return;
    }
    if (rows.length === 0) {
      io.stdout.write('No media yet: `lifeboat scan <folder | s3://bucket/prefix>`.\n');
      return;
    }
    io.stdout.write(
      table(
        ['LABEL', 'KIND', 'LOCATION', 'SETS', 'BYTES', 'LAST SCAN', 'PROBLEMS'],
        rows.map((r) => [
          r.label ?? '(none)',
          r.kind,
          r.location,
          `${r.sets}${r.missingSets ? ` (+${r.missingSets} missing)` : ''}`,
          formatBytes(r.bytes),
          ago(r.lastSync),
          [r.lastError ? `last scan failed: ${r.lastError}` : '', r.unreadable ? `${r.unreadable} unreadable` : '']
            .filter(Boolean)
            .join('; ') || '-',
        ]),
      ),
    );
  });
}
