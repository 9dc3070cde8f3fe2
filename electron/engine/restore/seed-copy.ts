import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Catalog } from '../catalog/catalog';
import { setArtifacts, setOrigin } from '../catalog/lookups';
import { whereIs } from '../catalog/queries';
import { openCopy } from './set-access';
import { LifeboatError } from '../errors';
import { seedDecipher } from '../foreign/seed/enc';
import type { InnerFormat } from '../foreign/seed/names';
import { foreignSecrets, type SecretFiles, type SecretLookup } from '../foreign/secrets';
import type { ForeignSecrets } from '../foreign/types';
import { BoundedZstdDecompress } from '../pipeline/zstd-decode';
import type { Medium } from '../storage/medium';
import type { MediumOpener } from '../storage/open-medium';
import { CheckTap } from './gate';

/** A reachable copy of a seed script's file, with the hash its bytes must have before anything is put in place. */
export interface SeedCopy {
  key: string;
  kind: string;
  medium: Medium;
  path: string;
  role: string;
  bytes: number;
  /** The hash to match and where it comes from; null when none is known (admitted by the override only). */
  expected: { sha256: string; source: string } | null;
  /** The trust rule's state, in words, for the restore's output. */
  trust: string;
}

/**
 * Null when the catalog's set is not a seed script's (the caller goes the Lifeboat way). Otherwise
 * the copy the one trust rule admits (runbooks/actions/set-access.ts openCopy, foreign/trust.ts:
 * verified successfully on that medium, or the operator's override), with the hash its bytes must
 * match: the seed manifest's, else the one its last good verification there recorded.
 */
export async function openSeedCopy(
  catalog: Catalog,
  keyOrId: string,
  o: { allowUnsigned?: boolean; open?: MediumOpener } = {},
): Promise<SeedCopy | null> {
  const found = whereIs(catalog, keyOrId);
  if (!found) return null;
  if (setOrigin(catalog, found.key) !== 'seed-script') return null;
  const copy = await openCopy(catalog, found.key, o);
  if (copy.origin === 'lifeboat') return null;
  const a = copy.artifacts.find((x) => x.path === copy.setPath);
  if (!a)
    throw new LifeboatError('CATALOG_CORRUPT', `The catalog has no artifact for ${copy.key} at ${copy.setPath}.`, {
      hint: 'Rescan the medium.',
    });
  const manifestSha = setArtifacts(catalog, copy.key).find((x) => x.path === copy.setPath)?.sha256;
  const expected = manifestSha
    ? { sha256: manifestSha, source: "the seed script's manifest" }
    : a.recordedSha256
      ? { sha256: a.recordedSha256, source: `its last good verification on ${copy.mediumLabel ?? copy.mediumId}` }
      : null;
  const trust =
    copy.decision.state === 'accepted-unsigned'
      ? `NOT TRUSTED, restored by explicit override: ${copy.decision.why}`
      : copy.trust.text;
  return {
    key: copy.key,
    kind: copy.kind,
    medium: copy.medium,
    path: copy.setPath,
    role: a.role,
    bytes: a.bytes,
    expected,
    trust,
  };
}

/** Says what the bytes are checked against (or that nothing is: the operator's override, journaled by the caller). */
export function logExpected(copy: SeedCopy, log: (level: 'info' | 'warn', m: string) => void): void {
  if (copy.expected) log('info', `${copy.path}: its bytes must match the SHA-256 from ${copy.expected.source}`);
  else
    log(
      'warn',
      `${copy.path}: no recorded hash to check its bytes against; restored because the step allows it (${copy.trust})`,
    );
}

/** What the file's role says about its layers: encrypted or not, then the compression. */
export function seedLayers(role: string): { base: string; encrypted: boolean; inner: InnerFormat } {
  const encrypted = role.endsWith('+enc');
  const base = encrypted ? role.slice(0, -4) : role;
  const inner: InnerFormat =
    base === 'pg-dump' ? 'pgdmp' : base.endsWith('-gz') ? 'gzip' : base.endsWith('-zst') ? 'zstd' : 'sql';
  return { base, encrypted, inner };
}

/**
 * The file's plaintext: its stored bytes hashed (the stream fails at its end when they do not
 * match the expected hash, so the caller puts nothing in place), then decrypted and decompressed.
 */
export async function openSeedPlaintext(
  copy: SeedCopy,
  o: { secrets?: ForeignSecrets; onBytes?: (n: number) => void },
): Promise<{ source: Readable; stages: Transform[] }> {
  const { encrypted, inner } = seedLayers(copy.role);
  const stages: Transform[] = [
    new CheckTap({
      what: copy.path,
      limit: copy.bytes,
      expectBytes: copy.bytes,
      expectSha256: copy.expected?.sha256 ?? null,
      onBytes: o.onBytes,
    }),
  ];
  if (encrypted) {
    const passphrase = o.secrets ? await o.secrets.get('openssl-enc', copy.path) : null;
    if (!passphrase) {
      throw new LifeboatError(
        'CREDENTIAL_UNAVAILABLE',
        `${copy.path} is encrypted (openssl enc) and no passphrase was given for it.`,
        {
          hint: 'Give its passphrase (lifeboat credentials add openssl --from-file F, or --passphrase-file F).',
        },
      );
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

/** A restore's passphrases for `.enc` files: those the caller gave (files on its command line), else the keychain. */
export function restoreSecrets(deps: {
  foreignSecrets?: ForeignSecrets;
  foreignFiles?: SecretFiles;
  credentials?: SecretLookup | null;
}): ForeignSecrets {
  return deps.foreignSecrets ?? foreignSecrets({ files: deps.foreignFiles, keychain: deps.credentials ?? null });
}
