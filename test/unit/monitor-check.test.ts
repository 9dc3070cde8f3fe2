import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type LifeboatError } from '../../electron/engine/errors';
import {
  judgeSystem,
  parseCheckDuration,
  pluginLine,
  summarize,
  type SystemFacts,
} from '../../electron/engine/monitor/check';
import { formatMetrics, METRICS, parseMetrics, updateMetricsFile } from '../../electron/engine/monitor/metrics';
import { judgeReplica } from '../../electron/engine/monitor/replica';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus';

const now = new Date('2026-12-02T12:00:00Z');
const ago = (s: number): string => new Date(now.getTime() - s * 1000).toISOString();
const facts = (over: Partial<SystemFacts>): SystemFacts => ({
  system: 'customer-db',
  newestAt: null,
  newestSetAt: null,
  newestWalAt: null,
  newestVerifiedAt: null,
  rpoSeconds: 300,
  unreadable: null,
  ...over,
});

describe('lifeboat check: judging', () => {
  it('WARNING past the RPO, CRITICAL past twice it, OK within; no set is CRITICAL; no objective is UNKNOWN', () => {
    expect(judgeSystem(facts({ newestAt: ago(120) }), {}, now).status).toBe('OK');
    expect(judgeSystem(facts({ newestAt: ago(301) }), {}, now).status).toBe('WARNING');
    expect(judgeSystem(facts({ newestAt: ago(601) }), {}, now).status).toBe('CRITICAL');
    expect(judgeSystem(facts({}), {}, now)).toMatchObject({ status: 'CRITICAL', text: 'customer-db: no backup set' });
    const none = judgeSystem(facts({ newestAt: ago(10), rpoSeconds: null }), {}, now);
    expect(none.status).toBe('UNKNOWN');
    expect(none.text).toContain('give --max-age');
    // A set dated ahead of this clock (a wrong clock, a forged manifest) is UNKNOWN, never a false OK; a little skew is fine.
    expect(judgeSystem(facts({ newestAt: ago(-3600) }), {}, now)).toMatchObject({ status: 'UNKNOWN' });
    expect(judgeSystem(facts({ newestAt: ago(-3600) }), {}, now).text).toMatch(/ahead of this machine's clock/);
    expect(judgeSystem(facts({ newestAt: ago(-60) }), {}, now).status).toBe('OK');
    // --max-age replaces the RPO.
    expect(judgeSystem(facts({ newestAt: ago(601) }), { maxAgeSeconds: 3600 }, now).status).toBe('OK');
    // A medium that could not be read: UNKNOWN, never CRITICAL.
    expect(judgeSystem(facts({ unreadable: 'its medium could not be read' }), {}, now).status).toBe('UNKNOWN');
    // An old set on the media read while another medium could not be: not a false alarm (a newer set may be there).
    const partial = judgeSystem(facts({ newestAt: ago(3600), unreadable: 'a medium could not be read' }), {}, now);
    expect(partial).toMatchObject({ status: 'UNKNOWN', ageSeconds: 3600 });
    expect(partial.text).toMatch(/newest set 1 h old \(RPO 5 min\), not judged: a medium could not be read/);
    // …but a recent set is a fact whatever the other medium holds.
    expect(judgeSystem(facts({ newestAt: ago(60), unreadable: 'a medium could not be read' }), {}, now).status).toBe(
      'OK',
    );
  });

  it('--verified-within: none verified is CRITICAL, older than it WARNING, twice it CRITICAL', () => {
    const t = { verifiedWithinSeconds: 86_400 };
    expect(judgeSystem(facts({ newestAt: ago(60) }), t, now).status).toBe('CRITICAL');
    expect(judgeSystem(facts({ newestAt: ago(60), newestVerifiedAt: ago(3600) }), t, now).status).toBe('OK');
    expect(judgeSystem(facts({ newestAt: ago(60), newestVerifiedAt: ago(90_000) }), t, now).status).toBe('WARNING');
    expect(judgeSystem(facts({ newestAt: ago(60), newestVerifiedAt: ago(180_000) }), t, now).status).toBe('CRITICAL');
  });

  it('the worst system decides; the line has the plugin shape with perfdata per system', () => {
    const r = summarize(
      [
        judgeSystem(facts({ system: 'a', newestAt: ago(30) }), {}, now),
        judgeSystem(facts({ system: 'b', newestAt: ago(400) }), {}, now),
        judgeSystem(facts({ system: 'c', newestAt: ago(700) }), {}, now),
      ],
      null,
      [],
      now,
    );
    expect(r.status).toBe('CRITICAL');
    expect(r.exitCode).toBe(2);
    expect(pluginLine(r)).toBe(
      'LIFEBOAT CRITICAL - c: newest set 11 min 40 s old (RPO 5 min); WARNING b: newest set 6 min 40 s old (RPO 5 min) | a_age=30s;300;600;0 b_age=400s;300;600;0 c_age=700s;300;600;0',
    );
    const unread = summarize([judgeSystem(facts({ newestAt: ago(30) }), {}, now)], null, ['cannot read /mnt/x'], now);
    expect(unread).toMatchObject({ status: 'UNKNOWN', exitCode: 3 });
    expect(summarize([], null, [], now).status).toBe('UNKNOWN');
  });

  it('durations: 90s, 15m, 36h, 7d, 1d12h, bare seconds; anything else is refused with the forms', () => {
    expect(['90s', '15m', '36h', '7d', '1d12h', '45'].map((d) => parseCheckDuration(d, '--max-age'))).toEqual([
      90, 900, 129_600, 604_800, 129_600, 45,
    ]);
    expect(() => parseCheckDuration('soon', '--max-age')).toThrow(/--max-age takes a duration like 90s/);
    expect(() => parseCheckDuration('0s', '--max-lag')).toThrow(/--max-lag/);
    // A number after a unit is not silently seconds (1h30 is not 1 h 30 s): refused, the intended form hinted.
    for (const [bad, hint] of [
      ['1h30', '1h30m'],
      ['1d12', '1d12h'],
      ['5m30', '5m30s'],
    ] as const) {
      expect(() => parseCheckDuration(bad, '--max-age')).toThrow(/--max-age takes a duration/);
      try {
        parseCheckDuration(bad, '--max-age');
      } catch (e) {
        expect((e as LifeboatError).hint).toBe(`Give every part its unit: ${hint}.`);
      }
    }
    // Past ten years is a typo (and would print in exponent form in perfdata).
    expect(() => parseCheckDuration('99999999999999999999d', '--max-age')).toThrow(/at most 3650d/);
    expect(parseCheckDuration('3650d', '--max-age')).toBe(3650 * 86_400);
  });

  it('a replica: caught up is OK, lag past twice max CRITICAL, not in recovery CRITICAL, not streaming WARNING', () => {
    const f = {
      host: 'h',
      port: 5432,
      standby: true,
      streaming: true,
      receivedLsn: '0/3000000',
      replayedLsn: '0/3000000',
      lagBytes: 0,
      lagSeconds: 0,
      lastReplayedAt: ago(9000),
    };
    expect(judgeReplica(f, 300).status).toBe('OK');
    expect(judgeReplica({ ...f, lagSeconds: 700, lagBytes: 10 }, 300).status).toBe('CRITICAL');
    expect(judgeReplica({ ...f, standby: false, lagSeconds: null }, 300).status).toBe('CRITICAL');
    expect(judgeReplica({ ...f, streaming: false }, 300)).toMatchObject({ status: 'WARNING' });
    expect(judgeReplica(f, null).status).toBe('UNKNOWN');
  });
});

describe('metrics files (Prometheus text format)', () => {
  it('every line is valid text format; the values are read back; a second command keeps the first one’s samples', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-metrics-'));
    try {
      const path = join(dir, 'lifeboat.prom');
      const labels = { system: 'web "main"\nsite', kind: 'files' };
      await updateMetricsFile(path, {
        set: [{ name: 'lifeboat_backup_bytes_stored', labels, value: 1234 }],
        ensure: [{ name: 'lifeboat_backup_failures_total', labels }],
      });
      await updateMetricsFile(path, {
        set: [{ name: 'lifeboat_check_status', labels: {}, value: 2 }],
        increment: [{ name: 'lifeboat_backup_failures_total', labels }],
      });
      await updateMetricsFile(path, { set: [], increment: [{ name: 'lifeboat_backup_failures_total', labels }] });
      const text = readFileSync(path, 'utf8');
      const samples = parsePrometheusText(text);
      expect(sampleValue(samples, 'lifeboat_backup_bytes_stored', labels)).toBe(1234);
      expect(sampleValue(samples, 'lifeboat_backup_failures_total', labels)).toBe(2);
      expect(sampleValue(samples, 'lifeboat_check_status')).toBe(2);
      expect(text).toContain('# TYPE lifeboat_backup_failures_total counter');
      // Our own reader agrees with the strict one, and no temporary file is left beside it.
      expect(parseMetrics(text)).toEqual(samples);
      expect(readdirSync(dir)).toEqual(['lifeboat.prom']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every metric the code knows is documented in docs/monitoring.md, and the format refuses bad names', () => {
    const doc = readFileSync(join(__dirname, '../../docs/monitoring.md'), 'utf8');
    for (const name of Object.keys(METRICS)) expect(doc, name).toContain(`\`${name}\``);
    expect(() => formatMetrics([{ name: 'bad-name', labels: {}, value: 1 }])).toThrow(/not a metric name/);
  });
});
