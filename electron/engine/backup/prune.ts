import { parseManifest } from '../format/manifest';
import type { JobContext } from '../jobs/job-manager';
import type { Medium } from '../storage/medium';
import { planRetention, type RetentionDecision, type RetentionPolicy } from './retention';

export interface PruneResult {
  decisions: RetentionDecision[];
  removed: string[];
  unreadable: Array<{ path: string; reason: string }>;
  applied: boolean;
}

/**
 * Plan (and with `apply`, carry out) retention on one medium. Sets whose manifest cannot be
 * read are never removed: they are reported for a person to look at.
 */
export async function prune(medium: Medium, policy: RetentionPolicy, verifiedKeys: Set<string>, apply: boolean, ctx: Pick<JobContext, 'step' | 'progress' | 'signal' | 'log'>): Promise<PruneResult> {
  ctx.step('reading manifests');
  const listed = await medium.listSets();
  const unreadable: PruneResult['unreadable'] = [];
  const candidates = [];
  for (const s of listed) {
    try {
      const m = parseManifest(await medium.readFile(`${s.path}/manifest.json`));
      candidates.push({ system: m.system, kind: m.kind, setId: m.set_id, path: s.path, createdAt: new Date(m.created_at), parent: m.parent, verified: verifiedKeys.has(`${m.system}/${m.set_id}`) });
    } catch (e) {
      unreadable.push({ path: s.path, reason: e instanceof Error ? e.message : String(e) });
    }
  }
  const decisions = planRetention(candidates, policy);
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
  }
  return { decisions, removed, unreadable, applied: apply };
}
