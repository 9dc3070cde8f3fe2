import { createReadStream } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { entryPathBytes, entryTargetBytes, parseIndex, type FileEntry } from '../../format/file-index';
import { LifeboatError } from '../../errors';
import { pgConnectError, withPgClient } from '../../postgres/connection';
import { globToRegExp } from '../../catalog/queries';
import { meetsExpectation, sqlValueText } from '../../verify/expect';
import { ownerTarget } from '../../postgres/restore-role';
import { resolvePgTarget } from './pg-target';
import { readVerifiedArtifact } from '../../restore/gate';
import { openTrustedCopy } from '../../restore/set-access';
import { defineAction, type ActionDeps } from './types';

const Check = z.object({ sql: z.string().min(1), expect: z.string().min(1) }).strict();

/**
 * check.sql: queries with expectations (`> 0`, `= 42`, text) against a target; `validations:
 * <system>` adds the system's validation queries from settings. Fails when any check fails.
 */
export const checkSql = defineAction({
  params: z
    .object({
      target: z.string().optional(),
      database: z.string().optional(),
      credential: z.string().optional(),
      checks: z.array(Check).default([]),
      validations: z.string().optional(),
    })
    .strict(),
  describe: (p) =>
    `run ${p.checks.length} check(s)${p.validations ? ` and the validations of ${p.validations}` : ''} against ${p.database ?? 'the target'}`,
  async run(p, ctx) {
    const checks = [
      ...p.checks,
      ...(p.validations ? (ctx.deps.settings.systems[p.validations]?.validations ?? []) : []),
    ];
    if (checks.length === 0)
      checks.push({
        sql: "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
        expect: '> 0',
      });
    const resolved = await resolvePgTarget(ctx, p.target, p.credential, p.database);
    // In a drill, a restored database is queried as its (non-superuser) owner: a planted view runs no code as a superuser.
    const target = ctx.drill && p.database ? await ownerTarget(resolved) : resolved;
    const results: Array<{ sql: string; expect: string; got: string | null; ok: boolean; error?: string }> = [];
    await withPgClient(target, async (client) => {
      for (const c of checks) {
        ctx.signal.throwIfAborted();
        try {
          const r = await client.query({ text: c.sql, rowMode: 'array' });
          const got = sqlValueText((r.rows[0] as unknown[] | undefined)?.[0]);
          results.push({ ...c, got, ok: meetsExpectation(got, c.expect) });
        } catch (e) {
          results.push({ ...c, got: null, ok: false, error: e instanceof Error ? e.message : String(e) });
        }
      }
    });
    const failed = results.filter((r) => !r.ok);
    for (const r of results)
      ctx.log(
        r.ok ? 'info' : 'warn',
        `${r.ok ? 'ok  ' : 'FAIL'} ${r.sql} → ${r.got ?? r.error ?? 'no value'} (expected ${r.expect})`,
      );
    if (failed.length) {
      throw new LifeboatError(
        'PRECONDITION_FAILED',
        `${failed.length} of ${results.length} checks failed on ${target.database}: ${failed.map((f) => `${f.sql} gave ${f.got ?? f.error ?? 'nothing'}, expected ${f.expect}`).join('; ')}`,
      );
    }
    return { database: target.database, host: target.host, port: target.port, checks: results };
  },
});

/** wait.pg-ready: poll until the target accepts connections and answers a query. */
export const waitPgReady = defineAction({
  params: z
    .object({
      target: z.string().optional(),
      database: z.string().optional(),
      credential: z.string().optional(),
      timeout: z.number().int().min(1).max(3600).default(60),
    })
    .strict(),
  describe: (p) => `wait up to ${p.timeout}s for PostgreSQL to accept connections`,
  async run(p, ctx) {
    const target = await resolvePgTarget(ctx, p.target, p.credential, p.database);
    const started = Date.now();
    let last: unknown = null;
    while (Date.now() - started < p.timeout * 1000) {
      ctx.signal.throwIfAborted();
      try {
        const version = await withPgClient(
          target,
          async (c) => (await c.query<{ v: string }>('SHOW server_version AS v')).rows[0]?.v ?? null,
        );
        return {
          host: target.host,
          port: target.port,
          database: target.database,
          server_version: version,
          waited_ms: Date.now() - started,
        };
      } catch (e) {
        last = e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    throw last instanceof LifeboatError ? last : pgConnectError(last, target);
  },
});

async function sha256File(path: string | Buffer): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 256 * 1024 }), h);
  return h.digest('hex');
}

/** The file index of a files/config set (decoded from a reachable copy). */
export async function loadSetIndex(
  ctx: { deps: Pick<ActionDeps, 'catalog' | 'identities' | 'openMedium'> },
  set: string,
  allowUnsigned = false,
): Promise<{ key: string; index: FileEntry[] }> {
  const copy = await openTrustedCopy(ctx.deps.catalog, set, { allowUnsigned, open: ctx.deps.openMedium });
  const artifact = copy.manifest.artifacts.find((a) => a.role === 'file-index');
  if (!artifact)
    throw new LifeboatError('FORMAT_INVALID', `${copy.key} has no file index: it is not a files or config set.`);
  const plain = await readVerifiedArtifact(copy, artifact, { identities: ctx.deps.identities, trust: copy.trust });
  return { key: copy.key, index: parseIndex(plain) };
}

/**
 * check.files: compare a restored folder with a set's file index (every file's size and hash,
 * links' targets), optionally only paths matching globs; and/or expect a file count.
 */
export const checkFiles = defineAction({
  params: z
    .object({
      dir: z.string().min(1),
      set: z.string().optional(),
      paths: z.array(z.string()).default([]),
      count: z.number().int().nonnegative().optional(),
      /** Read the index of a set not signed by a pinned key (the run's journaled override). */
      allow_unsigned: z.boolean().default(false),
    })
    .strict(),
  describe: (p) => `check the files in ${p.dir}${p.set ? ` against ${p.set}` : ''}`,
  async run(p, ctx) {
    const globs = p.paths.map(globToRegExp);
    const wanted = (path: string): boolean => globs.length === 0 || globs.some((g) => g.test(path));
    const mismatches: Array<{ path: string; problem: string }> = [];
    let files = 0;
    let bytes = 0;
    if (p.set) {
      const { key, index } = await loadSetIndex(ctx, p.set, p.allow_unsigned);
      const entries = index.filter((e) => wanted(e.path));
      ctx.progress({
        itemsTotal: entries.length,
        itemsDone: 0,
        bytesTotal: entries.reduce((n, e) => n + e.size, 0),
        bytesDone: 0,
      });
      let done = 0;
      for (const e of entries) {
        ctx.signal.throwIfAborted();
        // Names are bytes (index format 2): the path on disk is the raw name, not its display form.
        const abs = Buffer.concat([Buffer.from(`${p.dir}/`), entryPathBytes(e)]);
        try {
          const st = await lstat(abs);
          if (e.type === 'file') {
            files++;
            if (!st.isFile()) mismatches.push({ path: e.path, problem: 'not a regular file' });
            else if (st.size !== e.size)
              mismatches.push({ path: e.path, problem: `size ${st.size}, expected ${e.size}` });
            else if (e.sha256 && (await sha256File(abs)) !== e.sha256)
              mismatches.push({ path: e.path, problem: 'content differs (SHA-256)' });
            bytes += st.size;
          } else if (e.type === 'symlink') {
            const target = entryTargetBytes(e);
            if (!st.isSymbolicLink() || !target || !(await readlink(abs, { encoding: 'buffer' })).equals(target))
              mismatches.push({ path: e.path, problem: `not a link to ${e.target}` });
          } else if (e.type === 'hardlink') {
            if (!st.isFile()) mismatches.push({ path: e.path, problem: `not a hard link to ${e.target}` });
          } else if (e.type === 'fifo') {
            if (!st.isFIFO()) mismatches.push({ path: e.path, problem: 'not a FIFO' });
          } else if (e.type === 'char' || e.type === 'block') {
            if (!(e.type === 'char' ? st.isCharacterDevice() : st.isBlockDevice()))
              mismatches.push({ path: e.path, problem: `not a ${e.type} device` });
          } else if (!st.isDirectory()) mismatches.push({ path: e.path, problem: 'not a directory' });
        } catch {
          // A device node is made only by a restore running as root (restore.files reports the others).
          if ((e.type === 'char' || e.type === 'block') && process.getuid?.() !== 0) continue;
          mismatches.push({ path: e.path, problem: 'missing' });
        }
        ctx.progress({ itemsDone: ++done, bytesDone: bytes, current: e.path });
      }
      if (p.count !== undefined && files !== p.count)
        mismatches.push({ path: '(all)', problem: `${files} files, expected ${p.count}` });
      if (mismatches.length) {
        throw new LifeboatError(
          'CHECKSUM_MISMATCH',
          `${mismatches.length} of ${entries.length} entries in ${p.dir} differ from ${key}: ${mismatches
            .slice(0, 5)
            .map((m) => `${m.path} (${m.problem})`)
            .join(', ')}${mismatches.length > 5 ? '…' : ''}`,
        );
      }
      return {
        dir: p.dir,
        set: key,
        entries: entries.length,
        files,
        bytes,
        hashed: entries.filter((e) => e.type === 'file' && e.sha256).length,
      };
    }
    if (p.count === undefined)
      throw new LifeboatError('BAD_INPUT', 'check.files needs a set to compare with, or a count.');
    const { readdir } = await import('node:fs/promises');
    const list = (await readdir(p.dir, { recursive: true, withFileTypes: true })).filter((d) => d.isFile());
    files = list.filter((d) => wanted(join(d.parentPath, d.name).slice(p.dir.length + 1))).length;
    if (files !== p.count)
      throw new LifeboatError('PRECONDITION_FAILED', `${p.dir} holds ${files} files, expected ${p.count}.`);
    return { dir: p.dir, files };
  },
});
