import type { ChannelArgs, ChannelOutput } from '../../../shared/ipc/contract';
import { prune } from '../backup/prune';
import { rememberMedium, readKnownMedia } from '../catalog/known-media';
import {
  adoptPathMedium,
  checkFolderLocation,
  forgetMediaKnowledge,
  mediaInside,
  removeMedium,
} from '../catalog/media-admin';
import { forgetScannedMedium, runHeads } from '../catalog/lookups';
import { recoverability } from '../catalog/objectives';
import { scanMedium, type ScanSummary } from '../catalog/scan';
import { verifiedManifests } from '../catalog/sets';
import type { Engine } from '../engine';
import { LifeboatError, mapError } from '../errors';
import { newMediumInfo } from '../format/medium';
import type { JobContext } from '../jobs/job-manager';
import { identitiesFor } from '../crypto/keychain-identities';
import { foreignSecrets } from '../foreign/secrets';
import { verifyJournal, type JournalHead } from '../runbooks/journal';
import { indicatorThresholds, saveSettings } from '../settings/settings';
import { settingsView } from './settings-handlers';

/** What a scan job of the console returns (the Media screen reads it). */
export interface ScanJobResult {
  /** The folder typed, when the media were found inside it rather than at it. */
  inside: string | null;
  media: ScanSummary[];
  /** Media found inside the folder that could not be scanned, with why. */
  failed: Array<{ location: string; message: string }>;
  /** The folder holds nothing Lifeboat reads (no medium file, no sets, nothing foreign): it was not added. */
  empty: boolean;
}

/** A location typed by a person, checked: folders must be absolute, there, and folders; s3:// and azure:// as given. */
function checkedLocation(location: string): string {
  const loc = location.trim();
  return /^(s3|azure):\/\//.test(loc) ? loc.replace(/\/+$/, '') : checkFolderLocation(loc);
}

const nothingThere = (s: ScanSummary): boolean =>
  !s.initialized &&
  s.sets.total === 0 &&
  s.sets.missing === 0 &&
  s.unreadable.length === 0 &&
  s.findings.length === 0 &&
  !s.foreign.seedScript &&
  !s.foreign.pgbackrest &&
  !s.foreign.restic;

/** Scan one medium; a plain folder holding nothing is not kept as a "(no label)" medium with 0 sets. */
async function scanOne(
  engine: Engine,
  location: string,
  ctx: JobContext,
): Promise<{ summary: ScanSummary; empty: boolean }> {
  const medium = await engine.openMedium(location);
  // Keys from the keychain: age identities index encrypted file lists; other tools' passphrases open their backups.
  const summary = await scanMedium(engine.catalog, medium, ctx, {
    identities: await identitiesFor(engine.credentials, []),
    secrets: foreignSecrets({ keychain: engine.credentials }),
    indicator: (system) => indicatorThresholds(engine.settings(), system),
  });
  if (nothingThere(summary)) {
    forgetScannedMedium(engine.catalog, summary.mediumId);
    return { summary, empty: true };
  }
  rememberMedium(engine.paths.dataDir, medium.location);
  return { summary, empty: false };
}

/** The handlers of the Overview, Media and Settings screens (issue 21, U3). */
export function createOverviewMediaHandlers(engine: Engine) {
  return {
    getRecoverability: async (): Promise<ChannelOutput<'getRecoverability'>> =>
      recoverability(engine.catalog, engine.settings()),

    startScan: async ({ location }: ChannelArgs<'startScan'>): Promise<ChannelOutput<'startScan'>> => {
      const loc = checkedLocation(location);
      const inside = /^(s3|azure):\/\//.test(loc) ? [] : mediaInside(loc);
      const title =
        inside.length === 1
          ? `Scan of the medium inside ${loc}`
          : inside.length
            ? `Scan of the ${inside.length} media inside ${loc}`
            : `Scan of ${loc}`;
      const { snapshot } = engine.jobs.start({ kind: 'scan', title }, async (ctx): Promise<ScanJobResult> => {
        if (inside.length === 0) {
          const { summary, empty } = await scanOne(engine, loc, ctx);
          return { inside: null, media: [summary], failed: [], empty };
        }
        const out: ScanJobResult = { inside: loc, media: [], failed: [], empty: false };
        // Each medium found is scanned on its own: one that fails does not stop the others.
        for (const m of inside) {
          if (ctx.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
          try {
            out.media.push((await scanOne(engine, m, ctx)).summary);
          } catch (e) {
            const err = mapError(e);
            if (err.code === 'CANCELLED') throw err;
            out.failed.push({ location: m, message: err.message });
          }
        }
        return out;
      });
      return snapshot;
    },

    removeMedium: async ({ id }: ChannelArgs<'removeMedium'>): Promise<ChannelOutput<'removeMedium'>> =>
      removeMedium(engine.catalog, engine.paths.dataDir, id),

    initMedium: async ({ location, label }: ChannelArgs<'initMedium'>): Promise<ChannelOutput<'initMedium'>> => {
      const loc = checkedLocation(location);
      const medium = await engine.openMedium(loc);
      const existing = await medium.readInfo();
      if (existing) {
        throw new LifeboatError('ALREADY_EXISTS', `${loc} is already the Lifeboat medium ${existing.label}.`, {
          hint: 'Scan it instead.',
        });
      }
      const info = newMediumInfo(label.trim());
      await medium.writeInfo(info);
      // Known until now by its path: the catalog's knowledge follows it to its new id (no duplicate medium).
      adoptPathMedium(engine.catalog, medium.location, info);
      return { id: info.id, label: info.label, location: medium.location };
    },

    startPrune: async (input: ChannelArgs<'startPrune'>): Promise<ChannelOutput<'startPrune'>> => {
      const loc = checkedLocation(input.location);
      const medium = await engine.openMedium(loc);
      const policy = {
        keepLast: input.keepLast,
        keepDaily: input.keepDaily,
        keepWeekly: input.keepWeekly,
        keepMonthly: input.keepMonthly,
      };
      if (Object.values(policy).every((n) => n === 0)) {
        throw new LifeboatError('BAD_INPUT', 'Keep at least one set: every "keep" count is 0.', {
          hint: 'Set keep last, daily, weekly or monthly.',
        });
      }
      const title = `${input.apply ? 'Retention' : 'Retention preview'} on ${medium.location}`;
      const { snapshot } = engine.jobs.start({ kind: 'prune', title }, async (ctx) => {
        const r = await prune(medium, policy, verifiedManifests(engine.catalog), input.apply, ctx);
        const view = (
          d: (typeof r.decisions)[number],
        ): { path: string; system: string; kind: string; createdAt: string; reasons: string[] } => ({
          path: d.set.path,
          system: d.set.system,
          kind: d.set.kind,
          createdAt: d.set.createdAt.toISOString(),
          reasons: d.reasons,
        });
        return {
          applied: r.applied,
          location: medium.location,
          keep: r.decisions.filter((d) => d.keep).map(view),
          remove: r.decisions.filter((d) => !d.keep).map(view),
          removed: r.removed,
          wal: r.wal.map((w) => ({ system: w.system, keepFrom: w.keepFrom, remove: w.remove.length, kept: w.kept })),
          unreadable: r.unreadable,
        };
      });
      return snapshot;
    },

    verifyJournals: async (): Promise<ChannelOutput<'verifyJournals'>> => {
      const runs = runHeads(engine.catalog);
      return runs.map((r) => {
        let head: JournalHead | null;
        try {
          head = (JSON.parse(r.state) as { journal?: JournalHead }).journal ?? null;
        } catch {
          head = null;
        }
        const check = verifyJournal(engine.catalog, r.id, head);
        return {
          runId: r.id,
          title: r.title,
          drill: r.drill === 1,
          status: r.status,
          startedAt: r.startedAt,
          ok: check.ok,
          events: check.events,
          problems: check.problems,
        };
      });
    },

    startRebuild: async (): Promise<ChannelOutput<'startRebuild'>> => {
      const locations = readKnownMedia(engine.paths.dataDir);
      const { snapshot } = engine.jobs.start(
        { kind: 'scan', title: `Catalog rebuild from ${locations.length} known media` },
        async (ctx) => {
          const { copy } = forgetMediaKnowledge(engine.catalog, engine.paths.catalog);
          const media: Array<
            { location: string; label: string | null; sets: number } | { location: string; error: string }
          > = [];
          for (const loc of locations) {
            if (ctx.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
            try {
              const s = await scanMedium(engine.catalog, await engine.openMedium(loc), ctx, {
                indicator: (system) => indicatorThresholds(engine.settings(), system),
              });
              media.push({ location: loc, label: s.label, sets: s.sets.total });
            } catch (e) {
              const err = mapError(e);
              if (err.code === 'CANCELLED') throw err;
              // A rebuild goes on with the other media; this one can be scanned again when it is back.
              media.push({ location: loc, error: err.message });
            }
          }
          return { copy, media };
        },
      );
      return snapshot;
    },

    saveSystemSettings: async ({
      system,
      tier,
      validations,
    }: ChannelArgs<'saveSystemSettings'>): Promise<ChannelOutput<'getSettings'>> => {
      const s = engine.settings();
      // The indicator's thresholds (edited in the settings file) are kept.
      const indicator = s.systems[system]?.indicator;
      const entry = {
        validations: validations.map((v) => ({ sql: v.sql.trim(), expect: v.expect.trim() })),
        ...(tier ? { tier } : {}),
        ...(indicator ? { indicator } : {}),
      };
      saveSettings(engine.paths.settings, { ...s, systems: { ...s.systems, [system]: entry } });
      return settingsView(engine);
    },
  };
}
