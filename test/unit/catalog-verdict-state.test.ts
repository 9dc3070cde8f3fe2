import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { currentVerdicts, listMedia, listSets, listSystems, whereIs } from '../../electron/engine/catalog/queries';
import { defaultSettings } from '../../electron/engine/settings/settings';
import { tempDir } from '../helpers/temp';

/** A set's state follows the verdict that still stands per level and medium; older verdicts are history. */
const dir = tempDir();
let catalog: Catalog;
let n = 0;
afterAll(() => {
  catalog?.close();
  dir.cleanup();
});

beforeEach(() => {
  catalog?.close();
  catalog = Catalog.open(join(dir.path, `c${++n}.sqlite`));
  const now = '2026-12-01T00:00:00.000Z';
  catalog.db.exec(
    `INSERT INTO sets (key, set_id, system, kind, created_at) VALUES ('shop/s1', 's1', 'shop', 'pg-logical', '${now}')`,
  );
  for (const m of ['usb', 'nas']) {
    catalog.db.exec(
      `INSERT INTO media (id, kind, location, first_seen) VALUES ('${m}', 'folder', '/media/${m}', '${now}')`,
    );
    catalog.db.exec(
      `INSERT INTO presence (set_key, medium_id, set_path, first_seen, last_seen) VALUES ('shop/s1', '${m}', 'sets/shop/s1', '${now}', '${now}')`,
    );
  }
});

let clock = 0;
function verdict(medium: string, level: string, v: string): void {
  const at = new Date(Date.UTC(2026, 11, 1, 1, 0, ++clock)).toISOString();
  catalog
    .stmt(
      'INSERT INTO verifications (set_key, medium_id, artifact_path, level, verdict, started_at, duration_ms) VALUES (?, ?, NULL, ?, ?, ?, 1)',
    )
    .run('shop/s1', medium, level, v, at);
}

const verified = (): boolean => listSets(catalog)[0]!.verified;
const failing = (medium: string): number => listMedia(catalog).find((m) => m.id === medium)!.failingSets;

describe('the standing verdict', () => {
  it('a later pass supersedes an older failure, a later failure an older pass', () => {
    verdict('usb', 'integrity', 'ok');
    expect(verified()).toBe(true);
    verdict('usb', 'integrity', 'corrupted');
    expect([verified(), failing('usb')]).toEqual([false, 1]);
    expect(listSystems(catalog, defaultSettings())[0]!.status).toBe('unverified');
    verdict('usb', 'integrity', 'ok');
    expect([verified(), failing('usb')]).toEqual([true, 0]);
    expect(currentVerdicts(catalog).map((v) => `${v.mediumId}:${v.level}:${v.verdict}`)).toEqual(['usb:integrity:ok']);
  });

  it('a pass at a higher level clears a failure below it; a pass below does not clear a failure above', () => {
    verdict('usb', 'integrity', 'corrupted');
    verdict('usb', 'deep', 'ok');
    expect([verified(), failing('usb')]).toEqual([true, 0]);
    verdict('usb', 'deep', 'unreadable-dump');
    verdict('usb', 'integrity', 'ok');
    expect([verified(), failing('usb')]).toEqual([false, 1]);
    expect(currentVerdicts(catalog).map((v) => `${v.level}:${v.verdict}`)).toEqual([
      'deep:unreadable-dump',
      'integrity:ok',
    ]);
    // `where` shows the failure that stands, not the newer pass below it.
    expect(whereIs(catalog, 'shop/s1')!.rows.find((r) => r.mediumId === 'usb')!.lastVerification).toMatchObject({
      level: 'deep',
      verdict: 'unreadable-dump',
    });
  });

  it('per medium: a good copy on one medium keeps the set verified while the other copy fails', () => {
    verdict('usb', 'integrity', 'corrupted');
    verdict('nas', 'integrity', 'ok');
    expect([verified(), failing('usb'), failing('nas')]).toEqual([true, 1, 0]);
  });

  it('a not-checked row (never written by Lifeboat, but possible in an old file) neither passes nor fails nor supersedes', () => {
    verdict('usb', 'integrity', 'corrupted');
    verdict('usb', 'deep', 'not-checked');
    expect([verified(), failing('usb')]).toEqual([false, 1]);
    expect(currentVerdicts(catalog).map((v) => v.verdict)).toEqual(['corrupted']);
  });
});
