import { describe, expect, it } from 'vitest';
import { cleanCandidate, judgePoint, type TrendPoint } from '../../electron/engine/catalog/trends';
import { DEFAULT_INDICATOR, parseSettings } from '../../electron/engine/settings/settings';

const MiB = 1024 * 1024;

function point(n: number, o: Partial<TrendPoint> = {}): TrendPoint {
  return {
    key: `s/${n}`,
    setId: String(n),
    kind: 'files',
    incremental: false,
    createdAt: new Date(Date.UTC(2026, 10, n)).toISOString(),
    storedBytes: 10 * MiB,
    plainBytes: 40 * MiB,
    durationMs: 1000,
    ratio: 4,
    incompressibleShare: 0.05,
    filesTotal: 1000,
    filesChanged: 20,
    suspicious: false,
    reasons: [],
    ...o,
  };
}

describe('the ransomware indicator (thresholds in docs/trends.md)', () => {
  const history = [1, 2, 3].map((n) => point(n));

  it('flags each jump with the measured and the usual value', () => {
    expect(judgePoint(point(4), history, DEFAULT_INDICATOR)).toEqual([]);
    const r = judgePoint(
      point(4, { incompressibleShare: 0.97, storedBytes: 38 * MiB, filesChanged: 990 }),
      history,
      DEFAULT_INDICATOR,
    );
    expect(r).toEqual([
      '97% of its data does not compress (usually 5%): files may have been encrypted',
      'it stores 38.0 MiB, 3.8× the usual 10.0 MiB',
      '990 of its 1000 files changed (99%; usually 2%)',
    ]);
  }, 5_000);

  it('has no verdict without history, and unknown measurements (gaps) judge nothing', () => {
    expect(judgePoint(point(1, { incompressibleShare: 1 }), [], DEFAULT_INDICATOR)).toEqual([]);
    const gaps = history.map((p) => ({ ...p, incompressibleShare: null, filesChanged: null }));
    expect(judgePoint(point(4, { incompressibleShare: 1, filesChanged: 1000 }), gaps, DEFAULT_INDICATOR)).toEqual([]);
  }, 5_000);

  it('the first incremental after fulls is judged on its shares against the fulls, not on its size', () => {
    const incr = point(4, { incremental: true, storedBytes: 100 * 1024, plainBytes: 400 * 1024 });
    expect(judgePoint(incr, [], DEFAULT_INDICATOR, history)).toEqual([]);
    const encrypted = { ...incr, incompressibleShare: 0.97, filesChanged: 990 };
    expect(judgePoint(encrypted, [], DEFAULT_INDICATOR, history)).toEqual([
      '97% of its data does not compress (usually 5%): files may have been encrypted',
      '990 of its 1000 files changed (99%; usually 2%)',
    ]);
    // Its own series, once it has one, is the baseline (sizes included).
    const incrs = [1, 2, 3].map((n) => point(n, { incremental: true, storedBytes: 100 * 1024 }));
    expect(judgePoint({ ...incr, storedBytes: 40 * MiB }, incrs, DEFAULT_INDICATOR, history)).toHaveLength(1);
  }, 5_000);

  it('a partial encryption (30% of a text share) is flagged; photos added, or an already incompressible share, are not', () => {
    // 30% of 40 MiB encrypted: 34% does not compress, stored 1.9× (under sizeFactor), 30% changed (under changedShare).
    const partial = point(4, { incompressibleShare: 0.335, storedBytes: 19 * MiB, filesChanged: 300 });
    expect(judgePoint(partial, history, DEFAULT_INDICATOR)).toEqual([
      '29% of its data stopped compressing though it did not grow (34% does not compress, usually 5%): files may have been encrypted',
    ]);
    // Compressed by the attacker, then encrypted: smaller, and nothing of it compresses.
    const packed = point(4, { plainBytes: 10 * MiB, storedBytes: 10 * MiB, incompressibleShare: 1 });
    expect(judgePoint(packed, history, DEFAULT_INDICATOR)).toEqual([
      '100% of its data does not compress (usually 5%): files may have been encrypted',
    ]);
    // 17 MiB of photos added: the share rises as much, but the set grew by it.
    const photos = point(4, { plainBytes: 57 * MiB, incompressibleShare: 19 / 57, storedBytes: 15 * MiB });
    expect(judgePoint(photos, history, DEFAULT_INDICATOR)).toEqual([]);
    // A photo share (or a compressed dump) never compresses: its encryption shows only in the files changed.
    const album = [1, 2, 3].map((n) => point(n, { incompressibleShare: 0.95, storedBytes: 40 * MiB, ratio: 1 }));
    expect(
      judgePoint(point(4, { incompressibleShare: 0.97, storedBytes: 40 * MiB }), album, DEFAULT_INDICATOR),
    ).toEqual([]);
    expect(
      judgePoint(
        point(4, { incompressibleShare: 0.97, storedBytes: 40 * MiB, filesChanged: 600 }),
        album,
        DEFAULT_INDICATOR,
      ),
    ).toEqual(['600 of its 1000 files changed (60%; usually 2%)']);
  }, 5_000);

  it('a slow attack (10% more each set) is flagged once it adds up against the median', () => {
    const ps = [1, 2, 3].map((n) => point(n));
    const verdicts: number[] = [];
    for (let n = 4; n <= 7; n++) {
      const encrypted = (n - 3) * 0.1;
      const p = point(n, {
        incompressibleShare: 0.05 + encrypted * 0.95,
        storedBytes: (10 * (1 - encrypted) + 40 * encrypted) * MiB,
      });
      const r = judgePoint(p, ps, DEFAULT_INDICATOR);
      if (r.length === 0) ps.push(p);
      else verdicts.push(n);
    }
    // 10% and 20% pass; 30% and more are flagged (the median stays at the clean sets).
    expect(verdicts).toEqual([6, 7]);
  }, 5_000);

  it('small absolute growth and small trees are not flagged; thresholds are tunable', () => {
    const tiny = [point(1, { storedBytes: 1000 })];
    expect(judgePoint(point(2, { storedBytes: 9000 }), tiny, DEFAULT_INDICATOR)).toEqual([]);
    expect(judgePoint(point(2, { storedBytes: 9000 }), tiny, { ...DEFAULT_INDICATOR, sizeMinBytes: 0 })).toHaveLength(
      1,
    );
    const few = [point(1, { filesTotal: 5, filesChanged: 0 })];
    expect(judgePoint(point(2, { filesTotal: 5, filesChanged: 5 }), few, DEFAULT_INDICATOR)).toEqual([]);
  }, 5_000);

  it('proposes the last set before the first of the newest run of suspicious sets', () => {
    const ps = [
      point(1),
      point(2, { suspicious: true, reasons: ['old false alarm'] }),
      point(3),
      point(4, { suspicious: true, reasons: ['97% of its data does not compress'] }),
      point(5, { suspicious: true, reasons: ['x'] }),
      point(6),
    ];
    const c = cleanCandidate(ps)!;
    expect(c.firstSuspicious.setId).toBe('4');
    expect(c.candidate?.setId).toBe('3');
    expect(c.why).toBe(
      '4 is flagged suspicious (97% of its data does not compress): 3, the last set before it, is the clean candidate.',
    );
    expect(cleanCandidate([point(1), point(2)])).toBeNull();
    expect(cleanCandidate([point(1, { suspicious: true, reasons: ['r'] })])?.candidate).toBeNull();
  }, 5_000);

  it('per-system overrides are read from the settings, and bad ones are refused by name', () => {
    const s = parseSettings({ systems: { share: { indicator: { sizeFactor: 3 } } } });
    expect(s.systems.share?.indicator).toEqual({ sizeFactor: 3 });
    expect(() => parseSettings({ systems: { share: { indicator: { changedShare: 2 } } } })).toThrow(
      /systems\.share\.indicator\.changedShare|a share above 0, up to 1/,
    );
    // Values that would flag about every other set are refused too (the path is e.at, in the CLI's message).
    for (const [k, v] of [
      ['sizeFactor', 1],
      ['incompressibleJump', 0],
      ['changedShare', 0],
    ] as const)
      expect(() => parseSettings({ systems: { share: { indicator: { [k]: v } } } })).toThrow(
        expect.objectContaining({ at: `systems.share.indicator.${k}`, message: expect.stringMatching(/ above /) }),
      );
    expect(parseSettings({ systems: { s: { indicator: { accepted: ['20261202-1'] } } } }).systems.s?.indicator).toEqual(
      {
        accepted: ['20261202-1'],
      },
    );
    expect(() => parseSettings({ systems: { s: { indicator: { accepted: [7] } } } })).toThrow(
      expect.objectContaining({ at: 'systems.s.indicator.accepted.0' }),
    );
  }, 5_000);
});
