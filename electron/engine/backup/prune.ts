import { parseManifest, sha256Hex } from '../format/manifest';
import type { JobContext } from '../jobs/job-manager';
import type { Medium } from '../storage/medium';
import { listArchive } from '../pitr/wal-archive';
import { walSidecarPath } from '../pitr/wal-signature';
import { parseLsn, segmentName, timelineOf, WAL_SEGMENT_DEFAULT } from '../format/wal-names';
import { planRetention, type RetentionDecision, type RetentionPolicy } from './retention';

/**
 * The WAL each system still needs: everything from the start segment of its oldest retained
 * base backup on (history files always). A system with WAL but no retained base backup keeps
 * all of it — it may be the only copy of something, and a person should decide.
 */
async function planWalRetention(
  medium: Medium,
  decisions: RetentionDecision[],
  sources: Map<string, Record<string, unknown>>,
): Promise<PruneResult['wal']> {
  const systems = await walSystems(medium);
  const out: PruneResult['wal'] = [];
  for (const system of systems) {
    const archive = await listArchive(medium, system);
    const bases = decisions.filter((d) => d.keep && d.set.system === system && d.set.kind === 'pg-base');
    if (bases.length === 0) {
      out.push({ system, keepFrom: null, remove: [], kept: archive.length });
      continue;
    }
    // The manifests were read once, for the retention plan; their facts are reused here.
    let oldest: string | null = null;
    for (const b of bases) {
      const src = sources.get(b.set.path);
      const lsn = typeof src?.start_lsn === 'string' ? src.start_lsn : '';
      let name: string;
      try {
        const seg = Number(src?.wal_segment_size ?? WAL_SEGMENT_DEFAULT);
        name = segmentName(Number(src?.timeline ?? 1), Math.floor(parseLsn(lsn) / seg), seg);
      } catch {
        name = '';
      }
      if (oldest === null || name < oldest) oldest = name;
    }
    // An unreadable retained base backup: keep everything rather than guess.
    if (!oldest) {
      out.push({ system, keepFrom: null, remove: [], kept: archive.length });
      continue;
    }
    const remove = archive
      .filter((w) => w.kind !== 'history' && w.name.slice(0, 24) < oldest && timelineOf(w.name) <= timelineOf(oldest))
      .map((w) => w.path);
    out.push({ system, keepFrom: oldest, remove, kept: archive.length - remove.length });
  }
  return out;
}

async function walSystems(medium: Medium): Promise<string[]> {
  const files = await medium.listFiles('wal', { limit: 10_000_000, maxDepth: 2 });
  return [...new Set(files.map((f) => f.path.split('/')[1]).filter((s): s is string => Boolean(s)))].sort();
}

export interface PruneResult {
  decisions: RetentionDecision[];
  removed: string[];
  /** WAL files older than every retained base backup of their system (removed with `apply`). */
  wal: Array<{ system: string; keepFrom: string | null; remove: string[]; kept: number }>;
  unreadable: Array<{ path: string; reason: string }>;
  applied: boolean;
}

/**
 * Plan (and with `apply`, carry out) retention on one medium. Sets whose manifest cannot be
 * read are never removed: they are reported for a person to look at.
 */
export async function prune(
  medium: Medium,
  policy: RetentionPolicy,
  verifiedManifests: Set<string>,
  apply: boolean,
  ctx: Pick<JobContext, 'step' | 'progress' | 'signal' | 'log'>,
  /** Only these systems' sets and WAL (each system its own policy, e.g. Redis: 2-hourly sets kept 48 h = --keep-last 24); all when absent. */
  systems?: string[],
): Promise<PruneResult> {
  ctx.step('reading manifests');
  const listed = await medium.listSets();
  const unreadable: PruneResult['unreadable'] = [];
  const candidates = [];
  const sources = new Map<string, Record<string, unknown>>();
  for (const s of listed) {
    try {
      const bytes = await medium.readFile(`${s.path}/manifest.json`);
      const m = parseManifest(bytes);
      if (systems && !systems.includes(m.system)) continue;
      sources.set(s.path, m.source);
      candidates.push({
        system: m.system,
        kind: m.kind,
        setId: m.set_id,
        path: s.path,
        createdAt: new Date(m.created_at),
        parent: m.parent,
        verified: verifiedManifests.has(sha256Hex(bytes)),
      });
    } catch (e) {
      unreadable.push({ path: s.path, reason: e instanceof Error ? e.message : String(e) });
    }
  }
  const decisions = planRetention(candidates, policy);
  const wal = (await planWalRetention(medium, decisions, sources)).filter(
    (w) => !systems || systems.includes(w.system),
  );
  const removed: string[] = [];
  if (apply) {
    const doomed = decisions.filter((d) => !d.keep);
    ctx.step('removing sets');
    ctx.progress({ itemsTotal: doomed.length, itemsDone: 0 });
    for (const d of doomed) {
      if (ctx.signal.aborted) break;
      await medium.removeSet(d.set.path);
      removed.push(d.set.path);
      ctx.log('info', `removed ${medium.location}/${d.set.path}`);
      ctx.progress({ itemsDone: removed.length, current: d.set.setId });
    }
    // WAL goes only after the base backups that needed it are gone, oldest first.
    if (!ctx.signal.aborted) {
      ctx.step('removing WAL no retained base backup needs');
      for (const w of wal) {
        for (const path of w.remove) {
          if (ctx.signal.aborted) break;
          await medium.removeFile(path);
          // Its signature sidecar goes after it: a file is never left without its signature.
          await medium.removeFile(walSidecarPath(path));
          removed.push(path);
        }
        if (w.remove.length)
          ctx.log('info', `removed ${w.remove.length} WAL files of ${w.system} older than ${w.keepFrom}`);
      }
    }
  }
  return { decisions, removed, wal, unreadable, applied: apply };
}
