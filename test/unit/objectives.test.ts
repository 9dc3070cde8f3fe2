import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { objectivesFor, recoverability } from '../../electron/engine/catalog/objectives';
import { defaultSettings, parseSettings, type Settings } from '../../electron/engine/settings/settings';
import { tempDir } from '../helpers/temp';

/** One set of objectives (the tier's first) and "are we recoverable?" per system, on a real catalog. */
const dir = tempDir();
let catalog: Catalog;
let n = 0;
const NOW = new Date('2026-12-01T12:00:00.000Z');
const ago = (minutes: number): string => new Date(NOW.getTime() - minutes * 60_000).toISOString();

afterAll(() => {
  catalog?.close();
  dir.cleanup();
});

beforeEach(() => {
  catalog?.close();
  catalog = Catalog.open(join(dir.path, `c${++n}.sqlite`));
  catalog.db.exec(
    `INSERT INTO media (id, kind, label, location, first_seen) VALUES ('m1', 'folder', 'usb-1', '/media/usb-1', '${ago(999)}')`,
  );
});

function set(
  system: string,
  id: string,
  createdMinutesAgo: number,
  o: { tier?: string; missing?: boolean; bytes?: number } = {},
): string {
  const key = `${system}/${id}`;
  catalog
    .stmt(
      'INSERT INTO sets (key, set_id, system, kind, tier, created_at, finished_at, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    )
    .run(
      key,
      id,
      system,
      'pg-logical',
      o.tier ?? null,
      ago(createdMinutesAgo),
      ago(createdMinutesAgo - 1),
      o.bytes ?? 1000,
    );
  catalog
    .stmt(
      'INSERT INTO presence (set_key, medium_id, set_path, first_seen, last_seen, missing_since) VALUES (?, ?, ?, ?, ?, ?)',
    )
    .run(key, 'm1', `sets/${key}`, ago(createdMinutesAgo), ago(0), o.missing ? ago(1) : null);
  return key;
}

function verdict(
  key: string,
  level: string,
  v: string,
  minutesAgo: number,
  detail: string | null = null,
  durationMs = 1000,
): void {
  catalog
    .stmt(
      'INSERT INTO verifications (set_key, medium_id, artifact_path, level, verdict, started_at, duration_ms, detail) VALUES (?, ?, NULL, ?, ?, ?, ?, ?)',
    )
    .run(key, 'm1', level, v, ago(minutesAgo), durationMs, detail);
}

function run(
  id: string,
  system: string,
  o: { drill: boolean; status: string; startedMinutesAgo: number; restoreMs?: number },
): void {
  const steps =
    o.restoreMs === undefined
      ? {}
      : {
          restore: {
            status: 'done',
            finishedAt: ago(o.startedMinutesAgo - 1),
            output: { set: `${system}/x`, restore_ms: o.restoreMs },
          },
        };
  catalog
    .stmt(
      'INSERT INTO runs (id, runbook_id, title, drill, status, started_at, finished_at, inputs_json, state_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    )
    .run(
      id,
      'monthly-drill',
      'Monthly restore drill',
      o.drill ? 1 : 0,
      o.status,
      ago(o.startedMinutesAgo),
      ago(o.startedMinutesAgo - 2),
      JSON.stringify({ system }),
      JSON.stringify({ steps }),
    );
}

const settingsWith = (systems: Record<string, { tier?: string }>): Settings =>
  parseSettings({
    systems: Object.fromEntries(Object.entries(systems).map(([k, v]) => [k, { ...v, validations: [] }])),
  });

const of = (system: string, settings: Settings = defaultSettings()) =>
  recoverability(catalog, settings, NOW).find((r) => r.system === system)!;

describe('objectivesFor', () => {
  it("takes the tier from Settings first, then the sets' tier, and the runbook's values only when there is no tier", () => {
    set('shop', 's1', 10, { tier: 'standard' });
    set('wiki', 'w1', 10);
    const s = settingsWith({ shop: { tier: 'critical' } });
    expect(objectivesFor(catalog, s, 'shop', { rpoSeconds: 86_400, rtoSeconds: 3600 })).toEqual({
      rpoSeconds: 300,
      rtoSeconds: 3600,
      source: 'tier',
      tier: 'critical',
    });
    expect(objectivesFor(catalog, defaultSettings(), 'shop')).toMatchObject({
      rpoSeconds: 240 * 60,
      source: 'tier',
      tier: 'standard',
    });
    expect(objectivesFor(catalog, s, 'wiki', { rpoSeconds: 86_400, rtoSeconds: 3600 })).toEqual({
      rpoSeconds: 86_400,
      rtoSeconds: 3600,
      source: 'runbook',
      tier: null,
    });
    expect(objectivesFor(catalog, s, 'wiki')).toEqual({
      rpoSeconds: null,
      rtoSeconds: null,
      source: 'none',
      tier: null,
    });
  });
});

describe('recoverability', () => {
  it('a stale verified set with a fresh unverified one: RPO late, next action verify the newest', () => {
    const old = set('shop', 's1', 120, { tier: 'critical' });
    const fresh = set('shop', 's2', 2, { tier: 'critical' });
    verdict(old, 'deep', 'ok', 100);
    const r = of('shop');
    expect(r.rpo.state).toBe('late');
    expect(r.rpo.ageSeconds).toBe(120 * 60);
    expect(r.newestVerifiedSet).toMatchObject({ key: old, level: 'deep' });
    expect(r.next).toMatchObject({ action: 'verify', setKey: fresh });
  });

  it('every set older than the RPO: back up; no set at all (a system only in Settings): scan a medium', () => {
    const k = set('shop', 's1', 120, { tier: 'critical' });
    verdict(k, 'integrity', 'ok', 100);
    expect(of('shop').next.action).toBe('back-up');
    expect(of('crm', settingsWith({ crm: { tier: 'important' } }))).toMatchObject({
      sets: 0,
      rpo: { state: 'no-sets' },
      next: { action: 'scan-medium' },
    });
  });

  it('a failure that superseded the pass is not "verified"; an undecryptable newest set asks for the key', () => {
    const k = set('shop', 's1', 2, { tier: 'critical' });
    verdict(k, 'deep', 'ok', 2);
    verdict(k, 'deep', 'undecryptable', 1);
    const r = of('shop');
    expect(r.newestVerifiedSet).toBeNull();
    expect(r.rpo.state).toBe('unverified');
    expect(r.next).toMatchObject({ action: 'find-key', setKey: k });
  });

  it('the newest set flagged by the ransomware indicator: check it before verifying or drilling it', () => {
    const k = set('shop', 's1', 2, { tier: 'critical' });
    const flag = (v: number): void =>
      void catalog
        .stmt(
          `INSERT INTO set_indicator (set_key, suspicious, reasons, judged_at) VALUES (?, ?, '[]', ?)
           ON CONFLICT(set_key) DO UPDATE SET suspicious = excluded.suspicious`,
        )
        .run(k, v, ago(0));
    flag(1);
    const r = of('shop');
    expect(r.next).toMatchObject({ action: 'check-suspicious', setKey: k });
    expect(r.next.text).toMatch(
      /SUSPICIOUS \(ransomware indicator\).*clean candidate.*ransomware runbook.*accept the set/,
    );
    flag(0); // accepted, or judged again with other thresholds
    expect(of('shop').next.action).toBe('verify');
  });

  it('the newest set gone from its medium: scan that medium, named by its label', () => {
    set('shop', 's1', 2, { tier: 'critical', missing: true });
    expect(of('shop').next).toMatchObject({ action: 'scan-medium', mediumId: 'm1', mediumLabel: 'usb-1' });
  });

  it('measured restore: the newest of a drill and a restore-level verification, judged against the tier RTO', () => {
    const k = set('shop', 's1', 2, { tier: 'critical' });
    verdict(k, 'restore', 'ok', 1, 'restored in 1.5 s (measured RTO); 3 validation queries passed', 9000);
    let r = of('shop');
    expect(r.rto).toMatchObject({ state: 'ok', measured: { seconds: 1.5, source: 'verification', setKey: k } });
    expect(r.lastDrill).toBeNull();
    expect(r.next.action).toBe('drill');
    run('run-1', 'shop', { drill: true, status: 'succeeded', startedMinutesAgo: 0.5, restoreMs: 4_000_000 });
    r = of('shop');
    expect(r.rto).toMatchObject({
      state: 'over',
      measured: { seconds: 4000, source: 'run', runId: 'run-1', drill: true },
    });
    expect(r.rto.text).toContain('over the 1 h RTO');
    expect(r.lastDrill).toMatchObject({ runId: 'run-1', status: 'succeeded', at: ago(0.5), restoreSeconds: 4000 });
    expect(r.next.action).toBe('drill');
  });

  it('all within the objectives with a recent successful drill: nothing to do; an old drill is due again', () => {
    const k = set('shop', 's1', 2, { tier: 'critical' });
    verdict(k, 'deep', 'ok', 1);
    run('run-1', 'shop', { drill: true, status: 'succeeded', startedMinutesAgo: 60, restoreMs: 1200 });
    const r = of('shop');
    expect([r.rpo.state, r.rto.state, r.next.action]).toEqual(['ok', 'ok', 'none']);
    expect(r.history).toEqual([{ createdAt: ago(2), bytes: 1000, durationSeconds: 60 }]);
    catalog.db.exec('DELETE FROM runs');
    run('run-2', 'shop', { drill: true, status: 'succeeded', startedMinutesAgo: 40 * 1440, restoreMs: 1200 });
    expect(of('shop').next.action).toBe('drill');
    // A run of another system is not this one's drill.
    catalog.db.exec('DELETE FROM runs');
    run('run-3', 'wiki', { drill: true, status: 'succeeded', startedMinutesAgo: 1, restoreMs: 1200 });
    expect(of('shop').lastDrill).toBeNull();
  });
});
