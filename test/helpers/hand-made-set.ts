import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSigningKey, signManifest } from '../../electron/engine/crypto/signing';
import { manifestBytes, sha256Hex, sha256sums, type Manifest } from '../../electron/engine/format/manifest';

/** An artifact of a hand-made set: its stored bytes (zstd) and what its plaintext must be. */
export interface HandMadeArtifact {
  path: string;
  role: string;
  stored: Buffer;
  plainBytes: number;
  plainSha256: string;
}

/** A set written by hand into a folder medium and signed by `signKey`: its manifest says what the test wants. */
export function handMadeSet(
  medium: string,
  signKey: string,
  set: { system: string; setId: string; kind: Manifest['kind']; source?: Record<string, unknown> },
  artifacts: HandMadeArtifact[],
): void {
  const folder = join(medium, 'sets', set.system, set.setId);
  mkdirSync(folder, { recursive: true });
  const now = new Date().toISOString();
  const m: Manifest = {
    format: 'lifeboat-set/1',
    set_id: set.setId,
    system: set.system,
    kind: set.kind,
    tier: null,
    created_at: now,
    started_at: now,
    finished_at: now,
    parent: null,
    lifeboat_version: '0.1.0',
    host: 'test',
    source: set.source ?? {},
    warnings: [],
    artifacts: artifacts.map((a) => ({
      path: a.path,
      role: a.role,
      bytes: a.stored.length,
      sha256: sha256Hex(a.stored),
      encodings: ['zstd'],
      plain_bytes: a.plainBytes,
      plain_sha256: a.plainSha256,
      recipients: [],
    })),
  };
  for (const a of artifacts) writeFileSync(join(folder, a.path), a.stored);
  const bytes = manifestBytes(m);
  writeFileSync(join(folder, 'manifest.json'), bytes);
  writeFileSync(join(folder, 'manifest.json.sig'), signManifest(bytes, loadSigningKey(readFileSync(signKey))));
  writeFileSync(join(folder, 'SHA256SUMS'), sha256sums(m));
}
