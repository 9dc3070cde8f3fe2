import { mapError } from '../errors';
import { MEDIUM_FILE } from '../format/medium';
import type { ListedFile, Medium } from '../storage/medium';
import { otherToolsDetector, unknownEncrypted } from './others';
import type { ForeignContext, ForeignDetector, ForeignFinding, ForeignSet } from './types';

/**
 * Other tools' backups on a medium (issue 19): the medium is listed once, bounded in depth and in
 * entries, and every ForeignDetector reads that one listing (plus its own small reads). Lifeboat's
 * own `sets/` and `wal/` are not listed. Past a bound, a finding says where the listing stopped; what
 * a detector recognises but cannot read is a finding; encrypted files nobody claimed are findings.
 * So a scan never says a silent zero: with no set found, `seen` says what the folder holds.
 */

export const DISCOVER_BOUNDS = { maxDepth: 8, limit: 200_000 };

export interface Discovery {
  sets: ForeignSet[];
  findings: ForeignFinding[];
  /** A detector that failed on this medium (its error), the others went on. */
  unreadable: Array<{ path: string; reason: string }>;
  /** What the listing saw, for "0 sets" on a folder that is not empty. */
  seen: SeenSummary;
}

export interface SeenSummary {
  files: number;
  bytes: number;
  /** The most common name endings, most frequent first: [".log", 12]. */
  kinds: Array<[string, number]>;
  /** The largest files (path), largest first. */
  largest: string[];
}

const depthOf = (p: string): number => p.split('/').length - 1;

function seenOf(files: ListedFile[]): SeenSummary {
  const kinds = new Map<string, number>();
  for (const f of files) {
    const name = f.path.slice(f.path.lastIndexOf('/') + 1);
    const m = /(\.[A-Za-z0-9]{1,8}(\.(gz|zst|bz2|xz|lz4|aes|enc|gpg|age))?)$/.exec(name);
    const k = m ? m[1]!.toLowerCase() : '(no extension)';
    kinds.set(k, (kinds.get(k) ?? 0) + 1);
  }
  return {
    files: files.length,
    bytes: files.reduce((n, f) => n + f.size, 0),
    kinds: [...kinds.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 6),
    largest: [...files]
      .sort((a, b) => b.size - a.size)
      .slice(0, 3)
      .map((f) => f.path),
  };
}

/** The folder part of a listed path ('' at the top). */
function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/**
 * List the medium once and run every detector (the other tools' detector last, then the sniffing of
 * unclaimed encrypted files). A detector's failure is that detector's only: recorded as unreadable,
 * unless the medium went away or the job was cancelled.
 */
export async function discover(
  medium: Medium,
  detectors: ForeignDetector[],
  ctx: ForeignContext,
  bounds = DISCOVER_BOUNDS,
): Promise<Discovery> {
  // One level and one entry past the bounds, to know whether there was more.
  // Folders left unentered even one level past the bound are counted too: files further down are never silently cut.
  const unentered: string[] = [];
  const links: string[] = [];
  const listed = await medium.listFiles('', {
    maxDepth: bounds.maxDepth + 1,
    limit: bounds.limit + 1,
    skip: ['sets', 'wal'],
    onDeeper: (d) => unentered.push(d),
    // pgBackRest's own `backup/<stanza>/latest` link is part of its repository, nothing to report.
    onLink: (l) => (/(^|\/)backup\/[^/]+\/latest$/.test(l) ? undefined : links.push(l)),
  });
  const findings: ForeignFinding[] = [];
  // A medium is read without following links (never a file of this machine through one): said, not a silent zero.
  if (links.length)
    findings.push({
      path: links[0]!,
      what: `${links.length} symbolic link${links.length === 1 ? '' : 's'} not followed (${links.slice(0, 3).join(', ')}${links.length > 3 ? ` and ${links.length - 3} more` : ''})`,
      needs: 'the real files: scan the folder a link points at, or copy the files onto the medium',
      blocking: false,
    });
  const deeper = [...listed.filter((f) => depthOf(f.path) > bounds.maxDepth), ...unentered.map((path) => ({ path }))];
  let files = deeper.length ? listed.filter((f) => depthOf(f.path) <= bounds.maxDepth) : listed;
  if (deeper.length) {
    const where = [...new Set(deeper.map((f) => f.path.split('/').slice(0, bounds.maxDepth).join('/')))];
    findings.push({
      path: where[0]!,
      what: `stopped listing at depth ${bounds.maxDepth} (files ${bounds.maxDepth + 1} folders down were not looked at, under ${where.slice(0, 3).join(', ')}${where.length > 3 ? ` and ${where.length - 3} more` : ''})`,
      needs: 'a scan of a narrower folder (lifeboat scan <that folder>)',
      blocking: false,
    });
  }
  if (files.length > bounds.limit) {
    files = files.slice(0, bounds.limit);
    findings.push({
      path: files[files.length - 1]!.path,
      what: `stopped listing at ${bounds.limit} entries (depth ${bounds.maxDepth}): files listed after ${files[files.length - 1]!.path} were not looked at`,
      needs: 'a scan of a narrower folder (lifeboat scan <a folder below>)',
      blocking: false,
    });
  }
  // A Lifeboat medium inside the folder (a demo's media/usb-1, a drive's copy on a NAS) is scanned on its own: its
  // encrypted artifacts are not other tools' backups, and listing them as such buried the one useful finding.
  const nested = files
    .filter((f) => f.path.includes('/') && f.path.split('/').pop() === MEDIUM_FILE)
    .map((f) => dirOf(f.path));
  if (nested.length) {
    files = files.filter((f) => !nested.some((d) => f.path.startsWith(`${d}/`)));
    for (const d of nested)
      findings.push({
        path: d,
        what: `${d} is a Lifeboat medium inside this folder: its sets are not read from here`,
        needs: `a scan of that medium (lifeboat scan <this folder>/${d})`,
        blocking: false,
      });
  }
  const sets: ForeignSet[] = [];
  const unreadable: Array<{ path: string; reason: string }> = [];
  for (const d of [...detectors, otherToolsDetector]) {
    ctx.signal.throwIfAborted();
    try {
      const r = await d.find(medium, files, ctx);
      sets.push(...r.sets);
      findings.push(...r.findings);
    } catch (e) {
      const err = mapError(e);
      if (err.code === 'STORAGE_UNREACHABLE' || err.code === 'CANCELLED' || ctx.signal.aborted) throw err;
      ctx.log('warn', `the ${d.name} detector failed on ${medium.location}: ${err.message}`);
      unreadable.push({ path: '', reason: `${d.name}: ${err.message}` });
    }
  }
  // A file is claimed by a set (an artifact, or inside a set's folder) or by a finding's file or folder.
  const claimedFiles = new Set<string>();
  const claimedDirs: string[] = [];
  for (const s of sets) {
    for (const a of s.artifacts) claimedFiles.add(a.path);
    claimedDirs.push(s.setPath);
  }
  for (const f of findings) {
    claimedFiles.add(f.path);
    if (f.path && f.path !== '.') claimedDirs.push(f.path);
  }
  const claimed = (p: string): boolean => claimedFiles.has(p) || claimedDirs.some((d) => p.startsWith(`${d}/`));
  findings.push(...(await unknownEncrypted(medium, files, claimed)));
  return { sets, findings, unreadable, seen: seenOf(files) };
}

/** "0 sets" on a folder that is not empty, in words: what it saw. */
export function describeSeen(s: SeenSummary, formatBytes: (n: number) => string): string {
  if (s.files === 0) return 'the folder holds no files (outside sets/ and wal/)';
  const kinds = s.kinds.map(([k, n]) => `${n} ${k}`).join(', ');
  return `saw ${s.files} file${s.files === 1 ? '' : 's'} (${formatBytes(s.bytes)}): ${kinds}; largest ${s.largest.join(', ')} — none is a backup format Lifeboat knows`;
}
