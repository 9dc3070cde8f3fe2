import { describe, expect, it } from 'vitest';
import { pgLogicalCondition } from '../../electron/engine/restore/pg-logical';

/** What a failed restore.pg-logical step says it left, from the checkpoint written before each effect. */
describe('the condition of a failed pg-logical restore step', () => {
  const p = { database: 'drill_db', clean: false };

  it(
    'a drill that failed before CREATE DATABASE says nothing was restored, never "partial"',
    { timeout: 5_000 },
    () => {
      for (const cp of [null, {}, { decoded: { path: '/w/db.dump', sha256: 'a', bytes: 1 } }]) {
        const said = pgLogicalCondition(p, cp, true);
        expect(said).toBe(
          'nothing was restored: the scratch database drill_db was not created; the scratch server is removed when the run ends',
        );
        expect(said).not.toMatch(/partial/);
      }
    },
  );

  it(
    'a drill says "may be partially restored" only while the database it created is there, "dropped" after',
    { timeout: 5_000 },
    () => {
      expect(pgLogicalCondition(p, { created: 'drill_db' }, true)).toMatch(
        /^the scratch database drill_db was created by this run and may be partially restored; the scratch server is removed/,
      );
      expect(pgLogicalCondition(p, { dropped: 'drill_db' }, true)).toMatch(
        /was dropped after the failure: nothing of the set is left restored/,
      );
    },
  );

  it('outside a drill the target is described as before', { timeout: 5_000 }, () => {
    expect(pgLogicalCondition(p, {}, false)).toBe(
      'the database drill_db was not created: nothing on the target changed',
    );
    expect(pgLogicalCondition(p, { dropped: 'drill_db' }, false)).toMatch(/the target is as it was/);
    expect(pgLogicalCondition({ ...p, clean: true }, {}, false)).toMatch(/may be partially restored/);
  });
});
