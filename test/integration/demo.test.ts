import { chmodSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { json, lifeboatAsync } from '../helpers/cli';
import { tempDir } from '../helpers/temp';

const dir = tempDir();
// As root, the demo's PostgreSQL runs as `postgres`, which must reach the demo folder.
chmodSync(dir.path, 0o755);
afterAll(() => dir.cleanup());

interface Summary {
  ok: boolean;
  sets: Array<{ kind: string; media: number }>;
  media: string[];
  verified: { sets: number; failed: number; bytes: number };
  window: { from: string; to: string | null; basis: string } | null;
  walSegments: number;
  drill: {
    status: string;
    restoredTables: number;
    checks: Array<{ ok: boolean; sql: string }>;
    rtoSeconds: number;
    rpoSeconds: number;
    rpoObjectiveSeconds: number;
    objectivesFrom: string;
  };
  report: string;
  dir: string;
}

describe('lifeboat demo', () => {
  it('runs the whole product end to end and leaves a report that says so', async () => {
    const demoDir = join(dir.path, 'demo');
    const r = await lifeboatAsync(
      { LIFEBOAT_HOME: join(dir.path, 'unused-home') },
      'demo',
      '--small',
      '--keep',
      '--dir',
      demoDir,
      '--json',
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const s = json<Summary>(r);
    expect(s.ok).toBe(true);
    expect(s.sets.map((x) => x.kind).sort()).toEqual(['config', 'files', 'pg-base', 'pg-logical', 'stream']);
    expect(s.media).toHaveLength(2);
    expect(s.media[1]).toMatch(/^s3:\/\//);
    expect(s.sets.find((x) => x.kind === 'pg-logical')!.media).toBe(2);
    expect(s.verified.failed).toBe(0);
    expect(s.verified.sets).toBe(5);
    expect(s.window?.basis).toBe('commit record (pg_waldump)');
    expect(s.walSegments).toBeGreaterThanOrEqual(3);
    // The window is a stretch of time (the shop kept taking orders for ~8 s, archived as it went), not one instant.
    expect(Date.parse(s.window!.to!) - Date.parse(s.window!.from)).toBeGreaterThan(5_000);
    expect(s.drill.status).toBe('succeeded');
    // The summary judges by the system's tier (critical: RPO 5 min), as the report and Overview do, not the runbook's 1 d.
    expect(s.drill.rpoObjectiveSeconds).toBe(300);
    expect(s.drill.objectivesFrom).toBe('tier critical of shop-db');
    expect(s.drill.restoredTables).toBe(3);
    expect(s.drill.checks.map((c) => c.ok)).toEqual([true, true, true]);
    expect(s.drill.checks[0]!.sql).toContain('orders');
    const html = readFileSync(s.report, 'utf8');
    expect(html).toContain('DRILL');
    expect(html).toMatch(/Status<\/th><td class="ok">succeeded/);
    expect(html).toContain('run.finished');
    // Nothing of the demo leaks into the operator's own data dir.
    expect(existsSync(join(dir.path, 'unused-home', 'catalog.sqlite'))).toBe(false);
    rmSync(demoDir, { recursive: true, force: true });
  }, 240_000);
});
