import { mapError } from '../../errors';
import type { ListedFile, Medium } from '../../storage/medium';
import { needsSecret } from '../secrets';
import { systemNameFrom } from '../names';
import type { ForeignContext, ForeignDetector, ForeignFinding, ForeignSet } from '../types';
import { findRestic, resticScope, runRestic } from './cli';

/**
 * restic repositories (issue 19 item 4): a folder holding `config` and `keys/<64 hex>` (restic's
 * layout: also data/, index/, snapshots/). Cataloged through the restic CLI when it is installed and
 * the repository's password is given; each snapshot is a `files` set. Without the CLI, the password,
 * or with a password that does not open it: a blocking finding (the scan exits 2).
 *
 * The system of a snapshot: a tag `system=<name>` (or `lifeboat-system=<name>`) when it has one,
 * else its hostname, as a system name (lower case, [a-z0-9._-]).
 */

interface ResticSnapshot {
  id: string;
  short_id?: string;
  time: string;
  hostname?: string;
  username?: string;
  paths?: string[];
  tags?: string[] | null;
  tree?: string;
  parent?: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

export function systemOfSnapshot(s: Pick<ResticSnapshot, 'hostname' | 'tags'>): string {
  const tag = (s.tags ?? []).map((t) => /^(?:lifeboat-)?system=(.+)$/.exec(t)?.[1]).find(Boolean);
  const raw = tag ?? s.hostname ?? 'restic';
  return systemNameFrom(raw, 'restic');
}

/** `20261202T075802Z`: the snapshot's time in UTC, to the second. */
function stamp(iso: string): string {
  return new Date(iso)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

/** Repository roots in a listing: folders with `config` and at least one key file under `keys/`. */
export function resticRoots(files: ListedFile[]): string[] {
  const configs = new Set(
    files
      .filter((f) => f.path === 'config' || f.path.endsWith('/config'))
      .map((f) => f.path.slice(0, -'config'.length).replace(/\/$/, '')),
  );
  const roots = new Set<string>();
  for (const f of files) {
    const m = /^(?:(.*)\/)?keys\/([^/]+)$/.exec(f.path);
    if (m && HEX64.test(m[2]!) && configs.has(m[1] ?? '')) roots.add(m[1] ?? '');
  }
  return [...roots].sort();
}

export const resticDetector: ForeignDetector = {
  name: 'restic',
  async find(medium: Medium, files: ListedFile[], ctx: ForeignContext) {
    const sets: ForeignSet[] = [];
    const findings: ForeignFinding[] = [];
    const roots = resticRoots(files);
    if (roots.length === 0) return { sets, findings };
    const restic = findRestic();
    for (const root of roots) {
      const shown = root || '.';
      const repoAbs = medium.localPath(root || '.');
      const snapshotFiles = new Map(
        files
          .filter((f) => f.path.startsWith(root ? `${root}/snapshots/` : 'snapshots/'))
          .map((f) => [f.path.split('/').pop()!, f]),
      );
      const what = `restic repository at ${shown} (${snapshotFiles.size} snapshot file${snapshotFiles.size === 1 ? '' : 's'})`;
      if (!repoAbs) {
        findings.push({
          path: shown,
          what,
          needs: 'a local copy of it (Lifeboat reads restic repositories on folders, through the restic CLI)',
          blocking: true,
        });
        continue;
      }
      if (!restic) {
        findings.push({
          path: shown,
          what,
          needs: 'the restic CLI (apt install restic), and its password',
          blocking: true,
        });
        continue;
      }
      const scope = resticScope(repoAbs);
      let password: string | null;
      try {
        password = await ctx.secrets.get('restic-password', scope);
      } catch (e) {
        findings.push({
          path: shown,
          what,
          needs: `its password (the keychain failed: ${mapError(e).message})`,
          blocking: true,
        });
        continue;
      }
      if (!password) {
        findings.push({ path: shown, what, needs: needsSecret('restic-password', scope), blocking: true });
        continue;
      }
      let snapshots: ResticSnapshot[];
      try {
        const out = await runRestic({ restic, repo: repoAbs, password, signal: ctx.signal }, ['snapshots', '--json']);
        snapshots = JSON.parse(out) as ResticSnapshot[];
        if (!Array.isArray(snapshots)) throw new Error('restic snapshots --json did not give a list');
      } catch (e) {
        const err = mapError(e);
        if (err.code === 'CANCELLED') throw err;
        findings.push({
          path: shown,
          what,
          needs:
            err.code === 'KEY_INVALID' ? `the right password (${err.message})` : `restic to read it (${err.message})`,
          blocking: true,
        });
        continue;
      }
      ctx.log('info', `restic repository ${shown}: ${snapshots.length} snapshot(s)`);
      for (const s of snapshots) {
        if (!HEX64.test(s.id) || Number.isNaN(Date.parse(s.time))) continue;
        const file = snapshotFiles.get(s.id);
        const short = s.short_id ?? s.id.slice(0, 8);
        sets.push({
          system: systemOfSnapshot(s),
          setId: `${stamp(s.time)}-files-restic-${short}`,
          kind: 'files',
          origin: 'restic',
          createdAt: new Date(s.time).toISOString(),
          finishedAt: null,
          parentId: null,
          setPath: root,
          // The snapshot's own file: present on the medium, its size known; the content is restic's (verified by restic check).
          artifacts: file ? [{ path: file.path, role: 'restic-snapshot', bytes: file.size }] : [],
          facts: {
            integrity: 'restic-content',
            repository: shown,
            snapshot: s.id,
            short_id: short,
            hostname: s.hostname ?? null,
            username: s.username ?? null,
            paths: s.paths ?? [],
            tags: s.tags ?? [],
            tree: s.tree ?? null,
            parent_snapshot: s.parent ?? null,
            system_from: (s.tags ?? []).some((t) => /^(?:lifeboat-)?system=/.test(t)) ? 'tag' : 'hostname',
          },
        });
      }
    }
    return { sets, findings };
  },
};
