import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '../..');

/** Every probe of this file, linted in ONE eslint run (each run loads the typed config: ~6 s). */
const PROBES: Record<string, { path: string; source: string }> = {
  engineElectron: {
    path: `electron/engine/lint-probe-${process.pid}.ts`,
    source: "import { app } from 'electron';\nexport const name = app.getName();\n",
  },
  rendererNode: {
    path: `renderer/src/lint-probe-${process.pid}.ts`,
    source:
      "import { readFileSync } from 'node:fs';\nimport { Catalog } from '../../electron/engine/catalog/catalog';\nexport const x = [readFileSync, Catalog];\n",
  },
  up: {
    path: `electron/engine/storage/lint-probe-${process.pid}.ts`,
    source: "import { Catalog } from '../catalog/catalog';\nexport const x = Catalog;\n",
  },
  engineTop: {
    path: `electron/engine/verify/lint-probe-${process.pid}.ts`,
    source: "import type { Engine } from '../engine';\nexport type X = Engine;\n",
  },
  down: {
    path: `electron/engine/catalog/lint-probe-${process.pid}.ts`,
    source: "import { openMedium } from '../storage/open-medium';\nexport const x = openMedium;\n",
  },
  sql: {
    path: `electron/engine/restore/lint-probe-${process.pid}.ts`,
    source:
      "import type { Catalog } from '../catalog/catalog';\nexport const f = (catalog: Catalog, deps: { catalog: Catalog }): unknown => [catalog.stmt('SELECT 1').get(), deps.catalog.db.prepare('SELECT 2').get()];\n",
  },
  named: {
    path: `electron/engine/restore/lint-probe-named-${process.pid}.ts`,
    source:
      "import type { Catalog } from '../catalog/catalog';\nimport { setOrigin } from '../catalog/lookups';\nexport const f = (catalog: Catalog): string | null => setOrigin(catalog, 'a/b');\n",
  },
  ipcMain: {
    path: `electron/main/lint-probe-${process.pid}.ts`,
    source: "import { ipcMain } from 'electron';\nexport const x = ipcMain;\n",
  },
};

const results = new Map<string, { status: number; output: string }>();

/** What eslint said of one probe: 1 when it has an error (as eslint's exit status would be), and its messages. */
function lintProbe(name: keyof typeof PROBES): { status: number; output: string } {
  const r = results.get(name);
  if (!r) throw new Error(`probe ${name} was not linted`);
  return r;
}

beforeAll(() => {
  for (const p of Object.values(PROBES)) writeFileSync(join(ROOT, p.path), p.source);
  try {
    const r = spawnSync(
      process.execPath,
      [
        join(ROOT, 'node_modules/eslint/bin/eslint.js'),
        '--format',
        'json',
        ...Object.values(PROBES).map((p) => p.path),
      ],
      { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    const report = JSON.parse(r.stdout) as { filePath: string; errorCount: number; messages: { message: string }[] }[];
    for (const [name, p] of Object.entries(PROBES)) {
      const file = report.find((f) => f.filePath === join(ROOT, p.path));
      if (!file) throw new Error(`eslint did not report ${p.path}: ${r.stderr}`);
      results.set(name, {
        status: file.errorCount > 0 || file.messages.length > 0 ? 1 : 0,
        output: file.messages.map((m) => m.message).join('\n'),
      });
    }
  } finally {
    for (const p of Object.values(PROBES)) rmSync(join(ROOT, p.path), { force: true });
  }
}, 60_000);

afterAll(() => {
  for (const p of Object.values(PROBES)) rmSync(join(ROOT, p.path), { force: true });
});

describe('import boundaries are enforced by lint', () => {
  it('fails when a file under electron/engine imports electron', () => {
    const r = lintProbe('engineElectron');
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/electron\/engine is plain Node: it must never import electron/);
  });

  it('fails when the renderer imports node or engine code', () => {
    const r = lintProbe('rendererNode');
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/never touches files or sockets/);
    expect(r.output).toMatch(/imports only shared/);
  });

  it('fails when a lower engine layer imports a higher one, and passes the other way (docs/architecture.md)', () => {
    const up = lintProbe('up');
    expect(up.status).toBe(1);
    expect(up.output).toMatch(
      /Layers \(docs\/architecture.md\): storage, crypto, postgres, mysql, redis may import only its own layer and those below/,
    );
    const engineTop = lintProbe('engineTop');
    expect(engineTop.status).toBe(1);
    const down = lintProbe('down');
    expect(down.output).not.toMatch(/Layers/);
    expect(down.status).toBe(0);
  });

  it('fails when code outside catalog/ writes SQL against the catalog, and passes through a catalog function', () => {
    const sql = lintProbe('sql');
    expect(sql.status).toBe(1);
    expect(sql.output.match(/All SQL lives in electron\/engine\/catalog/g)?.length).toBeGreaterThanOrEqual(2);
    const named = lintProbe('named');
    expect(named.output).not.toMatch(/All SQL lives/);
    expect(named.status).toBe(0);
  });

  it('fails when anything but electron/ipc/register.ts imports ipcMain', () => {
    const r = lintProbe('ipcMain');
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/Only electron\/ipc\/register.ts registers IPC handlers/);
  });
});
