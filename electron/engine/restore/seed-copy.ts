import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Catalog } from '../catalog/catalog';
import { preferredCopies, whereIs } from '../catalog/queries';
import { LifeboatError } from '../errors';
import { seedDecipher } from '../foreign/seed/enc';
import type { InnerFormat } from '../foreign/seed/names';
import type { ForeignSecrets } from '../foreign/types';
import { BoundedZstdDecompress } from '../pipeline/zstd-decode';
import type { Medium } from '../storage/medium';
import { openMedium, type MediumOpener } from '../storage/open-medium';
import { CheckTap } from './gate';

/** A reachable copy of a seed script's file, with the hash its bytes must have before anything is put in place. */
export interface SeedCopy {
  key: string;
  kind: string;
  medium: Medium;
  path: string;
  role: string;
  bytes: number;
  /** The hash to match and where it comes from; null when none is known (never verified, no seed manifest). */
  expected: { sha256: string; source: string } | null;
}

/** Null when the catalog's set is not a seed script's (the caller goes the Lifeboat way). */
export async function openSeedCopy(catalog: Catalog, keyOrId: string, open: MediumOpener = openMedium): Promise<SeedCopy | null> {
  const found = whereIs(catalog, keyOrId);
  if (!found) return null;
  const set = catalog.stmt('SELECT origin, kind FROM sets WHERE key = ?').get(found.key) as { origin: string; kind: string } | undefined;
  if (set?.origin !== 'seed-script') return null;
  const tried: string[] = [];
  for (const row of preferredCopies(found.rows)) {
    let medium: Medium;
    try {
      medium = await open(row.location);
    } catch {
      tried.push(`${row.label ?? row.mediumId} (${row.location}): not reachable`);
      continue;
    }
    const a = catalog.stmt("SELECT role, bytes, sha256 FROM artifacts WHERE set_key = ? AND path = ? AND role != 'seed-manifest'").get(found.key, row.setPath) as
      | { role: string; bytes: number; sha256: string | null }
      | undefined;
    const st = await medium.stat(row.setPath).catch(() => null);
    if (!a || !st) {
      tried.push(`${row.label ?? row.mediumId} (${row.location}): ${row.setPath} is gone`);
      continue;
    }
    if (st.symlink) throw new LifeboatError('UNSAFE_PATH', `${row.setPath} on ${row.location} is a symbolic link; Lifeboat never follows links on a medium.`);
    if (st.size !== a.bytes) {
      tried.push(`${row.label ?? row.mediumId} (${row.location}): ${st.size} bytes, the catalog recorded ${a.bytes} (changed since the scan)`);
      continue;
    }
    // The trust of a foreign file: the script's own manifest hash, else the hash recorded by its first verification here.
    const good = catalog
      .stmt("SELECT sha256, started_at AS at FROM verifications WHERE set_key = ? AND medium_id = ? AND artifact_path = ? AND verdict = 'ok' AND sha256 IS NOT NULL ORDER BY started_at LIMIT 1")
      .get(found.key, row.mediumId, row.setPath) as { sha256: string; at: string } | undefined;
    const expected = a.sha256 ? { sha256: a.sha256, source: "the seed script's manifest" } : good ? { sha256: good.sha256, source: `its first verification (${good.at})` } : null;
    return { key: found.key, kind: set.kind, medium, path: row.setPath, role: a.role, bytes: a.bytes, expected };
  }
  throw new LifeboatError('STORAGE_UNREACHABLE', `No usable copy of ${found.key} is reachable now.`, {
    hint: tried.length ? `Tried: ${tried.join('; ')}. Connect a medium holding it (or rescan it) and resume.` : 'No medium holds it any more.',
  });
}

/**
 * Refuses a copy with no hash to match unless the operator allowed it: a foreign file is trusted
 * on its first verification (or its script's manifest), never on its name alone.
 */
export function requireExpected(copy: SeedCopy, allowUnverified: boolean, log: (level: 'info' | 'warn', m: string) => void): void {
  if (copy.expected) return log('info', `${copy.path}: its bytes must match the SHA-256 from ${copy.expected.source}`);
  if (!allowUnverified) {
    throw new LifeboatError('PRECONDITION_FAILED', `${copy.key} (${copy.path}) has never been verified here and no seed manifest records its hash: there is nothing to check its bytes against.`, {
      hint: 'Verify it first (lifeboat verify <medium> --level deep), which records its hash, or allow unsigned sets for this restore.',
    });
  }
  log('warn', `${copy.path}: restored without a recorded hash, because the step allows unsigned sets`);
}

/** What the file's role says about its layers: encrypted or not, then the compression. */
export function seedLayers(role: string): { base: string; encrypted: boolean; inner: InnerFormat } {
  const encrypted = role.endsWith('+enc');
  const base = encrypted ? role.slice(0, -4) : role;
  const inner: InnerFormat = base === 'pg-dump' ? 'pgdmp' : base.endsWith('-gz') ? 'gzip' : base.endsWith('-zst') ? 'zstd' : 'sql';
  return { base, encrypted, inner };
}

/**
 * The file's plaintext: its stored bytes hashed (the stream fails at its end when they do not
 * match the expected hash, so the caller puts nothing in place), then decrypted and decompressed.
 */
export async function openSeedPlaintext(copy: SeedCopy, o: { secrets?: ForeignSecrets; onBytes?: (n: number) => void }): Promise<{ source: Readable; stages: Transform[] }> {
  const { encrypted, inner } = seedLayers(copy.role);
  const stages: Transform[] = [new CheckTap({ what: copy.path, limit: copy.bytes, expectBytes: copy.bytes, expectSha256: copy.expected?.sha256 ?? null, onBytes: o.onBytes })];
  if (encrypted) {
    const passphrase = o.secrets ? await o.secrets.get('openssl-enc', copy.path) : null;
    if (!passphrase) {
      throw new LifeboatError('CREDENTIAL_UNAVAILABLE', `${copy.path} is encrypted (openssl enc) and no passphrase was given for it.`, {
        hint: 'Give its passphrase (lifeboat credentials add openssl-enc …, or --passphrase-file).',
      });
    }
    stages.push(seedDecipher(passphrase, inner, copy.path));
  }
  if (inner === 'gzip') stages.push(createGunzip());
  else if (inner === 'zstd') stages.push(new BoundedZstdDecompress(4 * 1024 ** 4, copy.path));
  return { source: await copy.medium.openRead(copy.path), stages };
}

/**
 * A plain SQL dump's ownership and privilege statements left out, as pg_restore --no-owner
 * --no-privileges does for a custom-format dump: the restore role owns what it creates and may not
 * give objects to the dump's roles (which need not exist here). pg_dump writes each on one line;
 * COPY data is passed through untouched.
 */
export class OwnershipFilter extends Transform {
  dropped = 0;
  private partial = '';
  private inCopy = false;

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    const lines = (this.partial + chunk.toString('latin1')).split('\n');
    this.partial = lines.pop() ?? '';
    const out: string[] = [];
    for (const l of lines) if (this.keep(l)) out.push(l, '\n');
    if (out.length) this.push(Buffer.from(out.join(''), 'latin1'));
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.partial && this.keep(this.partial)) this.push(Buffer.from(this.partial, 'latin1'));
    cb();
  }

  private keep(l: string): boolean {
    if (this.inCopy) {
      if (l === '\\.' || l === '\\.\r') this.inCopy = false;
      return true;
    }
    if (/^COPY\s.*\sFROM\s+stdin/i.test(l)) this.inCopy = true;
    if (/^ALTER\s.*\sOWNER\s+TO\s.*;\s*$/.test(l) || /^(GRANT|REVOKE)\s.*;\s*$/.test(l)) {
      this.dropped++;
      return false;
    }
    return true;
  }
}
