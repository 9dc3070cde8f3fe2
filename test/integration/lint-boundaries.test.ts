import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '../..');

/** Write a probe file where the rule applies, lint it with the project's config, remove it. */
function lintProbe(relPath: string, source: string): { status: number | null; output: string } {
  const file = join(ROOT, relPath);
  writeFileSync(file, source);
  try {
    const r = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules/eslint/bin/eslint.js'), '--max-warnings', '0', relPath],
      { cwd: ROOT, encoding: 'utf8' },
    );
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(file, { force: true });
  }
}

describe('import boundaries are enforced by lint', () => {
  it('fails when a file under electron/engine imports electron', () => {
    const r = lintProbe(
      `electron/engine/lint-probe-${process.pid}.ts`,
      "import { app } from 'electron';\nexport const name = app.getName();\n",
    );
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/electron\/engine is plain Node: it must never import electron/);
  });

  it('fails when the renderer imports node or engine code', () => {
    const r = lintProbe(
      `renderer/src/lint-probe-${process.pid}.ts`,
      "import { readFileSync } from 'node:fs';\nimport { Catalog } from '../../electron/engine/catalog/catalog';\nexport const x = [readFileSync, Catalog];\n",
    );
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/never touches files or sockets/);
    expect(r.output).toMatch(/imports only shared/);
  });

  it('fails when a lower engine layer imports a higher one, and passes the other way (docs/architecture.md)', () => {
    const up = lintProbe(
      `electron/engine/storage/lint-probe-${process.pid}.ts`,
      "import { Catalog } from '../catalog/catalog';\nexport const x = Catalog;\n",
    );
    expect(up.status).toBe(1);
    expect(up.output).toMatch(
      /Layers \(docs\/architecture.md\): storage, crypto, postgres may import only its own layer and those below/,
    );
    const engineTop = lintProbe(
      `electron/engine/verify/lint-probe-${process.pid}.ts`,
      "import type { Engine } from '../engine';\nexport type X = Engine;\n",
    );
    expect(engineTop.status).toBe(1);
    const down = lintProbe(
      `electron/engine/catalog/lint-probe-${process.pid}.ts`,
      "import { openMedium } from '../storage/open-medium';\nexport const x = openMedium;\n",
    );
    expect(down.output).not.toMatch(/Layers/);
    expect(down.status).toBe(0);
  });

  it('fails when code outside catalog/ writes SQL against the catalog, and passes through a catalog function', () => {
    const sql = lintProbe(
      `electron/engine/restore/lint-probe-${process.pid}.ts`,
      "import type { Catalog } from '../catalog/catalog';\nexport const f = (catalog: Catalog, deps: { catalog: Catalog }): unknown => [catalog.stmt('SELECT 1').get(), deps.catalog.db.prepare('SELECT 2').get()];\n",
    );
    expect(sql.status).toBe(1);
    expect(sql.output.match(/All SQL lives in electron\/engine\/catalog/g)?.length).toBeGreaterThanOrEqual(2);
    const named = lintProbe(
      `electron/engine/restore/lint-probe-${process.pid}.ts`,
      "import type { Catalog } from '../catalog/catalog';\nimport { setOrigin } from '../catalog/lookups';\nexport const f = (catalog: Catalog): string | null => setOrigin(catalog, 'a/b');\n",
    );
    expect(named.output).not.toMatch(/All SQL lives/);
    expect(named.status).toBe(0);
  });

  it('fails when anything but electron/ipc/register.ts imports ipcMain', () => {
    const r = lintProbe(
      `electron/main/lint-probe-${process.pid}.ts`,
      "import { ipcMain } from 'electron';\nexport const x = ipcMain;\n",
    );
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/Only electron\/ipc\/register.ts registers IPC handlers/);
  });
});
