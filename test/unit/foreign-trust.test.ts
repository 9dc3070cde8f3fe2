import { describe, expect, it } from 'vitest';
import { admitRestore, evidenceOf, judgeTrust, type TrustInput, type Trust } from '../../electron/engine/foreign/trust';

const AT = '2026-12-02T03:10:00.000Z';
type Row = [string, TrustInput, Pick<Trust, 'state' | 'foreign' | 'failure' | 'restore'>, RegExp];

// One row per state: what authenticity says (failure), what a restore may do, and the words the operator reads.
const TABLE: Row[] = [
  [
    'lifeboat, pinned signer',
    { origin: 'lifeboat', signature: { state: 'valid', keyId: 'k1', label: 'ops' } },
    { state: 'signed', foreign: false, failure: null, restore: 'allowed' },
    /^signed by k1 \(ops, pinned\)$/,
  ],
  [
    'lifeboat, no signature',
    { origin: 'lifeboat', signature: { state: 'missing' } },
    { state: 'unsigned', foreign: false, failure: 'unsigned', restore: 'override' },
    /^unsigned/,
  ],
  [
    'lifeboat, signature facts absent',
    { origin: 'lifeboat' },
    { state: 'unsigned', foreign: false, failure: 'unsigned', restore: 'override' },
    /^unsigned/,
  ],
  [
    'lifeboat, unpinned signer',
    { origin: 'lifeboat', signature: { state: 'unpinned', keyId: 'k9' } },
    { state: 'untrusted-signer', foreign: false, failure: 'untrusted-signer', restore: 'override' },
    /k9, which is not pinned/,
  ],
  [
    'lifeboat, bad signature',
    { origin: 'lifeboat', signature: { state: 'invalid', keyId: 'k1', reason: 'does not match' } },
    { state: 'bad-signature', foreign: false, failure: 'bad-signature', restore: 'refused' },
    /^bad signature: does not match/,
  ],
  [
    'seed file, never verified',
    { origin: 'seed-script', firstVerified: null },
    { state: 'foreign-unverified', foreign: true, failure: null, restore: 'override' },
    /^foreign: not yet verified$/,
  ],
  [
    'seed file, verified once',
    { origin: 'seed-script', firstVerified: AT, timeZone: 'UTC' },
    { state: 'foreign-first-verification', foreign: true, failure: null, restore: 'allowed' },
    /^foreign: trusted on first verification 2026-12-02 03:10:00 UTC$/,
  ],
  [
    'seed with manifest, unverified',
    { origin: 'seed-script', evidence: 'seed-manifest' },
    { state: 'foreign-format', foreign: true, failure: null, restore: 'override' },
    /^foreign: integrity data of the format \(seed manifest hashes\); not yet verified$/,
  ],
  [
    'pgBackRest, verified',
    { origin: 'pgbackrest', evidence: 'pgbackrest-manifest', firstVerified: AT, timeZone: 'UTC' },
    { state: 'foreign-format', foreign: true, failure: null, restore: 'allowed' },
    /\(pgBackRest manifest checksums\); first verified 2026-12-02 03:10:00 UTC$/,
  ],
  [
    'restic, unverified',
    { origin: 'restic', evidence: 'restic-content' },
    { state: 'foreign-format', foreign: true, failure: null, restore: 'override' },
    /\(restic content hashes\); not yet verified$/,
  ],
  // A signature claim on a foreign set changes nothing: it is never called signed, never failed unsigned.
  [
    'foreign with signature facts',
    { origin: 'pgbackrest', signature: { state: 'valid', keyId: 'k1', label: 'ops' } },
    { state: 'foreign-unverified', foreign: true, failure: null, restore: 'override' },
    /^foreign: not yet verified$/,
  ],
];

describe('the trust rule (foreign/trust.ts)', () => {
  it.each(TABLE)(
    '%s',
    (_name, input, want, text) => {
      const t = judgeTrust(input);
      expect({ state: t.state, foreign: t.foreign, failure: t.failure, restore: t.restore }).toEqual(want);
      expect(t.text).toMatch(text);
      if (t.foreign) expect(t.text).not.toMatch(/signed/);
      expect(t.why === null).toBe(t.restore === 'allowed');
    },
    5000,
  );

  it('admits a restore as the state says, the override only where it may', () => {
    const ok = judgeTrust({ origin: 'lifeboat', signature: { state: 'valid', keyId: 'k1', label: 'ops' } });
    expect(admitRestore('s/1', ok)).toEqual({ overridden: false });
    const unverified = judgeTrust({ origin: 'seed-script' });
    expect(() => admitRestore('s/2', unverified)).toThrow(/never verified successfully here/);
    expect(admitRestore('s/2', unverified, true)).toEqual({ overridden: true });
    const bad = judgeTrust({ origin: 'lifeboat', signature: { state: 'invalid', keyId: null, reason: 'unreadable' } });
    expect(() => admitRestore('s/3', bad, true)).toThrow(/^Refused: s\/3: unreadable\. Nothing was read/);
  }, 5000);

  it('reads the evidence a detector declared in the facts', () => {
    expect(evidenceOf({ integrity: 'restic-content' })).toBe('restic-content');
    expect(evidenceOf({ integrity: 'md5' })).toBeNull();
    expect(evidenceOf(null)).toBeNull();
  }, 5000);
});
