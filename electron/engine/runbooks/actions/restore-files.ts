import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import type { FileEntry } from '../../backup/file-index';
import { chainKeys } from '../../catalog/queries';
import { LifeboatError } from '../../errors';
import { applyMetadata, extractTar, mergeMove } from '../../restore/extract';
import { openVerifiedArtifact, untilVerified } from '../../restore/gate';
import { refuseOverwrites, selectEntries } from '../../restore/select';
import { loadSetIndex } from './checks';
import { openTrustedCopy } from './set-access';
import { ConfirmationNeeded, defineAction } from './types';

const STAGING = (runId: string): string => `.lifeboat-restore-${runId}`;

/**
 * restore.files: a files or config set into a folder. The set's file index names, for every
 * entry, the set whose tar holds its content, so an incremental chain is rebuilt by reading each
 * set of the chain once. Everything is extracted into a staging folder inside the target first
 * (entries escaping it are refused, every file's hash is checked against the index), then moved
 * into place; an empty or absent target is the default, a non-empty one needs a typed
 * confirmation of its path.
 */
export const restoreFiles = defineAction({
  params: z
    .object({
      set: z.string().min(1),
      into: z.string().optional(),
      /** Globs of paths (a match brings its subtree); none: the whole set. */
      paths: z.array(z.string().min(1)).default([]),
      /** Into a non-empty folder: refuse (before moving anything) when an entry already exists there. */
      keep_existing: z.boolean().default(false),
      /** Restore a set not signed by a pinned key (journaled with the step's parameters). */
      allow_unsigned: z.boolean().default(false),
    })
    .strict(),
  describe: (p) => `restore the files of ${p.set} into ${p.into ?? 'a scratch folder'}${p.allow_unsigned ? ' — UNSIGNED OR UNTRUSTED SET ALLOWED by the operator' : ''}`,
  condition: (p, checkpoint, drill) =>
    drill
      ? 'the scratch folder is removed when the run ends'
      : (checkpoint as { phase?: string } | null)?.phase === 'moving'
        ? `files were being moved into ${p.into}: some are in place, the rest wait in its ${'.lifeboat-restore-*'} folder; resume to finish`
        : `${p.into} is as it was: the restore was staged in a hidden .lifeboat-restore-* folder inside it, removed when the step runs again`,
  async run(p, ctx) {
    let into: string;
    if (ctx.drill) into = ctx.scratchDir(`files-${ctx.stepId}`);
    else {
      if (!p.into) throw new LifeboatError('BAD_INPUT', 'restore.files needs a folder to restore into (into:).');
      if (!isAbsolute(p.into)) throw new LifeboatError('BAD_INPUT', `The restore folder must be an absolute path: ${p.into}`);
      into = resolve(p.into);
    }
    const staging = join(into, STAGING(ctx.runId));
    const checkpoint = ctx.checkpoint as { phase?: string } | null;
    const { key, index: whole } = await loadSetIndex(ctx, p.set, p.allow_unsigned);
    const index = selectEntries(whole, p.paths);
    if (checkpoint?.phase !== 'moving') {
      const existing = existsSync(into) ? readdirSync(into).filter((n) => n !== STAGING(ctx.runId)) : [];
      if (existing.length > 0 && ctx.confirmation !== into) {
        throw new ConfirmationNeeded(`${into} is not empty (${existing.length} entries): restoring over it replaces files and folders of the same names.`, into, ctx.confirmation !== null);
      }
      await rm(staging, { recursive: true, force: true });
      await mkdir(staging, { recursive: true, mode: 0o700 });
      const bySet = new Map<string, Map<string, FileEntry>>();
      const dirs = new Set(index.filter((e) => e.type === 'dir').map((e) => e.path));
      for (const e of index) {
        if (e.type === 'dir') continue;
        let m = bySet.get(e.in);
        if (!m) bySet.set(e.in, (m = new Map<string, FileEntry>()));
        m.set(e.path, e);
      }
      try {
        const system = key.split('/')[0]!;
        const chain = chainKeys(ctx.deps.catalog, key);
        const total = index.reduce((n, e) => n + (e.type === 'file' ? e.size : 0), 0);
        ctx.progress({ bytesTotal: total, bytesDone: 0, itemsTotal: index.filter((e) => e.type === 'file').length, itemsDone: 0 });
        let bytesDone = 0;
        let filesDone = 0;
        for (const [setId, wanted] of bySet) {
          const copy = await openTrustedCopy(ctx.deps.catalog, chain.get(setId) ?? `${system}/${setId}`, { allowUnsigned: p.allow_unsigned, open: ctx.deps.openMedium });
          const tar = copy.manifest.artifacts.find((a) => a.role === 'files-tar');
          if (!tar) throw new LifeboatError('FORMAT_INVALID', `${copy.key} has no files tar.`);
          ctx.log('info', `reading ${copy.key} (${wanted.size} entries from it)`);
          const found = new Set<string>();
          // Through the gate: a tar that does not match the signed manifest fails the whole restore in staging.
          const gated = await openVerifiedArtifact(copy, tar, { identities: ctx.deps.identities, trust: copy.trust, signal: ctx.signal });
          await untilVerified(gated, extractTar(gated.stream, [], staging, {
            accept: (e) => {
              const want = wanted.get(e.name);
              // Only the folders of the (possibly --path-selected) index: others are read past.
              if (e.kind === 'dir') return dirs.has(e.name.replace(/\/+$/, ''));
              return (want !== undefined && (want.type === 'symlink' ? e.kind === 'symlink' : e.kind === 'file'));
            },
            onFile: (f) => {
              const want = wanted.get(f.path)!;
              if (want.sha256 && want.sha256 !== f.sha256) throw new LifeboatError('CHECKSUM_MISMATCH', `${f.path} from ${copy.key} does not match the file index (SHA-256 differs).`);
              found.add(f.path);
              ctx.progress({ itemsDone: ++filesDone, current: f.path });
            },
            onBytes: (n) => ctx.progress({ bytesDone: (bytesDone += n) }),
            signal: ctx.signal,
          }));
          const missing = [...wanted.values()].filter((e) => e.type === 'file' && !found.has(e.path));
          if (missing.length) throw new LifeboatError('FORMAT_INVALID', `${copy.key} lacks ${missing.length} file(s) its index promises, e.g. ${missing[0]!.path}.`);
        }
        for (const e of index) if (e.type === 'dir') await mkdir(join(staging, e.path), { recursive: true });
        await applyMetadata(staging, index.flatMap((e) => (e.type === 'file' || e.type === 'dir' || e.type === 'symlink' ? [{ path: e.path, type: e.type, mode: e.mode, mtimeMs: e.mtime_ms }] : [])));
        if (p.keep_existing) await refuseOverwrites(staging, into);
      } catch (e) {
        // Nothing was put in place: the staged part goes, the target stays as it was.
        await rm(staging, { recursive: true, force: true });
        throw e;
      }
      ctx.saveCheckpoint({ phase: 'moving' });
    }
    ctx.log('info', `moving the restored tree into ${into}`);
    await mergeMove(staging, into);
    await rm(staging, { recursive: true, force: true });
    // Moving entries into folders touched their mtimes: put the recorded ones back.
    await applyMetadata(into, index.flatMap((e) => (e.type === 'dir' ? [{ path: e.path, type: e.type, mode: e.mode, mtimeMs: e.mtime_ms }] : [])));
    const files = index.filter((e) => e.type === 'file');
    return {
      set: key,
      dir: into,
      entries: index.length,
      files: files.length,
      bytes: files.reduce((n, e) => n + e.size, 0),
      chain: [...new Set(index.map((e) => e.in))],
      hashes_checked: files.filter((e) => e.sha256).length,
    };
  },
});
