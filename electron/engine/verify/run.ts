import pLimit from 'p-limit';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { SetResult, VerifyLevel } from '../../../shared/domain/verify';
import type { Catalog } from '../catalog/catalog';
import { rememberMedium } from '../catalog/known-media';
import { setVerifications } from '../catalog/ledger';
import { forgetEmptyPathMedium, setArtifacts, setsOnMedium, setsSeenOn } from '../catalog/lookups';
import { preferredCopies, whereIs } from '../catalog/queries';
import { scanMedium } from '../catalog/scan';
import type { ForeignSecrets } from '../foreign/types';
import { trustedKeys } from '../catalog/trust';
import type { AgeIdentity } from '../crypto/age';
import { LifeboatError } from '../errors';
import type { JobContext, JobJudgement } from '../jobs/job-manager';
import type { Settings } from '../settings/settings';
import { installedPgTools } from '../postgres/pg-tools';
import type { Medium } from '../storage/medium';
import { openMedium, type MediumOpener } from '../storage/open-medium';
import { findExecutable } from '../tools/tools';
import { HashPool } from './hash-pool';
import { levelRank, planSet, plannedResult, verifySet, type SetTarget, type VerifyOptions } from './verify';

export interface VerifyRequest {
  /** A medium (folder, s3://… or azure://…), a set folder, or a set id/key from the catalog. */
  target: string;
  level: VerifyLevel;
  identities: AgeIdentity[];
  onlyNew: boolean;
  olderThanDays: number | null;
  jobs: number;
  /**
   * Refuse, before any artifact is read, a deep or restore verification of encrypted sets none of the given identities
   * opens (the app and a drill's step: a run that would only record "not checked" is no check). The CLI leaves it off and
   * reports such sets as not checked, exit 2.
   */
  requireKeys?: boolean;
  /** Where no identity came from, said in the refusal's hint (the app: the keychain's box was unticked, or it is empty). */
  noKeysBecause?: string;
  /** Other tools' passphrases (a restic repository's password): for the scan and the checks. */
  secrets?: ForeignSecrets;
  /** restic at deep level: --read-data-subset (e.g. "1/10", "5%"). */
  resticReadDataSubset?: string | null;
  /**
   * Check only what needs no read of the artifacts, at `level` (manifest, SHA256SUMS, signature,
   * presence and sizes), recording nothing: a runbook's verify step whose deep check runs with the
   * restore that follows (verify.set `one_pass`). Lifeboat sets only.
   */
  planOnly?: boolean;
}

export interface VerifyReport {
  results: SetResult[];
  skipped: Array<{ key: string; reason: string }>;
  bytes: number;
  durationMs: number;
  bytesPerSecond: number | null;
  /** Backups recognised but not opened (no passphrase): the run is never a pass while one is left (CLI exit 2). */
  blocked: string[];
}

interface Resolved {
  medium: Medium;
  /** Only this set (a set folder or id), or every set present on the medium. */
  setPath: string | null;
}

async function resolveTarget(catalog: Catalog, target: string, open: MediumOpener): Promise<Resolved> {
  if (/^(s3|azure):\/\//.test(target)) return { medium: await open(target), setPath: null };
  const abs = resolve(target);
  if (existsSync(abs) && statSync(abs).isDirectory()) {
    if (existsSync(`${abs}/manifest.json`) || /\/sets\/[^/]+\/[^/]+$/.test(abs)) {
      const root = dirname(dirname(dirname(abs)));
      return { medium: await openMedium(root), setPath: abs.slice(root.length + 1) };
    }
    return { medium: await openMedium(abs), setPath: null };
  }
  const found = whereIs(catalog, target);
  // Nothing was verified, like an empty folder: exit 2, never the exit 1 that says a set failed (cron, a mount point gone).
  if (!found)
    throw new LifeboatError(
      'BAD_INPUT',
      `${target} is neither a medium, a set folder, nor a set the catalog knows. Nothing was verified.`,
      { hint: 'Give a folder, s3://bucket/prefix, azure://container/prefix, or a set id from `lifeboat sets`.' },
    );
  for (const row of preferredCopies(found.rows)) {
    const medium = await open(row.location);
    try {
      await medium.readInfo();
      return { medium, setPath: row.setPath };
    } catch {
      continue; // not connected now: try another copy
    }
  }
  throw new LifeboatError('STORAGE_UNREACHABLE', `No medium holding ${found.key} is reachable now.`, {
    hint: `It was last seen on: ${found.rows.map((r) => `${r.label ?? r.mediumId} (${r.location})`).join(', ') || 'no medium'}. Connect one and try again.`,
  });
}

/** The sets present on the medium after a scan, as verification targets. */
function targetsOf(catalog: Catalog, medium: Medium, mediumId: string, onlyPath: string | null): SetTarget[] {
  return setsOnMedium(catalog, mediumId)
    .filter((r) => onlyPath === null || r.setPath === onlyPath)
    .map((r) => ({
      ...r,
      mediumId,
      medium,
      foreignArtifacts: r.origin === 'lifeboat' ? [] : setArtifacts(catalog, r.key),
    }));
}

function skipReason(catalog: Catalog, t: SetTarget, req: VerifyRequest, now: number): string | null {
  const last = setVerifications(catalog, t.key, t.mediumId);
  const atLevel = last.filter((l) => levelRank(l.level) >= levelRank(req.level));
  if (req.onlyNew && atLevel.length > 0) return `already verified at ${atLevel[0]!.level} on ${atLevel[0]!.at}`;
  if (
    req.olderThanDays !== null &&
    atLevel.length > 0 &&
    now - Date.parse(atLevel[0]!.at) < req.olderThanDays * 86_400_000
  )
    return `verified at ${atLevel[0]!.level} less than ${req.olderThanDays} days ago`;
  return null;
}

/** Verify of a folder that is not a medium fails (exit 2): an unmounted mount point must never look healthy to cron. */
function notAMedium(location: string, why: string): LifeboatError {
  return new LifeboatError(
    'STORAGE_UNREACHABLE',
    `No Lifeboat medium here: ${location} (${why}). Nothing was verified.`,
    {
      hint: 'Is the drive mounted, or the bucket and prefix right? `lifeboat media` lists the media the catalog knows.',
    },
  );
}

/**
 * The refusal of a deep or restore check that could only say "not checked": every encrypted artifact needs an identity
 * for one of its recipients. Names the keys (by key id, as manifests and the Credentials screen show them).
 */
function refuseWithoutKeys(
  plans: Array<{ target: SetTarget; artifacts: Array<{ encodings: string[]; recipients: string[] }> }>,
  identities: AgeIdentity[],
  noKeysBecause = 'no identity was given and the keychain holds none',
): void {
  const have = new Set(identities.map((i) => i.recipient.keyId));
  const missing = new Map<string, string[]>();
  for (const p of plans) {
    for (const a of p.artifacts) {
      if (!a.encodings.includes('age') || a.recipients.some((r) => have.has(r))) continue;
      const key = a.recipients.join(' or ') || '(none recorded)';
      missing.set(key, [...new Set([...(missing.get(key) ?? []), p.target.key])]);
    }
  }
  if (missing.size === 0) return;
  const what = [...missing].map(
    ([key, sets]) => `no age identity for key ${key} (${sets.length === 1 ? sets[0] : `${sets.length} sets`})`,
  );
  throw new LifeboatError(
    'CREDENTIAL_UNAVAILABLE',
    `Not started: ${what.join('; ')}. Nothing was verified or recorded.`,
    {
      hint: `Add the identity on the Credentials screen (it is then used by default), or give its file; ${identities.length ? `the identities tried (given or from the keychain) open only ${[...have].join(', ')}` : noKeysBecause}.`,
    },
  );
}

/** The headline of a verification job: a run that found failures is no pass (issue 21). */
export function judgeVerify(report: VerifyReport): JobJudgement {
  const n = report.results.length;
  const failed = report.results.filter((r) => r.verdict !== 'ok' && r.verdict !== 'not-checked').length;
  const notChecked = report.results.filter((r) => r.verdict === 'not-checked').length;
  const skipped = report.skipped.length ? `, ${report.skipped.length} skipped` : '';
  if (failed > 0)
    return {
      outcome: 'findings',
      headline: `${failed} of ${n} set${n === 1 ? '' : 's'} failed${notChecked ? `, ${notChecked} not checked` : ''}${skipped}`,
    };
  if (notChecked > 0)
    return {
      outcome: 'findings',
      headline: `${n - notChecked} of ${n} set${n === 1 ? '' : 's'} passed, ${notChecked} not checked${skipped}`,
    };
  if (n === 0) return { outcome: 'passed', headline: `No set needed checking${skipped}` };
  return { outcome: 'passed', headline: `All ${n} set${n === 1 ? '' : 's'} passed${skipped}` };
}

/**
 * Verify a medium, a set folder or a set: scan first (so the catalog knows what is there),
 * plan every set cheaply, then stream the artifacts, several at once, recording every verdict
 * in the ledger.
 */
export async function runVerify(
  deps: { catalog: Catalog; settings: Settings; dataDir: string; openMedium?: MediumOpener },
  req: VerifyRequest,
  ctx: Pick<JobContext, 'signal' | 'progress' | 'step' | 'log'>,
): Promise<VerifyReport> {
  const started = Date.now();
  if (!Number.isInteger(req.jobs) || req.jobs < 1)
    throw new LifeboatError('BAD_INPUT', '--jobs must be a whole number ≥ 1.');
  const { medium, setPath } = await resolveTarget(deps.catalog, req.target, deps.openMedium ?? openMedium);
  // An empty folder (an unmounted mount point) is refused before the scan, which would otherwise
  // catalog it as a medium and mark what it held before as missing.
  if (setPath === null && !(await medium.readInfo()) && (await medium.listFiles('', { limit: 1 })).length === 0)
    throw notAMedium(medium.location, 'it holds no file');
  const summary = await scanMedium(
    deps.catalog,
    medium,
    { ...ctx, step: (s) => ctx.step(`scan: ${s}`) },
    { secrets: req.secrets },
  );
  // Backups found that cannot be read without a key or a tool (a restic repository without its password): said, never "0 of 0 passed".
  const blocked = summary.findings.filter((f) => f.blocking);
  if (setPath === null && summary.sets.total === 0 && blocked.length > 0) {
    throw new LifeboatError(
      'CREDENTIAL_UNAVAILABLE',
      `Nothing here could be verified: ${blocked.map((f) => `${f.what} needs ${f.needs}`).join('; ')}.`,
      {
        hint: 'Give what is named (lifeboat scan <medium> lists it) and verify again.',
      },
    );
  }
  if (setPath === null && !summary.initialized && summary.sets.total === 0 && summary.unreadable.length === 0) {
    // A folder whose sets were cataloged before and are gone now (a pgBackRest backup.info damaged, both copies):
    // a failure of what was there (exit 1), never "no medium here" — and what the scan recognized is named.
    const known = setsSeenOn(deps.catalog, summary.mediumId);
    const seen = summary.findings.map((f) => `${f.path}: ${f.what} (needs ${f.needs})`);
    if (known > 0)
      throw new LifeboatError(
        'FORMAT_INVALID',
        `Nothing here could be verified: the ${known} set${known === 1 ? '' : 's'} cataloged from ${medium.location} ${known === 1 ? 'is' : 'are'} gone or unreadable now (marked missing)${seen.length ? `; the scan saw ${seen.join('; ')}` : ''}.`,
        { hint: 'lifeboat scan <medium> lists what it found; use another copy of these backups.' },
      );
    // The scan registered the folder by its path: a folder that never held a set is no medium of the catalog.
    forgetEmptyPathMedium(deps.catalog, summary.mediumId);
    throw notAMedium(
      medium.location,
      seen.length
        ? `no set Lifeboat can read; the scan saw ${seen.join('; ')}`
        : 'no lifeboat-medium.json, no sets/ folder and no backups Lifeboat recognizes',
    );
  }
  rememberMedium(deps.dataDir, medium.location);
  const targets = targetsOf(deps.catalog, medium, summary.mediumId, setPath);
  // Set folders whose manifest the scan could not read are verified too: they must show up as
  // failures (with the reason), never silently drop out of a report.
  for (const u of summary.unreadable) {
    const m = /^sets\/([^/]+)\/([^/]+)$/.exec(u.path);
    if (!m || (setPath !== null && u.path !== setPath) || targets.some((t) => t.setPath === u.path)) continue;
    targets.push({
      key: `${m[1]}/${m[2]}`,
      system: m[1]!,
      setId: m[2]!,
      origin: 'lifeboat',
      kind: 'unknown',
      mediumId: summary.mediumId,
      medium,
      setPath: u.path,
      foreignArtifacts: [],
    });
  }
  if (setPath && targets.length === 0)
    throw new LifeboatError('NOT_FOUND', `${medium.location}/${setPath} is not a set on that medium.`);
  if (targets.length === 0 && blocked.length > 0) {
    throw new LifeboatError(
      'CREDENTIAL_UNAVAILABLE',
      `Nothing was verified: ${blocked.map((f) => `${f.what} (${f.path})`).join('; ')}.`,
      {
        hint: `Give ${blocked[0]!.needs}.`,
      },
    );
  }
  if (targets.length === 0) {
    const gone = summary.sets.missing > 0 ? ` (${summary.sets.missing} set(s) seen here before are missing now)` : '';
    throw new LifeboatError(
      'STORAGE_UNREACHABLE',
      `No sets on this medium: ${medium.location}${gone}. Nothing was verified.`,
      {
        hint: 'Is this the drive or bucket the backups go to? `lifeboat where <set>` shows where a set was seen.',
      },
    );
  }
  const skipped: VerifyReport['skipped'] = [];
  const chosen = targets.filter((t) => {
    const reason = skipReason(deps.catalog, t, req, started);
    if (reason) skipped.push({ key: t.key, reason });
    return reason === null;
  });
  const options: VerifyOptions = {
    level: req.level,
    identities: req.identities,
    trusted: trustedKeys(deps.catalog),
    settings: deps.settings,
    pgBinDir: deps.settings.pgBinDir || undefined,
    pgRestore: findExecutable('pg_restore', {
      preferDirs: deps.settings.pgBinDir ? [deps.settings.pgBinDir] : [],
      pg: true,
    }),
    // From the deep level up, each dump is read by a pg_restore chosen by the dump's own version.
    pgRestores:
      levelRank(req.level) >= levelRank('deep')
        ? await installedPgTools('pg_restore', deps.settings.pgBinDir || undefined)
        : undefined,
    secrets: req.secrets,
    resticReadDataSubset: req.resticReadDataSubset ?? null,
  };
  ctx.step('checking manifests and signatures');
  const plans = [];
  for (const t of chosen) plans.push(await planSet(t, options));
  if (req.planOnly) {
    const results = plans.map((p) => plannedResult(p, req.level, new Date(started)));
    return { results, skipped, blocked: [], bytes: 0, durationMs: Date.now() - started, bytesPerSecond: null };
  }
  if (req.requireKeys && levelRank(req.level) >= levelRank('deep'))
    refuseWithoutKeys(plans, req.identities, req.noKeysBecause);
  const total = plans.reduce((n, p) => n + p.artifacts.reduce((m, a) => m + a.bytes, 0), 0);
  const reading = levelRank(req.level) >= levelRank('integrity');
  ctx.progress({ bytesTotal: reading ? total : 0, bytesDone: 0, itemsTotal: plans.length, itemsDone: 0 });
  ctx.step(`verifying at ${req.level} level`);
  // At most `jobs` artifacts stream at once across every set.
  const sem = pLimit(req.jobs);
  const pool = new HashPool(req.jobs);
  let bytesDone = 0;
  let setsDone = 0;
  // The item named in the progress is one still being worked on: the set whose bytes last moved, or whose test restore
  // runs (which moves no byte). When a set finishes, another unfinished one takes its place, never a finished one.
  const working = new Set<string>();
  let shown: string | null = null;
  const show = (key: string | null): void => {
    shown = key;
    ctx.progress({ bytesDone, current: key });
  };
  // A set naming itself (its test restore) is the one shown.
  const setCtx = (key: string): typeof ctx => ({
    ...ctx,
    progress: (u) => {
      if (u.current !== undefined) shown = key;
      ctx.progress(u);
    },
  });
  const settled = await Promise.allSettled(
    plans.map(async (plan) => {
      const key = plan.target.key;
      const r = await verifySet(
        plan,
        options,
        deps.catalog,
        sem,
        setCtx(key),
        (delta) => {
          if (!reading) return;
          bytesDone += delta;
          working.add(key);
          if (delta > 0 || shown === null) show(key);
        },
        pool,
      );
      working.delete(key);
      if (shown === key) show([...working][0] ?? null);
      ctx.progress({ itemsDone: ++setsDone });
      // The report lists every failure; the job log keeps them too, for the app's live view.
      if (r.verdict !== 'ok') ctx.log('info', `${r.key}: ${r.verdict}${r.detail ? ` — ${r.detail}` : ''}`);
      return r;
    }),
  ).finally(() => pool.close());
  // A set whose check could not finish (the medium went out of reach) fails the whole run,
  // once every other set has finished and been recorded.
  const stopped = settled.find((r) => r.status === 'rejected');
  if (stopped) throw stopped.reason;
  const results = settled.map((r) => (r as PromiseFulfilledResult<SetResult>).value);
  const durationMs = Date.now() - started;
  // What was read: the sets' own totals (a pgBackRest backup's files are only known once its manifest is read).
  const read = results.reduce((n, r) => n + r.bytes, 0);
  return {
    results,
    skipped,
    blocked: blocked.map((f) => `${f.what}: needs ${f.needs}`),
    bytes: reading ? read : 0,
    durationMs,
    bytesPerSecond: reading && durationMs > 0 ? (read * 1000) / durationMs : null,
  };
}
