import { mapError } from '../errors';
import type { ListedFile, Medium } from '../storage/medium';
import type { ForeignDetector, ForeignFinding } from './types';

/**
 * Other tools' backups Lifeboat does not read (issue 19 item 5, "never a silent zero"): a Borg
 * repository, a Kopia repository, a Duplicati backup folder. Each is one finding per folder, naming
 * the tool and what reading it needs; none is blocking (there is no key Lifeboat could be given:
 * the tool itself is needed). Unknown encrypted files are looked for by `unknownEncrypted`, after
 * every detector ran, among the files no detector claimed.
 */

const dirOf = (p: string): string => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const baseOf = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
const shown = (dir: string): string => dir || '.';

/** The first `n` bytes of a file (never the whole file). */
export async function readHead(medium: Medium, path: string, n: number): Promise<Buffer> {
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

export const otherToolsDetector: ForeignDetector = {
  name: 'other-tools',
  async find(medium, files) {
    const findings: ForeignFinding[] = [];
    const byDir = new Map<string, ListedFile[]>();
    for (const f of files) {
      const d = dirOf(f.path);
      const list = byDir.get(d);
      if (list) list.push(f);
      else byDir.set(d, [f]);
    }
    for (const [dir, list] of byDir) {
      const names = new Set(list.map((f) => baseOf(f.path)));
      const at = (name: string): string => (dir ? `${dir}/${name}` : name);
      // Borg: README says so; its config has a [repository] section (Borg 1.x keeps the key there or in ~/.config/borg).
      if (
        names.has('config') &&
        (names.has('README') || [...byDir.keys()].some((d) => d === at('data') || d.startsWith(`${at('data')}/`)))
      ) {
        let borg = false;
        try {
          const readme = names.has('README') ? (await readHead(medium, at('README'), 256)).toString('latin1') : '';
          const config = (await readHead(medium, at('config'), 4096)).toString('latin1');
          borg =
            /This is a Borg Backup repository/.test(readme) ||
            (/^\[repository\]/m.test(config) && /^id\s*=/m.test(config));
        } catch (e) {
          const err = mapError(e);
          if (err.code === 'STORAGE_UNREACHABLE' || err.code === 'CANCELLED') throw err;
        }
        if (borg) {
          findings.push({
            path: shown(dir),
            what: `Borg repository (BorgBackup) at ${shown(dir)}`,
            needs: `borg itself, which Lifeboat does not replace: borg list ${shown(dir)}, then borg extract (its passphrase or key file if it is encrypted)`,
            blocking: false,
          });
          continue;
        }
      }
      if (names.has('kopia.repository.f') || names.has('kopia.repository')) {
        findings.push({
          path: shown(dir),
          what: `Kopia repository at ${shown(dir)}`,
          needs: `kopia itself, which Lifeboat does not replace: kopia repository connect filesystem --path ${shown(dir)} (its password), then kopia snapshot list / kopia restore`,
          blocking: false,
        });
        continue;
      }
      const duplicati = list.filter((f) => /^duplicati-.+\.(dlist|dblock|dindex)\.zip(\.aes)?$/.test(baseOf(f.path)));
      if (duplicati.length > 0) {
        const encrypted = duplicati.some((f) => f.path.endsWith('.aes'));
        const lists = duplicati.filter((f) => /\.dlist\.zip(\.aes)?$/.test(f.path)).length;
        findings.push({
          path: shown(dir),
          what: `Duplicati backup at ${shown(dir)} (${duplicati.length} files, ${lists} backup version${lists === 1 ? '' : 's'}${encrypted ? ', AES-encrypted' : ''})`,
          needs: `Duplicati itself, which Lifeboat does not replace: Duplicati.CommandLine restore or Duplicati.CommandLine.RecoveryTool${encrypted ? ' (with its passphrase)' : ''}`,
          blocking: false,
        });
      }
    }
    return { sets: [], findings };
  },
};

/** Names worth opening to look for an encryption header (the others are not read: a scan stays a listing). */
const MAYBE_ENCRYPTED = /\.(enc|gpg|pgp|asc|age|aes|crypt|encrypted|cpt|gz\.enc)$/i;
const MAX_SNIFFED = 2000;

/** What an encryption header says, or null. */
export function encryptionOf(head: Buffer): string | null {
  if (head.subarray(0, 8).toString('latin1') === 'Salted__') return 'OpenSSL enc (Salted__)';
  if (head.subarray(0, 21).toString('latin1') === 'age-encryption.org/v1') return 'age';
  if (head.subarray(0, 34).toString('latin1').startsWith('-----BEGIN AGE ENCRYPTED FILE-----')) return 'age (armored)';
  if (head.subarray(0, 27).toString('latin1').startsWith('-----BEGIN PGP MESSAGE-----'))
    return 'OpenPGP (gpg, armored)';
  // An OpenPGP binary message starts with a public-key or symmetric-key encrypted session key packet (tags 1 and 3), old or new format.
  const b = head[0];
  if (b !== undefined && (b & 0x80) !== 0) {
    const tag = (b & 0x40) !== 0 ? b & 0x3f : (b >> 2) & 0x0f;
    if (tag === 1 || tag === 3) return 'OpenPGP (gpg)';
  }
  return null;
}

/** Encrypted files no detector claimed: one finding each (the first MAX_SNIFFED candidates), naming the encryption. */
export async function unknownEncrypted(
  medium: Medium,
  files: ListedFile[],
  claimed: (path: string) => boolean,
): Promise<ForeignFinding[]> {
  const findings: ForeignFinding[] = [];
  const candidates = files
    .filter((f) => f.size > 0 && MAYBE_ENCRYPTED.test(f.path) && !claimed(f.path))
    .slice(0, MAX_SNIFFED);
  for (const f of candidates) {
    let kind: string | null;
    try {
      kind = encryptionOf(await readHead(medium, f.path, 64));
    } catch (e) {
      const err = mapError(e);
      if (err.code === 'STORAGE_UNREACHABLE' || err.code === 'CANCELLED') throw err;
      continue;
    }
    if (!kind) continue;
    findings.push({
      path: f.path,
      what: `an encrypted file (${kind}) no known backup format claims`,
      needs: kind.startsWith('OpenSSL')
        ? "its passphrase and the command that made it (openssl enc -d -aes-256-cbc -pbkdf2 -in … by hand); named like a seed script's backup, Lifeboat reads it"
        : kind.startsWith('age')
          ? 'its age identity, by hand: age -d -i <identity> …'
          : 'its key, by hand: gpg --decrypt …',
      blocking: false,
    });
  }
  return findings;
}
