import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { generateIdentity, parseIdentity, parseRecipient } from '../../electron/engine/crypto/age';

// Keys are bech32 through @scure/base: what age-keygen writes parses to the recipient it prints,
// and the checks of the old hand-written codec still hold.
describe('age keys (bech32 via @scure/base)', () => {
  it("reads age-keygen's identity and derives the recipient age-keygen printed", () => {
    const out = execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const secret = out.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
    const printed = /public key: (age1\w+)/.exec(out)![1]!;
    const id = parseIdentity(secret);
    expect(id.recipient.text).toBe(printed);
    expect(parseRecipient(printed).publicKey.equals(id.recipient.publicKey)).toBe(true);
    expect(parseRecipient(printed.toUpperCase()).text).toBe(printed);
  }, 10_000);

  it('round-trips its own keys and refuses damaged ones', () => {
    const { identity, text } = generateIdentity();
    expect(text).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
    expect(parseIdentity(text).secretKey.equals(identity.secretKey)).toBe(true);
    const r = identity.recipient.text;
    expect(r).toMatch(/^age1[0-9a-z]{58}$/);
    const flipped = `${r.slice(0, -1)}${r.endsWith('q') ? 'p' : 'q'}`;
    expect(() => parseRecipient(flipped)).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
    expect(() => parseRecipient(`${r.slice(0, 10).toUpperCase()}${r.slice(10)}`)).toThrow(
      expect.objectContaining({ code: 'KEY_INVALID' }),
    );
    expect(() => parseRecipient(text)).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
    expect(() => parseIdentity(r)).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
    expect(() => parseRecipient('age')).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
  });
});
