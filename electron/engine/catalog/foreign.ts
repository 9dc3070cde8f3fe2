export type { ForeignArtifact, ForeignSet } from '../foreign/types';
import type { ForeignArtifact, ForeignSet } from '../foreign/types';

// ---- seed-script folders ------------------------------------------------------------------

const SEED = [
  { re: /^postgres_(.+)_(\d{8})_(\d{6})\.sql(\.gz)?$/, kind: 'pg-logical' as const, role: (m: RegExpExecArray) => (m[4] ? 'sql-dump-gz' : 'sql-dump'), system: (m: RegExpExecArray) => m[1]!, date: 2 },
  { re: /^files_backup_(\d{8})_(\d{6})\.tar\.gz$/, kind: 'files' as const, role: () => 'files-tar-gz', system: () => 'files', date: 1 },
  { re: /^config_backup_(\d{8})_(\d{6})\.tar\.gz$/, kind: 'config' as const, role: () => 'config-tar-gz', system: () => 'config', date: 1 },
];
const SEED_MANIFEST = /^manifest_(\d{8})_(\d{6})\.json$/;

function seedTime(d: string, t: string): string {
  return `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4, 6)}.000Z`;
}

export function systemNameFrom(raw: string): string {
  const s = raw.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 63);
  return s || 'unnamed';
}

/**
 * Recognise the seed scripts' files among a folder's files (paths relative to the medium).
 * Times come from the names (the scripts write local time; Lifeboat records it as UTC and says
 * so in the facts); sizes from the files.
 */
export function seedSets(files: Array<{ path: string; size: number }>): ForeignSet[] {
  const sets: ForeignSet[] = [];
  const manifests = new Map<string, { path: string; size: number }>();
  for (const f of files) {
    const name = f.path.split('/').pop()!;
    const m = SEED_MANIFEST.exec(name);
    if (m) manifests.set(`${m[1]}_${m[2]}`, f);
  }
  for (const f of files) {
    const name = f.path.split('/').pop()!;
    for (const rule of SEED) {
      const m = rule.re.exec(name);
      if (!m) continue;
      const d = m[rule.date]!;
      const t = m[rule.date + 1]!;
      const createdAt = seedTime(d, t);
      const system = systemNameFrom(rule.system(m));
      const artifacts: ForeignArtifact[] = [{ path: f.path, role: rule.role(m), bytes: f.size }];
      const manifest = manifests.get(`${d}_${t}`);
      if (manifest) artifacts.push({ path: manifest.path, role: 'seed-manifest', bytes: manifest.size });
      sets.push({
        system,
        setId: `${d}T${t}Z-${rule.kind}-seed`,
        kind: rule.kind,
        origin: 'seed-script',
        createdAt,
        finishedAt: null,
        parentId: null,
        setPath: f.path,
        artifacts,
        facts: { file: f.path, time_from_name: `${d}_${t}`, time_zone: 'unknown (read as UTC)', ...(rule.kind === 'pg-logical' ? { database: rule.system(m) } : {}) },
      });
    }
  }
  return sets;
}

// ---- pgBackRest: moved to foreign/pgbackrest/ (re-exported for the callers of this module) ----------------------------

export { parseIni, walRanges, type WalRange } from '../foreign/pgbackrest';
