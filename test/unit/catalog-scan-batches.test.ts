import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { scanMedium, type ScanSummary } from '../../electron/engine/catalog/scan';
import { canonicalBytes } from '../../electron/engine/format/canonical-json';
import { newMediumInfo } from '../../electron/engine/format/medium';
import { FolderMedium } from '../../electron/engine/storage/folder-medium';
import { tempDir } from '../helpers/temp';

// A medium of many synthetic sets (as bench/catalog.bench.mjs makes them), scanned in batches of 500.
const SETS = 2400;
const BATCH = 500;
const SYSTEMS = 4;
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

function setId(i: number): string {
  return `${new Date(Date.UTC(2025, 0, 1) + i * 3_600_000).toISOString().replace(/[-:]/g, '').slice(0, 15)}Z-files`;
}

function setDir(root: string, i: number): string {
  return join(root, 'sets', `system-${i % SYSTEMS}`, setId(i));
}

/** Set i: a files set of two (absent) archives; every 100th also has a file index, a plain file on the medium. */
function writeSet(root: string, i: number): void {
  const dir = setDir(root, i);
  mkdirSync(dir, { recursive: true });
  const artifacts = [0, 1].map((k) => ({
    path: `part-${k}.tar.zst`,
    role: 'files-tar',
    bytes: 1000 + k,
    sha256: sha(`${i}/${k}`),
    encodings: ['zstd'],
    plain_bytes: 4000 + k,
    plain_sha256: sha(`${i}/${k}/plain`),
    recipients: [],
  }));
  if (i % 100 === 0) {
    const index = Buffer.from(
      `${JSON.stringify({ path: `srv/doc-${i}.txt`, type: 'file', size: 5, mtime_ms: 0, mode: 420, sha256: null, target: null, in: setId(i) })}\n`,
    );
    writeFileSync(join(dir, 'files.index'), index);
    const h = sha(index);
    artifacts.push({
      path: 'files.index',
      role: 'file-index',
      bytes: index.length,
      sha256: h,
      encodings: [],
      plain_bytes: index.length,
      plain_sha256: h,
      recipients: [],
    });
  }
  const t = new Date(Date.UTC(2025, 0, 1) + i * 3_600_000).toISOString();
  writeFileSync(
    join(dir, 'manifest.json'),
    canonicalBytes({
      format: 'lifeboat-set/1',
      set_id: setId(i),
      system: `system-${i % SYSTEMS}`,
      kind: 'files',
      tier: 'standard',
      created_at: t,
      started_at: t,
      finished_at: t,
      parent: null,
      lifeboat_version: 't',
      host: 'h',
      source: {},
      artifacts,
      warnings: [],
    }),
  );
}

/** A folder medium that counts the manifests read since the last batch was committed. */
class Counting extends FolderMedium {
  sinceCommit = 0;
  override async readFile(rel: string): Promise<Buffer> {
    if (rel.endsWith('/manifest.json')) this.sinceCommit++;
    return super.readFile(rel);
  }
}

interface Run {
  steps: string[];
  /** Sets in the catalog when each batch began to be read. */
  atBatch: number[];
  /** The most manifests read and not yet committed. */
  held: number;
}

/** A scan whose steps are recorded; `cancelAt`: cancelled as the nth batch (1-based) begins. */
async function scan(
  catalog: Catalog,
  medium: Counting,
  cancelAt?: number,
  batchSets = BATCH,
): Promise<{ run: Run; summary: Promise<ScanSummary> }> {
  const abort = new AbortController();
  const run: Run = { steps: [], atBatch: [], held: 0 };
  medium.sinceCommit = 0;
  const ctx = {
    step: (s: string): void => {
      run.steps.push(s);
      if (s === 'reading manifests') {
        run.atBatch.push(count(catalog, 'SELECT count(*) FROM presence'));
        if (run.atBatch.length === cancelAt) abort.abort();
      }
      if (s === 'updating the catalog') {
        run.held = Math.max(run.held, medium.sinceCommit);
        medium.sinceCommit = 0;
      }
    },
    progress: () => undefined,
    log: () => undefined,
    signal: abort.signal,
  };
  return { run, summary: scanMedium(catalog, medium, ctx, { batchSets }) };
}

function count(catalog: Catalog, sql: string): number {
  return catalog.db.prepare(sql).pluck().get() as number;
}

let dir: ReturnType<typeof tempDir>;
let root: string;

beforeAll(async () => {
  dir = tempDir();
  root = join(dir.path, 'bucket');
  await new FolderMedium(root).writeInfo(newMediumInfo('fleet'));
  for (let i = 0; i < SETS; i++) writeSet(root, i);
}, 30_000);

afterAll(() => dir.cleanup(), 30_000);

describe('a scan of a medium with many sets', () => {
  it('commits in batches holding at most one batch of manifests, with the output of one whole pass', async () => {
    const catalog = Catalog.open(join(dir.path, 'batched.sqlite'));
    const { run, summary } = await scan(catalog, new Counting(root));
    const s = await summary;
    expect(s.sets).toMatchObject({ total: SETS, new: SETS, updated: 0, unchanged: 0, missing: 0 });
    // Five batches of at most 500 manifests, each committed before the next is read.
    expect(run.atBatch).toEqual([0, 500, 1000, 1500, 2000]);
    expect(run.steps.filter((x) => x === 'updating the catalog')).toHaveLength(5);
    expect(run.held).toBeLessThanOrEqual(BATCH);
    expect(s.indexedFileSets).toBe(SETS / 100);
    // One batch of everything gives the same catalog.
    const whole = Catalog.open(join(dir.path, 'whole.sqlite'));
    const w = await (await scan(whole, new Counting(root), undefined, 1_000_000)).summary;
    expect({ ...w, durationMs: 0 }).toEqual({ ...s, durationMs: 0 });
    for (const sql of [
      'SELECT key, manifest_sha256, bytes, artifact_count FROM sets ORDER BY key',
      'SELECT set_key, path, sha256 FROM artifacts ORDER BY set_key, path',
      'SELECT set_key, set_path, missing_since, manifest_size FROM presence ORDER BY set_key',
      'SELECT set_key, suspicious, reasons FROM set_indicator ORDER BY set_key',
      'SELECT set_key, path FROM file_index ORDER BY set_key, path',
    ])
      expect(catalog.db.prepare(sql).all()).toEqual(whole.db.prepare(sql).all());
    whole.close();
    catalog.close();
  }, 60_000);

  it('cancelled between batches, keeps the batches committed, and a rescan completes it', async () => {
    const catalog = Catalog.open(join(dir.path, 'cancelled.sqlite'));
    const medium = new Counting(root);
    const first = await scan(catalog, medium, 3);
    await expect(first.summary).rejects.toMatchObject({ code: 'CANCELLED' });
    // Two whole batches are in; nothing is judged, indexed or marked missing yet, and the medium says so.
    expect(count(catalog, 'SELECT count(*) FROM sets')).toBe(2 * BATCH);
    expect(count(catalog, 'SELECT count(*) FROM artifacts')).toBe(2 * BATCH * 2 + SETS / 100);
    expect(count(catalog, 'SELECT count(*) FROM presence WHERE missing_since IS NOT NULL')).toBe(0);
    expect(count(catalog, 'SELECT count(*) FROM set_indicator')).toBe(0);
    expect(count(catalog, 'SELECT count(DISTINCT set_key) FROM file_index')).toBe(0);
    expect(catalog.db.prepare('SELECT last_error FROM media').pluck().get()).toMatch(
      /did not finish.*Scan this medium again/,
    );
    const again = await (await scan(catalog, medium)).summary;
    expect(again.sets).toMatchObject({ total: SETS, new: SETS - 2 * BATCH, unchanged: 2 * BATCH, missing: 0 });
    // The sets of the cancelled scan's batches are judged and indexed too.
    expect(count(catalog, 'SELECT count(*) FROM set_indicator')).toBe(SETS);
    expect(count(catalog, 'SELECT count(DISTINCT set_key) FROM file_index')).toBe(SETS / 100);
    expect(again.indexedFileSets).toBe(SETS / 100);
    expect(catalog.db.prepare('SELECT last_error FROM media').pluck().get()).toBeNull();
    catalog.close();
  }, 60_000);

  it('marks sets missing only after the whole listing and every batch are in', async () => {
    const catalog = Catalog.open(join(dir.path, 'removal.sqlite'));
    const medium = new Counting(root);
    await (
      await scan(catalog, medium)
    ).summary;
    // Ten sets gone from the first system, 1,200 new ones: three batches to read.
    for (let i = 0; i < 40; i += SYSTEMS) rmSync(setDir(root, i), { recursive: true });
    for (let i = SETS; i < SETS + 1200; i++) writeSet(root, i);
    const cancelled = await scan(catalog, medium, 2);
    await expect(cancelled.summary).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(count(catalog, 'SELECT count(*) FROM presence WHERE missing_since IS NOT NULL')).toBe(0);
    expect(count(catalog, 'SELECT count(*) FROM presence')).toBe(SETS + BATCH);
    const done = await (await scan(catalog, medium)).summary;
    expect(done.sets).toMatchObject({ total: SETS + 1200 - 10, new: 1200 - BATCH, missing: 10 });
    expect(count(catalog, 'SELECT count(*) FROM presence WHERE missing_since IS NOT NULL')).toBe(10);
    catalog.close();
  }, 60_000);
});
