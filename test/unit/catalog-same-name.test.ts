import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeSet } from '../../electron/engine/backup/set-writer';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { chainKeys, listSets, whereIs } from '../../electron/engine/catalog/queries';
import { scanMedium } from '../../electron/engine/catalog/scan';
import { setIdKnown, verifiedManifests } from '../../electron/engine/catalog/sets';
import { canonicalBytes } from '../../electron/engine/format/canonical-json';
import { sha256Hex } from '../../electron/engine/format/manifest';
import { newMediumInfo } from '../../electron/engine/format/medium';
import { FolderMedium } from '../../electron/engine/storage/folder-medium';
import { tempDir } from '../helpers/temp';

const ctx = {
  step: () => undefined,
  progress: () => undefined,
  log: () => undefined,
  signal: new AbortController().signal,
};
const ID = '20261122T211110Z-files';
const H = 'c'.repeat(64);

/** A files set's manifest on a folder medium; `host` makes two sets of the same name differ. */
function putSet(root: string, id: string, host: string, parent: string | null = null): Buffer {
  const d = join(root, 'sets/docs', id);
  mkdirSync(d, { recursive: true });
  const bytes = canonicalBytes({
    format: 'lifeboat-set/1',
    set_id: id,
    system: 'docs',
    kind: 'files',
    tier: null,
    created_at: '2026-11-22T21:11:10.000Z',
    started_at: '2026-11-22T21:11:10.000Z',
    finished_at: '2026-11-22T21:11:11.000Z',
    parent,
    lifeboat_version: 't',
    host,
    source: {},
    warnings: [],
    artifacts: [
      {
        path: 'files.tar.zst',
        role: 'files-tar',
        bytes: 1,
        sha256: H,
        encodings: ['zstd'],
        plain_bytes: 1,
        plain_sha256: H,
        recipients: [],
      },
    ],
  });
  writeFileSync(join(d, 'manifest.json'), bytes);
  return bytes;
}

let dir: ReturnType<typeof tempDir>;
let catalog: Catalog;
const media: Record<string, FolderMedium> = {};

beforeEach(async () => {
  dir = tempDir();
  for (const label of ['a', 'b', 'c']) {
    media[label] = new FolderMedium(join(dir.path, label));
    await media[label].writeInfo(newMediumInfo(label));
  }
  catalog = Catalog.open(join(dir.path, 'catalog.sqlite'));
});
afterEach(() => {
  catalog.close();
  dir.cleanup();
});

const keys = (): string[] =>
  listSets(catalog)
    .map((s) => s.key)
    .sort();

describe('two different sets with the same name on two media (made in the same second by two servers)', () => {
  it('are two sets in the catalog, each where it is, with stable keys; a true copy joins its own set', async () => {
    putSet(media.a!.location, ID, 'server-1');
    const other = putSet(media.b!.location, ID, 'server-2');
    await scanMedium(catalog, media.a!, ctx);
    await scanMedium(catalog, media.b!, ctx);
    const variant = `docs/${ID}@${sha256Hex(other).slice(0, 12)}`;
    expect(keys()).toEqual([`docs/${ID}`, variant]);
    expect(whereIs(catalog, `docs/${ID}`)!.rows.map((r) => r.label)).toEqual(['a']);
    expect(whereIs(catalog, variant)!.rows.map((r) => r.label)).toEqual(['b']);
    // The bare id names both: refused with the keys, never one picked silently.
    expect(() => whereIs(catalog, ID)).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringContaining(`names 2 different sets: `) }),
    );
    expect(() => whereIs(catalog, ID)).toThrow(new RegExp(`${variant.replace(/[/@]/g, '.')}`));

    // Rescans (manifests read again or skipped) keep both, neither goes missing.
    for (const m of [media.a!, media.b!]) {
      const s = await scanMedium(catalog, m, ctx);
      expect(s.sets).toMatchObject({ total: 1, missing: 0 });
    }
    expect(keys()).toEqual([`docs/${ID}`, variant]);

    // A copy of b's set (same manifest bytes) on c is the same set: one more medium for it.
    mkdirSync(join(media.c!.location, 'sets/docs', ID), { recursive: true });
    writeFileSync(join(media.c!.location, 'sets/docs', ID, 'manifest.json'), other);
    await scanMedium(catalog, media.c!, ctx);
    expect(keys()).toEqual([`docs/${ID}`, variant]);
    expect(listSets(catalog).find((s) => s.key === variant)!.media).toBe(2);
    expect(listSets(catalog).find((s) => s.key === `docs/${ID}`)!.media).toBe(1);

    // Retention protects a verified set by its manifest, not by a name the other set shares.
    catalog.db
      .prepare(
        "INSERT INTO verifications (set_key, medium_id, artifact_path, level, verdict, started_at, duration_ms) VALUES (?, (SELECT id FROM media WHERE label = 'b'), NULL, 'integrity', 'ok', '2026-11-22T22:00:00Z', 5)",
      )
      .run(variant);
    expect([...verifiedManifests(catalog)]).toEqual([sha256Hex(other)]);
  });

  it("an incremental's parent is the set of that id on its own medium", async () => {
    putSet(media.a!.location, ID, 'server-1');
    const parent = putSet(media.b!.location, ID, 'server-2');
    putSet(media.b!.location, '20261123T000000Z-files', 'server-2', ID);
    await scanMedium(catalog, media.a!, ctx);
    await scanMedium(catalog, media.b!, ctx);
    const variant = `docs/${ID}@${sha256Hex(parent).slice(0, 12)}`;
    const chain = chainKeys(catalog, 'docs/20261123T000000Z-files');
    expect([...chain.entries()]).toEqual([
      ['20261123T000000Z-files', 'docs/20261123T000000Z-files'],
      [ID, variant],
    ]);
  });

  it('the only copy of a set, rewritten in place, stays the same set', async () => {
    putSet(media.a!.location, ID, 'server-1');
    await scanMedium(catalog, media.a!, ctx);
    const rewritten = putSet(media.a!.location, ID, 'server-1-rewritten');
    await scanMedium(catalog, media.a!, ctx);
    expect(keys()).toEqual([`docs/${ID}`]);
    expect(catalog.db.prepare('SELECT manifest_sha256 FROM sets').pluck().get()).toBe(sha256Hex(rewritten));
  });
});

describe('a new set never takes a name the catalog knows on another medium', () => {
  it('takes the next suffix instead', async () => {
    const startedAt = new Date('2026-11-22T21:11:10.400Z');
    const plan = {
      system: 'docs',
      kind: 'files' as const,
      tier: null,
      parent: null,
      recipients: [],
      signingKey: null,
      startedAt,
    };
    const produce = async (
      add: (a: { name: string; role: string; source: Buffer }) => Promise<unknown>,
    ): Promise<{ source: Record<string, unknown>; warnings: string[] }> => {
      await add({ name: 'files.tar', role: 'files-tar', source: Buffer.from('a tar') });
      return { source: {}, warnings: [] };
    };
    const first = await writeSet(
      { ...plan, media: [media.a!], idTaken: (id) => setIdKnown(catalog, 'docs', id) },
      ctx,
      produce,
    );
    expect(first.manifest.set_id).toBe(ID);
    catalog.db
      .prepare(
        "INSERT INTO sets (key, set_id, system, kind, origin, created_at) VALUES (?, ?, 'docs', 'files', 'lifeboat', ?)",
      )
      .run(`docs/${ID}`, ID, startedAt.toISOString());
    // Same second, another medium: without the catalog it would be the same name again.
    const second = await writeSet(
      { ...plan, media: [media.b!], idTaken: (id) => setIdKnown(catalog, 'docs', id) },
      ctx,
      produce,
    );
    expect(second.manifest.set_id).toBe(`${ID}-2`);
    const blind = await writeSet({ ...plan, media: [media.c!] }, ctx, produce);
    expect(blind.manifest.set_id).toBe(ID);
  });
});
