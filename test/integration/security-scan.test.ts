import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp';

const ROOT = join(__dirname, '..', '..');
const TOOL = join(ROOT, 'tools', 'electronegativity', 'node_modules', '.bin', 'electronegativity');
const ELECTRON = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }
).devDependencies.electron!;

interface Finding {
  ruleId: string;
  file: string;
  severity: string;
}

/**
 * Electronegativity's CSV (the SARIF has no severity). Only the leading fields are read, from the
 * lines that start a finding: a finding's code sample (the sixth field) may hold commas, quotes
 * and newlines the tool does not escape.
 */
const FINDING_LINE = /^([A-Z_]+),"([A-Z]+)","[A-Z]+","([^"]*)","[^"]*"/;

let dir: ReturnType<typeof tempDir>;

beforeAll(() => {
  dir = tempDir();
});
afterAll(() => dir?.cleanup());

/** Run Electronegativity over a folder and read its findings with their severity (its exit code is always 0). */
function scan(input: string, name: string): Finding[] {
  expect(existsSync(TOOL), 'Electronegativity is not installed: npm ci --prefix tools/electronegativity').toBe(true);
  const out = join(dir.path, `${name}.csv`);
  const r = spawnSync(
    TOOL,
    ['-i', input, '-e', ELECTRON, '-x', 'AvailableSecurityFixesGlobalCheck', '-o', out, '-r', '-v', 'false'],
    { encoding: 'utf8', timeout: 120_000 },
  );
  expect(r.status, r.stderr).toBe(0);
  const lines = readFileSync(out, 'utf8').split('\n');
  expect(lines[0]).toMatch(/^issue, severity, confidence, filename, location/);
  return lines.flatMap((l) => {
    const m = FINDING_LINE.exec(l);
    return m ? [{ ruleId: m[1]!, severity: m[2]!, file: m[3] === 'N/A' ? '' : m[3]! }] : [];
  });
}

/** The rows of docs/security.md's findings table: check and the files it covers. */
function justified(): Array<{ ruleId: string; files: string[] }> {
  const doc = readFileSync(join(ROOT, 'docs', 'security.md'), 'utf8');
  const table = doc.slice(doc.indexOf('## Findings and why they stay'));
  return table
    .split('\n')
    .filter((l) => /^\| `[A-Z_]+` \|/.test(l))
    .map((l) => {
      const cells = l.split('|').map((c) => c.trim());
      return { ruleId: cells[1]!.replace(/`/g, ''), files: [...cells[2]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!) };
    });
}

describe('Electron hardening (Electronegativity over the sources and the build)', () => {
  it('finds what it should: a window without isolation or sandbox is reported', () => {
    const bad = join(dir.path, 'bad');
    mkdirSync(bad);
    writeFileSync(
      join(bad, 'main.js'),
      "const { BrowserWindow } = require('electron');\nnew BrowserWindow({ webPreferences: { nodeIntegration: true, contextIsolation: false, sandbox: false } });\n",
    );
    const found = scan(bad, 'bad');
    const rules = found.map((f) => f.ruleId);
    expect(rules).toContain('CONTEXT_ISOLATION_JS_CHECK');
    expect(rules).toContain('SANDBOX_JS_CHECK');
    expect(rules).toContain('LIMIT_NAVIGATION_GLOBAL_CHECK');
    // High findings are there on a deliberately bad window (and none on ours: the next test).
    expect(
      found
        .filter((f) => f.severity === 'HIGH')
        .map((f) => f.ruleId)
        .sort(),
    ).toEqual(expect.arrayContaining(['CONTEXT_ISOLATION_JS_CHECK', 'LIMIT_NAVIGATION_GLOBAL_CHECK']));
  });

  it('reports nothing on the sources or the build that docs/security.md does not explain', () => {
    const rows = justified();
    expect(rows.length).toBeGreaterThan(0);
    const findings = [...scan(join(ROOT, 'electron'), 'sources'), ...scan(join(ROOT, 'out'), 'build')];
    expect(findings.length).toBeGreaterThan(0); // the preload is always worth a review
    expect(
      findings.filter((f) => f.severity === 'HIGH'),
      'a high finding on our own config',
    ).toEqual([]);
    const unexplained = findings.filter((f) => !rows.some((r) => r.ruleId === f.ruleId && r.files.includes(f.file)));
    expect(unexplained, 'add a reason to docs/security.md, or fix the finding').toEqual([]);
    // The hardening itself: no Node in the renderer, isolation and the sandbox on.
    for (const rule of [
      'NODE_INTEGRATION_JS_CHECK',
      'CONTEXT_ISOLATION_JS_CHECK',
      'SANDBOX_JS_CHECK',
      'AUXCLICK_JS_CHECK',
      'OPEN_EXTERNAL_JS_CHECK',
      'LIMIT_NAVIGATION_GLOBAL_CHECK',
      'PERMISSION_REQUEST_HANDLER_GLOBAL_CHECK',
    ]) {
      expect(findings.map((f) => f.ruleId)).not.toContain(rule);
    }
  });
});
