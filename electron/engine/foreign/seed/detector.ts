import { mapError } from '../../errors';
import type { ListedFile, Medium } from '../../storage/medium';
import type { ForeignArtifact, ForeignContext, ForeignDetector, ForeignFinding, ForeignSet } from '../types';
import { detectKdf, ENC_HEAD_BYTES, kdfText } from './enc';
import { seedManifestHashes, type SeedManifestHashes } from './manifest';
import { isSeedName, parseSeedName, SEED_MANIFEST, type SeedName } from './names';
import { laptopTimeZone, localToUtc } from './time';

/** Where a passphrase for an `.enc` file comes from, in the words of a finding. */
export const ENC_PASSPHRASE_NEEDS =
  'its passphrase (lifeboat credentials add openssl --from-file F, or --passphrase-file F)';

interface SeedManifest {
  path: string;
  dir: string;
  size: number;
  /** The digits of the stamp in its name (manifest_20261202_030000.json: 20261202030000). */
  digits: string;
  hashes: SeedManifestHashes | null;
}

const dirOf = (p: string): string => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const digitsOf = (s: string): string => s.replace(/\D/g, '');
const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** The file's first bytes (an `.enc` header and first blocks), never the whole file. */
async function readHead(medium: Medium, path: string, n: number): Promise<Buffer> {
  const stream = await medium.openRead(path);
  const parts: Buffer[] = [];
  let have = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      parts.push(chunk);
      have += chunk.length;
      if (have >= n) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts).subarray(0, n);
}

/** A manifest in the file's folder or a folder above it (a `--type all` run writes one at the top). */
function manifestsFor(path: string, manifests: SeedManifest[]): SeedManifest[] {
  const dir = dirOf(path);
  return manifests
    .filter((m) => m.dir === dir || m.dir === '' || dir.startsWith(`${m.dir}/`))
    .sort((a, b) => b.dir.length - a.dir.length);
}

function zoneNote(zone: string): string {
  return zone === laptopTimeZone() ? `${zone} (the laptop's)` : `${zone} (set for this medium)`;
}

/**
 * The set id: the name's own local stamp (so a rescan in another zone moves the set's time, not its
 * identity), the kind, and the format when it is not the usual one.
 */
function setIdOf(n: SeedName): string {
  const s = n.stamp;
  const local = `${s.year}${pad(s.month)}${pad(s.day)}T${pad(s.hour)}${pad(s.minute)}${pad(s.second)}`;
  const usual = (n.ext === 'sql.gz' || n.ext === 'sql' || n.ext === 'tar.gz') && !n.encrypted;
  return `${local}-${n.kind}-seed${usual ? '' : `-${n.ext.replace(/\./g, '-')}${n.encrypted ? '-enc' : ''}`}`;
}

const FORMAT: Record<string, string> = {
  'sql.gz': 'plain SQL dump, gzip',
  'sql.zst': 'plain SQL dump, zstd',
  sql: 'plain SQL dump',
  dump: 'pg_dump custom-format dump (-Fc)',
  'tar.gz': 'gzip tarball',
  tgz: 'gzip tarball',
};

/**
 * The seed scripts' folders at any depth of the listing: database dumps, tarballs of files and
 * configuration, pg_dumpall globals, their `.enc` forms and `manifest_*.json` beside them. Times are
 * the names' local times read in ctx.timeZone. Whatever looks like a backup but cannot be read or
 * placed becomes a finding (blocking when only a passphrase is missing).
 */
export const seedDetector: ForeignDetector = {
  name: 'seed-script',
  async find(
    medium: Medium,
    files: ListedFile[],
    ctx: ForeignContext,
  ): Promise<{ sets: ForeignSet[]; findings: ForeignFinding[] }> {
    const sets: ForeignSet[] = [];
    const findings: ForeignFinding[] = [];
    const manifests: SeedManifest[] = [];
    for (const f of files) {
      const m = SEED_MANIFEST.exec(f.path.split('/').pop()!);
      if (!m) continue;
      let hashes: SeedManifestHashes | null = null;
      try {
        hashes = seedManifestHashes(await medium.readFile(f.path));
      } catch (e) {
        ctx.log('warn', `seed manifest ${f.path} not read: ${mapError(e).message}`);
      }
      manifests.push({ path: f.path, dir: dirOf(f.path), size: f.size, digits: digitsOf(m[1]!), hashes });
    }
    const taken = new Map<string, string>();
    for (const f of files) {
      if (ctx.signal.aborted) break;
      const n = parseSeedName(f.path);
      if (!n) continue;
      if (!isSeedName(n)) {
        findings.push({ path: f.path, what: n.what, needs: n.needs, blocking: false });
        continue;
      }
      const createdAt = localToUtc(n.stamp, ctx.timeZone).toISOString();
      const setId = setIdOf(n);
      const key = `${n.system}/${setId}`;
      const twin = taken.get(key);
      if (twin) {
        findings.push({
          path: f.path,
          what: `${f.path}: a second file for ${key} (the first is ${twin}); only the first is cataloged`,
          needs: 'one copy of each backup per medium',
          blocking: false,
        });
        continue;
      }
      taken.set(key, f.path);
      const artifact: ForeignArtifact = { path: f.path, role: n.encrypted ? `${n.role}+enc` : n.role, bytes: f.size };
      const artifacts: ForeignArtifact[] = [artifact];
      const s = n.stamp;
      const facts: Record<string, unknown> = {
        file: f.path,
        format: `${FORMAT[n.ext] ?? n.ext}${n.encrypted ? ', encrypted with openssl enc (AES-256-CBC)' : ''}`,
        time_from_name: n.stampText,
        local_time: `${s.year}-${pad(s.month)}-${pad(s.day)} ${n.precision === 'day' ? '(date only)' : `${pad(s.hour)}:${pad(s.minute)}${n.precision === 'second' ? `:${pad(s.second)}` : ''}`}`,
        time_zone: zoneNote(ctx.timeZone),
        time_zone_name: ctx.timeZone,
        ...(n.database ? { database: n.database } : {}),
      };
      // Integrity data: a manifest beside it (or above it) that records this file's hash; else one of the same time.
      const near = manifestsFor(f.path, manifests);
      const rel = (m: SeedManifest): string => (m.dir ? f.path.slice(m.dir.length + 1) : f.path);
      const name = f.path.split('/').pop()!;
      const hashed = near.find((m) => m.hashes?.byName.has(rel(m)) || m.hashes?.byName.has(name));
      const same = near.find((m) => m.digits === digitsOf(n.stampText));
      const manifest = hashed ?? same;
      if (hashed) {
        artifact.sha256 = hashed.hashes!.byName.get(rel(hashed)) ?? hashed.hashes!.byName.get(name)!;
        // The trust rule's evidence (foreign/trust.ts evidenceOf): the format's own integrity data.
        facts.integrity = 'seed-manifest';
        facts.integrity_source = `SHA-256 recorded in ${hashed.path}`;
      } else facts.integrity_source = 'none recorded by the script: the hash is recorded on first verification';
      if (manifest) artifacts.push({ path: manifest.path, role: 'seed-manifest', bytes: manifest.size });
      if (n.encrypted) facts.key_derivation = await encFacts(medium, f.path, n, ctx, findings);
      sets.push({
        system: n.system,
        setId,
        kind: n.kind,
        origin: 'seed-script',
        createdAt,
        finishedAt: null,
        parentId: null,
        setPath: f.path,
        artifacts,
        facts,
      });
    }
    return { sets, findings };
  },
};

/** An `.enc` file: its header read, its key derivation found with the passphrase given, or a finding saying what is missing. */
async function encFacts(
  medium: Medium,
  path: string,
  n: SeedName,
  ctx: ForeignContext,
  findings: ForeignFinding[],
): Promise<string> {
  let head: Buffer;
  try {
    head = await readHead(medium, path, ENC_HEAD_BYTES);
  } catch (e) {
    findings.push({
      path,
      what: `encrypted backup ${path} could not be read`,
      needs: mapError(e).message,
      blocking: false,
    });
    return 'unknown (the file could not be read)';
  }
  if (head.subarray(0, 8).toString('latin1') !== 'Salted__') {
    findings.push({
      path,
      what: `${path} is named .enc but is not in OpenSSL enc format (no "Salted__" header)`,
      needs: 'to be identified by hand',
      blocking: false,
    });
    return 'unknown (not OpenSSL enc format)';
  }
  const passphrase = await ctx.secrets.get('openssl-enc', path);
  if (!passphrase) {
    findings.push({ path, what: `encrypted backup ${path}`, needs: ENC_PASSPHRASE_NEEDS, blocking: true });
    return 'unknown until its passphrase is given';
  }
  const kdf = detectKdf(head, passphrase, n.inner);
  if (!kdf) {
    findings.push({
      path,
      what: `encrypted backup ${path}: the passphrase given does not open it`,
      needs: `its right passphrase${ENC_PASSPHRASE_NEEDS.slice('its passphrase'.length)}`,
      blocking: true,
    });
    return 'unknown: the passphrase given does not open it';
  }
  return kdfText(kdf);
}
