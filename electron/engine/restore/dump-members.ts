import { LifeboatError } from '../errors';
import type { Manifest } from '../format/manifest';
import { isSafeRelativePath } from '../format/names';
import { unsafeEntryReason, type TarEntry } from '../format/tar-reader';

/**
 * One file of a directory-format dump as the backup archived it (`source.dump_members` of a
 * pg-logical set, DESIGN.md media format): its path in the tar (`<folder>/<file>`), size, and the
 * SHA-256 of its bytes. Signed with the manifest, so each file can be trusted on its own, before
 * the whole artifact has been read.
 */
export interface DumpMember {
  path: string;
  bytes: number;
  sha256: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The members recorded in a manifest, checked: null for a set without them (made before they were
 * recorded, or a custom-format dump). A list that is there but not as the format says is refused
 * (FORMAT_INVALID): a restore never guesses what a signed field meant.
 */
export function dumpMembersOf(m: Pick<Manifest, 'source'>): DumpMember[] | null {
  const raw = m.source.dump_members;
  if (raw === undefined) return null;
  const bad = (why: string): never => {
    throw new LifeboatError('FORMAT_INVALID', `manifest.json is invalid at source.dump_members: ${why}.`);
  };
  if (!Array.isArray(raw) || raw.length === 0) bad('expected a non-empty list');
  const members: DumpMember[] = [];
  const seen = new Set<string>();
  let folder: string | null = null;
  for (const [i, v] of (raw as unknown[]).entries()) {
    const o = v as Record<string, unknown> | null;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) bad(`${i}: expected an object`);
    const keys = Object.keys(o!).sort().join(',');
    if (keys !== 'bytes,path,sha256') bad(`${i}: expected the fields bytes, path, sha256`);
    const { path, bytes, sha256 } = o as { path: unknown; bytes: unknown; sha256: unknown };
    if (typeof path !== 'string' || !isSafeRelativePath(path) || path.split('/').length !== 2)
      bad(`${i}.path: expected <folder>/<file>, a plain relative path`);
    if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) bad(`${i}.bytes: expected a count`);
    if (typeof sha256 !== 'string' || !HEX64.test(sha256)) bad(`${i}.sha256: expected a lowercase hex SHA-256`);
    const p = path as string;
    const top = p.split('/')[0]!;
    if (folder !== null && top !== folder) bad(`${i}.path: every member must be in the same folder (${folder})`);
    folder = top;
    if (seen.has(p)) bad(`${p} is listed twice`);
    seen.add(p);
    members.push({ path: p, bytes: bytes as number, sha256: sha256 as string });
  }
  if (!seen.has(`${folder}/toc.dat`)) bad('no toc.dat');
  return members;
}

/** The dump's folder in the tar: the first segment shared by every member. */
export const memberFolder = (members: DumpMember[]): string => members[0]!.path.split('/')[0]!;

/**
 * The tar of a directory dump read against its signed members: an entry that is not a listed
 * member (or comes twice), a link or a device, a name that would escape: refused; a member whose
 * bytes differ in size or SHA-256: corrupted; a listed member absent at the end: corrupted. Used
 * by the restore that overlaps decoding (pg-dir-overlap.ts) and by deep verification.
 */
export class MemberCheck {
  private readonly byPath: Map<string, DumpMember>;
  private readonly done = new Set<string>();
  readonly folder: string;

  constructor(
    members: DumpMember[],
    private readonly what: string,
  ) {
    this.byPath = new Map(members.map((m) => [m.path, m]));
    this.folder = memberFolder(members);
  }

  /** The member an entry is (null: the dump's folder itself); throws when the entry is refused. */
  admit(e: TarEntry): DumpMember | null {
    const unsafe = unsafeEntryReason(e);
    if (unsafe) throw new LifeboatError('UNSAFE_PATH', `${this.what} holds an entry that would escape: ${unsafe}.`);
    const name = e.name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    if (e.kind === 'dir' && name === this.folder) return null;
    if (e.kind !== 'file')
      throw new LifeboatError(
        'UNSAFE_PATH',
        `${this.what} holds ${e.kind === 'symlink' || e.kind === 'hardlink' ? 'a link' : `a ${e.kind}`} named ${name}: a dump holds only files, refused.`,
      );
    const m = this.byPath.get(name);
    if (!m)
      throw new LifeboatError(
        'CHECKSUM_MISMATCH',
        `${this.what} holds ${name}, which its signed manifest does not list: corrupted.`,
      );
    if (this.done.has(name))
      throw new LifeboatError('CHECKSUM_MISMATCH', `${this.what} holds ${name} twice: corrupted.`);
    this.done.add(name);
    return m;
  }

  /** A member's bytes were read whole: they must be what the manifest signed. */
  matched(m: DumpMember, bytes: number, sha256: string): void {
    if (bytes !== m.bytes)
      throw new LifeboatError(
        'CHECKSUM_MISMATCH',
        `${this.what}: ${m.path} has ${bytes} bytes, its signed manifest records ${m.bytes}: corrupted.`,
      );
    if (sha256 !== m.sha256)
      throw new LifeboatError(
        'CHECKSUM_MISMATCH',
        `${this.what}: ${m.path} has SHA-256 ${sha256.slice(0, 16)}… instead of ${m.sha256.slice(0, 16)}… recorded in its signed manifest: corrupted.`,
      );
  }

  /** The end of the tar: every listed member must have been there. */
  complete(): void {
    const missing = [...this.byPath.keys()].filter((p) => !this.done.has(p));
    if (missing.length > 0)
      throw new LifeboatError(
        'CHECKSUM_MISMATCH',
        `${this.what} lacks ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''}, listed in its signed manifest: corrupted.`,
      );
  }
}
