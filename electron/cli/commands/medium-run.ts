import { preferredCopies, whereIs } from '../../engine/catalog/queries';
import { LifeboatError } from '../../engine/errors';
import { parseManifest } from '../../engine/format/manifest';
import type { RestoreRequestState, RestoreTier } from '../../engine/storage/medium';
import { withCliEngine } from '../engine';
import { printJson, type CliIo } from '../output';

export interface RestoreRequestOptions {
  days: number;
  tier: RestoreTier;
  json?: boolean;
}

const SAID: Record<RestoreRequestState, string> = {
  requested: 'restore requested now',
  restoring: 'restore in progress (ongoing-request)',
  restored: 'restored: readable now',
  readable: 'readable (not in cold storage)',
};

/**
 * `lifeboat medium restore-request <set>`: a restore request (S3 RestoreObject) for each archived
 * artifact of the set on every reachable medium holding it with cold storage. Run again, it says
 * how far each one is (HeadObject's x-amz-restore); once all are restored, verify and restore read the set.
 */
export async function restoreRequestCommand(io: CliIo, set: string, opts: RestoreRequestOptions): Promise<void> {
  if (!Number.isInteger(opts.days) || opts.days < 1 || opts.days > 3650)
    throw new LifeboatError('BAD_INPUT', '--days takes a whole number of days from 1 to 3650.', {
      hint: 'How long the readable copy stays (it is billed as STANDARD meanwhile): long enough to verify and restore.',
    });
  await withCliEngine(async (engine) => {
    const found = whereIs(engine.catalog, set);
    if (!found)
      throw new LifeboatError('NOT_FOUND', `The catalog knows no set ${set}.`, {
        hint: 'Scan the media first (lifeboat scan <medium>), then look it up with lifeboat sets.',
      });
    const out: Array<{
      location: string;
      artifact: string;
      state: RestoreRequestState | 'unreachable';
      storage_class?: string;
      detail?: string;
    }> = [];
    /** Copies on media that have no cold storage (folders, Azure): readable as they are. */
    const warm: string[] = [];
    for (const row of preferredCopies(found.rows)) {
      let artifacts: string[];
      let medium;
      try {
        medium = await engine.openMedium(row.location);
        if (!medium.requestRestore) {
          warm.push(row.location);
          continue;
        }
        artifacts = parseManifest(await medium.readFile(`${row.setPath}/manifest.json`)).artifacts.map((a) => a.path);
      } catch (e) {
        out.push({ location: row.location, artifact: '', state: 'unreachable', detail: (e as Error).message });
        continue;
      }
      for (const a of artifacts) {
        const r = await medium.requestRestore(`${row.setPath}/${a}`, { days: opts.days, tier: opts.tier });
        out.push({ location: row.location, artifact: a, state: r.state, storage_class: r.storageClass });
      }
    }
    const reached = out.filter((o) => o.state !== 'unreachable');
    if (reached.length === 0 && warm.length === 0)
      throw new LifeboatError(
        'STORAGE_UNREACHABLE',
        `No medium holding ${found.key} could be reached: ${out.map((o) => `${o.location}: ${o.detail}`).join('; ')}.`,
      );
    // Nothing in cold storage where we looked: nothing to do is not an error (exit 0).
    if (reached.every((o) => o.state === 'readable')) {
      const classes = [...new Set(reached.map((o) => o.storage_class ?? 'STANDARD'))];
      const where = [
        ...(classes.length ? [`in ${classes.join(', ')}`] : []),
        ...(warm.length ? [`on media without cold storage (${warm.join(', ')})`] : []),
      ].join(' and ');
      const said = `Nothing to request: every artifact of ${found.key} is ${where}, readable now.`;
      if (opts.json) {
        printJson(io, {
          ok: true,
          set: found.key,
          nothing_to_request: true,
          message: said,
          waiting: 0,
          artifacts: out,
          media_without_cold_storage: warm,
        });
        return;
      }
      for (const o of out.filter((x) => x.state === 'unreachable'))
        io.stdout.write(`${o.location}  (medium)  not reachable: ${o.detail}\n`);
      io.stdout.write(`${said}\n`);
      return;
    }
    const waiting = reached.filter((o) => o.state === 'requested' || o.state === 'restoring').length;
    if (opts.json) {
      printJson(io, {
        ok: true,
        set: found.key,
        nothing_to_request: false,
        days: opts.days,
        tier: opts.tier,
        waiting,
        artifacts: out,
        media_without_cold_storage: warm,
      });
      return;
    }
    for (const o of out)
      io.stdout.write(
        `${o.location}  ${o.artifact || '(medium)'}  ${o.state === 'unreachable' ? `not reachable: ${o.detail}` : `${SAID[o.state]} (${o.storage_class ?? 'STANDARD'})`}\n`,
      );
    io.stdout.write(
      waiting
        ? `${waiting} artifact${waiting === 1 ? '' : 's'} of ${found.key} not readable yet (${opts.tier}: minutes to hours for GLACIER, up to 48 h for DEEP_ARCHIVE); run this again to see progress, then verify.\n`
        : `Every artifact of ${found.key} is readable: verify or restore it now (the copies stay readable ${opts.days} day${opts.days === 1 ? '' : 's'}).\n`,
    );
  });
}
