import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LifeboatError } from '../errors';
import databaseCorruption from './builtin/database-corruption.yaml?raw';
import drSiteActivation from './builtin/dr-site-activation.yaml?raw';
import monthlyDrill from './builtin/monthly-drill.yaml?raw';
import mysqlDrill from './builtin/mysql-drill.yaml?raw';
import pitrRestore from './builtin/pitr-restore.yaml?raw';
import ransomware from './builtin/ransomware.yaml?raw';
import redisCacheLost from './builtin/redis-cache-lost.yaml?raw';
import restoreDatabase from './builtin/restore-database.yaml?raw';
import restoreFiles from './builtin/restore-files.yaml?raw';
import restoreStream from './builtin/restore-stream.yaml?raw';
import restoreMysql from './builtin/restore-mysql.yaml?raw';
import serverFailure from './builtin/server-failure.yaml?raw';
import { parseRunbook, RunbookInvalidError, type ParsedRunbook } from './format';

export const BUILTIN_RUNBOOKS: Record<string, string> = {
  'database-corruption': databaseCorruption,
  'server-failure': serverFailure,
  ransomware,
  'dr-site-activation': drSiteActivation,
  'monthly-drill': monthlyDrill,
  'mysql-drill': mysqlDrill,
  'redis-cache-lost': redisCacheLost,
  // Short runbooks the app starts from a set, a found file or the PITR planner (every restore keeps its record).
  'restore-database': restoreDatabase,
  'restore-files': restoreFiles,
  'restore-stream': restoreStream,
  'pitr-restore': pitrRestore,
  'restore-mysql': restoreMysql,
};

export interface LibraryEntry {
  id: string;
  title: string;
  level: number;
  source: string;
  builtin: boolean;
  drill: 'allowed' | 'only';
  rtoSeconds: number;
  rpoSeconds: number;
  steps: number;
  /** Set when an operator's file does not validate: it is listed, with why, and cannot run. */
  problem: string | null;
  description: string;
  inputs: Array<{ id: string; type: string; label: string; required: boolean; default?: string; help?: string }>;
}

/** The operator's own runbooks live here (one YAML file each). */
export function runbookDir(dataDir: string): string {
  return join(dataDir, 'runbooks');
}

/** Built-ins plus the operator's folder; an operator's runbook with a built-in's id replaces it. */
export function listRunbooks(dataDir: string): LibraryEntry[] {
  const out = new Map<string, LibraryEntry>();
  const add = (text: string, source: string, builtin: boolean): void => {
    try {
      const { runbook: r } = parseRunbook(text, source);
      out.set(r.id, {
        id: r.id,
        title: r.title,
        level: r.level,
        source,
        builtin,
        drill: r.drill,
        rtoSeconds: r.objectives.rto,
        rpoSeconds: r.objectives.rpo,
        steps: r.steps.length,
        problem: null,
        description: r.description,
        inputs: r.inputs,
      });
    } catch (e) {
      const id = source.replace(/^.*\//, '').replace(/\.ya?ml$/, '');
      out.set(`invalid:${source}`, {
        id,
        title: id,
        level: 0,
        source,
        builtin,
        drill: 'allowed',
        rtoSeconds: 0,
        rpoSeconds: 0,
        steps: 0,
        problem: e instanceof Error ? e.message : String(e),
        description: '',
        inputs: [],
      });
    }
  };
  for (const [id, text] of Object.entries(BUILTIN_RUNBOOKS)) add(text, `builtin:${id}`, true);
  const dir = runbookDir(dataDir);
  if (existsSync(dir))
    for (const name of readdirSync(dir).sort())
      if (/\.ya?ml$/.test(name)) add(readFileSync(join(dir, name), 'utf8'), join(dir, name), false);
  return [...out.values()];
}

/** A runbook by id (operator's folder first, then built-ins) or by file path. */
export function loadRunbook(dataDir: string, idOrFile: string): ParsedRunbook & { source: string } {
  const asFile = resolve(idOrFile);
  if (/\.ya?ml$/.test(idOrFile) || (existsSync(asFile) && statSync(asFile).isFile())) {
    if (!existsSync(asFile)) throw new LifeboatError('NOT_FOUND', `No runbook file ${asFile}.`);
    return { ...parseRunbook(readFileSync(asFile, 'utf8'), asFile), source: asFile };
  }
  for (const entry of listRunbooks(dataDir)) {
    if (entry.id !== idOrFile) continue;
    if (entry.problem) throw new RunbookInvalidError(entry.problem, []);
    const text = entry.builtin ? BUILTIN_RUNBOOKS[entry.id]! : readFileSync(entry.source, 'utf8');
    return { ...parseRunbook(text, entry.source), source: entry.source };
  }
  throw new LifeboatError('NOT_FOUND', `No runbook ${idOrFile}.`, {
    hint: 'List them with lifeboat runbooks, or give a .yaml file.',
  });
}
