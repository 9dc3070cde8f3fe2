import { renameSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LifeboatError } from '../errors';
import type { Artifact } from '../format/manifest';
import { restoreFailureText } from '../postgres/restore-role';
import { spawnTool, type RunningTool } from '../process/child';
import type { RestoreContext } from './context';
import { MemberCheck, type DumpMember } from './dump-members';
import { checkBlobsToc, tocDataFiles } from './dump-toc';
import { extractTar } from './extract';
import { openVerifiedArtifact, untilVerified } from './gate';
import type { TrustedSetCopy } from './set-access';

/**
 * A directory-format dump restored while it decodes (issue 22): the tar streams through the gate
 * into a private folder, each member hashed as it is written; a member whose size and SHA-256 match
 * its signed record (`source.dump_members`, dump-members.ts) is renamed into the folder pg_restore
 * reads, and only then may pg_restore read it. Once toc.dat passed, the pre-data section runs; each
 * TABLE DATA / BLOBS entry is restored (pg_restore -L, one entry) as soon as its files passed, up
 * to `jobs` at a time; the post-data section (-j jobs) waits for the gate's verdict on the whole
 * artifact (stored and decoded sizes and hashes). Any failure stops every pg_restore and the
 * extraction at once; the caller drops the database it created. Only for a database this restore
 * creates: an existing one is never written before the whole artifact passed.
 */
export interface OverlapPlan {
  ctx: RestoreContext;
  copy: TrustedSetCopy;
  artifact: Artifact;
  members: DumpMember[];
  pgRestore: string;
  jobs: number;
  /**
   * Called once toc.dat passed, with the dump's table of contents (`pg_restore --list`), before
   * anything is restored: checks it and makes the target ready. Returns how pg_restore connects.
   */
  prepare(toc: string): Promise<{ args: string[]; env: NodeJS.ProcessEnv }>;
}

export interface OverlapOutcome {
  /** Entries of the table of contents. */
  items: number;
  /** Data entries restored while the dump was still decoding or after. */
  dataEntries: number;
  /** Milliseconds from the first byte read to toc.dat in place, and to the gate's verdict. */
  tocMs: number;
  verifiedMs: number;
}

/** Failures that are facts about the set (its bytes, its members, a toc.dat pg_restore cannot read), not about the restore. */
const setFailures = new WeakSet<object>();
export const fromTheSet = (e: unknown): boolean => typeof e === 'object' && e !== null && setFailures.has(e);

/** A promise settled from outside. */
class Deferred {
  resolve!: () => void;
  reject!: (e: unknown) => void;
  readonly promise = new Promise<void>((res, rej) => {
    this.resolve = res;
    this.reject = rej;
  });
  constructor() {
    this.promise.catch(() => undefined);
  }
}

/** The members as they pass: `ready(path)` resolves once that member is in place, rejects with the extraction's failure. */
class MemberGate {
  private readonly waits = new Map<string, Deferred>();
  private failure: unknown = null;
  private readonly listed: Set<string>;

  constructor(members: DumpMember[]) {
    this.listed = new Set(members.map((m) => m.path));
  }

  private slot(path: string): Deferred {
    let d = this.waits.get(path);
    if (!d) {
      d = new Deferred();
      if (this.failure !== null) d.reject(this.failure);
      this.waits.set(path, d);
    }
    return d;
  }

  has(path: string): boolean {
    return this.listed.has(path);
  }

  ready(path: string): Promise<void> {
    if (!this.listed.has(path))
      return Promise.reject(
        new LifeboatError(
          'CHECKSUM_MISMATCH',
          `The dump needs ${path}, which its signed manifest does not list: corrupted.`,
        ),
      );
    return this.slot(path).promise;
  }

  placed(path: string): void {
    this.slot(path).resolve();
  }

  failed(e: unknown): void {
    this.failure ??= e;
    for (const d of this.waits.values()) d.reject(this.failure);
  }
}

/** A data-section entry of `pg_restore --list --section=data`, and the members it reads. */
interface DataEntry {
  line: string;
  dumpId: string;
  kind: 'table' | 'blobs' | 'other';
}

export function dataEntries(list: string): DataEntry[] {
  const out: DataEntry[] = [];
  for (const line of list.split('\n')) {
    const m = /^(\d+); \d+ \d+ (.*)$/.exec(line);
    if (!m) continue;
    const desc = m[2]!;
    out.push({
      line,
      dumpId: m[1]!,
      kind: desc.startsWith('TABLE DATA ') ? 'table' : desc.startsWith('BLOBS ') ? 'blobs' : 'other',
    });
  }
  return out;
}

/** At most `n` at a time. */
class Slots {
  private free: number;
  private readonly queue: Array<() => void> = [];
  constructor(n: number) {
    this.free = Math.max(1, n);
  }
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.queue.push(r));
    try {
      return await job();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.free++;
    }
  }
}

export async function overlapRestore(plan: OverlapPlan): Promise<OverlapOutcome> {
  const { ctx, copy, artifact, members, pgRestore, jobs } = plan;
  const startedAt = Date.now();
  const stop = new AbortController();
  const onCancel = (): void => stop.abort();
  ctx.signal.addEventListener('abort', onCancel, { once: true });
  if (ctx.signal.aborted) stop.abort();
  const check = new MemberCheck(members, `${copy.key}/${artifact.path}`);
  const work = join(ctx.workDir, `${ctx.stepId}.overlap`);
  const staging = join(work, 'in');
  const dumpDir = join(work, 'ok', check.folder);
  const gate = new MemberGate(members);
  const running = new Set<Promise<unknown>>();
  let failure: unknown = null;
  const fail = (e: unknown): void => {
    failure ??= e;
    gate.failed(e);
    stop.abort();
  };
  let extracted: Promise<void> = Promise.resolve();

  /** One pg_restore (or its --list); its exit joins `running`, so nothing outlives this function. */
  const tool = (args: string[], env: NodeJS.ProcessEnv | undefined, what: string): RunningTool => {
    if (stop.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
    const t = spawnTool(pgRestore, args, { env, signal: stop.signal, what, code: 'DB_RESTORE_FAILED' });
    const settled = t.exited.catch(() => undefined);
    running.add(settled);
    void settled.then(() => running.delete(settled));
    return t;
  };
  const listToc = async (extra: string[]): Promise<string> => {
    const t = tool(['--list', ...extra, dumpDir], undefined, 'pg_restore --list');
    let out = '';
    let err = '';
    t.child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    t.child.stderr.on('data', (d: Buffer) => (err = (err + d.toString('utf8')).slice(-4000)));
    await t.exited.catch((e: unknown) => {
      throw stopped(e, `pg_restore --list failed: ${restoreFailureText(err)}`);
    });
    return out;
  };
  /** The error a pg_restore that ended badly stands for: the first failure elsewhere if it was stopped for it. */
  const stopped = (e: unknown, text: string): unknown => {
    if (failure !== null) return failure;
    return e instanceof LifeboatError && e.code === 'DB_RESTORE_FAILED'
      ? new LifeboatError('DB_RESTORE_FAILED', text)
      : e;
  };

  try {
    await rm(work, { recursive: true, force: true });
    await mkdir(staging, { recursive: true, mode: 0o700 });
    await mkdir(dumpDir, { recursive: true, mode: 0o700 });
    ctx.log(
      'info',
      `decoding ${copy.key}/${artifact.path} from ${copy.medium.location}; pg_restore reads each file once it passed`,
    );
    ctx.progress({ bytesTotal: artifact.plain_bytes, bytesDone: 0, current: artifact.path });
    const v = await openVerifiedArtifact(copy, artifact, {
      identities: ctx.deps.identities,
      trust: copy.trust,
      signal: stop.signal,
      onPlainBytes: (n) => ctx.progress({ bytesDone: n }),
    });
    const writing = new Map<string, DumpMember>();
    const norm = (name: string): string => name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    extracted = untilVerified(
      v,
      extractTar(v.stream, [], staging, {
        signal: stop.signal,
        accept: (e) => {
          const m = check.admit(e);
          if (m) writing.set(norm(e.name), m);
          return true;
        },
        onFile: (f) => {
          const m = writing.get(norm(f.path));
          if (!m) throw new LifeboatError('INTERNAL', `${f.path} was written without being admitted.`);
          check.matched(m, f.size, f.sha256);
          // Only bytes that matched their signed hash reach the folder pg_restore reads.
          renameSync(join(staging, m.path), join(work, 'ok', m.path));
          gate.placed(m.path);
        },
      }),
    ).then(() => check.complete());
    extracted.catch((e: unknown) => {
      if (typeof e === 'object' && e !== null) setFailures.add(e);
      fail(e);
    });
    let verifiedMs = 0;
    void extracted.then(
      () => (verifiedMs = Date.now() - startedAt),
      () => undefined,
    );

    await gate.ready(`${check.folder}/toc.dat`);
    const tocMs = Date.now() - startedAt;
    // The names toc.dat gives pg_restore to open: only those pg_dump writes (dump-toc.ts).
    try {
      tocDataFiles(await readFile(join(dumpDir, 'toc.dat')), `${copy.key}/${artifact.path}`);
    } catch (e) {
      if (failure === null && typeof e === 'object' && e !== null) setFailures.add(e);
      throw e;
    }
    const toc = await listToc([]).catch((e: unknown) => {
      if (failure === null && typeof e === 'object' && e !== null) setFailures.add(e);
      throw e;
    });
    const data = dataEntries(await listToc(['--section=data']));
    const lists = toc.split('\n').filter((l) => /^\d+;/.test(l)).length;
    const conn = await plan.prepare(toc);
    ctx.progress({ itemsTotal: lists, itemsDone: 0 });
    let done = 0;
    const restore = async (extra: string[], what: string): Promise<void> => {
      const t = tool([...conn.args, ...extra, '-Fd', dumpDir], conn.env, 'pg_restore');
      t.child.stdout.resume();
      let err = '';
      t.child.stderr.on('data', (d: Buffer) => (err = (err + d.toString('utf8')).slice(-16_000)));
      await t.exited.catch((e: unknown) => {
        throw stopped(e, `pg_restore (${what}) failed: ${restoreFailureText(err)}`);
      });
    };
    const entryList = async (entries: DataEntry[]): Promise<string> => {
      const file = join(work, `list-${entries[0]!.dumpId}`);
      await writeFile(file, entries.map((e) => `${e.line}\n`).join(''), { mode: 0o600 });
      return file;
    };

    await restore(['--section=pre-data'], 'pre-data');
    const slots = new Slots(jobs);
    const needs = (e: DataEntry): Promise<void> => {
      const member = (name: string): string => `${check.folder}/${name}`;
      if (e.kind === 'table') return gate.ready(member(`${e.dumpId}.dat`));
      if (e.kind === 'blobs') {
        const blobsToc = gate.has(member(`blobs_${e.dumpId}.toc`))
          ? member(`blobs_${e.dumpId}.toc`)
          : member('blobs.toc');
        return gate.ready(blobsToc).then(async () => {
          const text = await readFile(join(work, 'ok', blobsToc), 'utf8');
          checkBlobsToc(text, `${copy.key}/${artifact.path}`);
          const lines = text.split('\n');
          const files = lines.map((l) => /^\d+ (\S+)$/.exec(l)?.[1]).filter((f): f is string => !!f);
          await Promise.all(files.map((f) => gate.ready(member(f))));
        });
      }
      return Promise.resolve();
    };
    const others = data.filter((e) => e.kind === 'other');
    const withFiles = data.filter((e) => e.kind !== 'other');
    const runs = [
      ...(others.length
        ? [
            slots.run(async () => {
              await restore(['-L', await entryList(others)], 'sequence values');
              ctx.progress({ itemsDone: (done += others.length) });
            }),
          ]
        : []),
      ...withFiles.map((e) =>
        needs(e).then(() =>
          slots.run(async () => {
            await restore(['-L', await entryList([e])], e.line.replace(/^\d+; \d+ \d+ /, ''));
            ctx.progress({ itemsDone: ++done });
          }),
        ),
      ),
    ];
    for (const r of runs) r.catch(fail);
    await Promise.all(runs);
    // The post-data section (indexes, constraints, triggers) once the whole artifact passed the gate.
    await extracted;
    ctx.log('info', `every file of the dump passed; post-data with ${jobs} jobs`);
    await restore(['--section=post-data', '-j', String(jobs)], 'post-data');
    return { items: lists, dataEntries: data.length, tocMs, verifiedMs };
  } catch (e) {
    fail(e);
    throw ctx.signal.aborted ? new LifeboatError('CANCELLED', 'Cancelled.') : failure;
  } finally {
    ctx.signal.removeEventListener('abort', onCancel);
    // Nothing left running: every pg_restore exited, the extraction (and its decoder threads) settled.
    await Promise.all([...running]);
    await extracted.catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}
