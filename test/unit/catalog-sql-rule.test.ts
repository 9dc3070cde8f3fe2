import { join } from 'node:path';
import { Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '../..');
const MESSAGE = /All SQL lives in electron\/engine\/catalog/;

// The rule of eslint.config.mjs that keeps catalog SQL in catalog/ (catalogSqlBlocks), run in
// process on probes (the whole typed lint of lint-boundaries.test.ts is not needed for a syntax rule).
// eslint.config.mjs has no types: imported by a path TypeScript does not resolve.
const CONFIG = join(ROOT, 'eslint.config.mjs');
const config = ((await import(CONFIG)) as { default: Linter.Config[] }).default;
const sqlBlocks = config.filter((c) => c.rules?.['no-restricted-syntax']);
const linter = new Linter({ configType: 'flat', cwd: ROOT });
const lint = (file: string, code: string): Linter.LintMessage[] =>
  linter.verify(
    code,
    [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, ...sqlBlocks],
    join(ROOT, file),
  );

const PROBE = [
  "import type { Catalog } from '../catalog/catalog';",
  "import { setOrigin } from '../catalog/lookups';",
  "export const a = (catalog: Catalog) => catalog.stmt('SELECT 1').get();",
  "export const b = (deps: { catalog: Catalog }) => deps.catalog.db.prepare('SELECT 2').get();",
  'export const c = (engine: { catalog: Catalog }) => engine.catalog.inTransaction(() => 1);',
  "export const d = (catalog: Catalog) => setOrigin(catalog, 'a/b');",
  "export const e = (catalog: Catalog) => catalog['db'];",
  'export const f = (catalog: Catalog) => { const { db } = catalog; return db; };',
  'export const g = (deps: { catalog: Catalog }) => { const { stmt } = deps.catalog; return stmt; };',
  "export const h = (row: Record<string, unknown>) => row['db'];",
].join('\n');

describe('catalog SQL stays in catalog/ (eslint.config.mjs)', () => {
  it('refuses the catalog database outside catalog/, and lets a catalog function through', () => {
    expect(sqlBlocks.length).toBeGreaterThan(0);
    for (const file of ['electron/engine/restore/probe.ts', 'electron/demo/probe.ts', 'electron/cli/probe.ts']) {
      const lines = lint(file, PROBE)
        .filter((m) => MESSAGE.test(m.message))
        .map((m) => m.line);
      expect(new Set(lines), file).toEqual(new Set([3, 4, 5, 7, 8, 9]));
    }
  });

  it('lets catalog/ and a restore scratch index store use their databases', () => {
    expect(lint('electron/engine/catalog/probe.ts', PROBE)).toEqual([]);
    expect(
      lint(
        'electron/engine/restore/index-store.ts',
        'export const x = (s: { stmt(q: string): unknown }) => s.stmt("SELECT 1");',
      ),
    ).toEqual([]);
  });

  it("refuses an upward import('…') like an upward import (the layer blocks carry both rules)", () => {
    const probe = [
      "export const a = () => import('../runbooks/runner');",
      "export const b = () => import('../engine');",
      "export const c = () => import('../../demo/demo');",
      "export const d = () => import('../storage/open-medium');",
      "export const e = () => import('./fan-out');",
      "export const f = () => import('node:fs');",
    ].join('\n');
    const upward = (file: string): number[] =>
      lint(file, probe)
        .filter((m) => /^Layers \(docs\/architecture.md\)/.test(m.message))
        .map((m) => m.line);
    expect(upward('electron/engine/pipeline/probe.ts')).toEqual([1, 2, 3]);
    expect(upward('electron/engine/restore/index-store.ts')).toEqual([1, 2, 3]);
    expect(upward('electron/engine/api/probe.ts')).toEqual([3]);
  });
});
