import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mapError } from '../../electron/engine/errors';
import { JSON_LIMITS, jsonDepth, parseBoundedJson } from '../../electron/engine/format/check';
import { parseManifest } from '../../electron/engine/format/manifest';
import { parseRunbook, RUNBOOK_LIMITS } from '../../electron/engine/runbooks/format';
import { loadSettings } from '../../electron/engine/settings/settings';
import { tempDir } from '../helpers/temp';

const dir = tempDir();
afterAll(() => dir.cleanup());

function failure(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    const err = mapError(e);
    return { code: err.code, message: err.message };
  }
  throw new Error('expected a failure');
}

describe('JSON limits', () => {
  it('counts nesting on the bytes, ignoring brackets inside strings and escaped quotes', () => {
    expect(jsonDepth(Buffer.from('{"a":[1,{"b":"[[[{{\\"[["}]}'))).toBe(3);
    expect(jsonDepth(Buffer.from('"just a string"'))).toBe(0);
    expect(jsonDepth(Buffer.from('['.repeat(1000)), 32)).toBe(33);
  });

  it('refuses too deep or too large before parsing, as FORMAT_INVALID naming the file', () => {
    const deep = Buffer.from(`${'['.repeat(33)}${']'.repeat(33)}`);
    expect(failure(() => parseBoundedJson(deep, 'x.json', { maxBytes: 1000, maxDepth: 32 }))).toEqual({
      code: 'FORMAT_INVALID',
      message: 'x.json nests objects or lists deeper than 32 levels.',
    });
    expect(
      parseBoundedJson(Buffer.from(`${'['.repeat(32)}${']'.repeat(32)}`), 'x.json', { maxBytes: 1000, maxDepth: 32 }),
    ).toBeInstanceOf(Array);
    expect(
      failure(() =>
        parseBoundedJson(Buffer.alloc(2 * 1024 * 1024, 0x20), 'y.json', { maxBytes: 1024 * 1024, maxDepth: 32 }),
      ).message,
    ).toMatch(/^y\.json is 2097152 bytes, over the 1 MiB/);
    expect(failure(() => parseBoundedJson(Buffer.from('{'), 'z.json', { maxBytes: 10, maxDepth: 32 })).message).toMatch(
      /^z\.json is not valid JSON/,
    );
  });

  it('a manifest with 200,000 nested objects is FORMAT_INVALID, not a stack overflow', () => {
    const text = `{"format":"lifeboat-set/1","source":${'{"a":'.repeat(200_000)}1${'}'.repeat(200_000)}}`;
    expect(failure(() => parseManifest(Buffer.from(text)))).toEqual({
      code: 'FORMAT_INVALID',
      message: `manifest.json nests objects or lists deeper than ${JSON_LIMITS.maxDepth} levels.`,
    });
  });

  it('settings.json: too deep or too large is FORMAT_INVALID naming the file', () => {
    mkdirSync(dir.path, { recursive: true });
    const deep = join(dir.path, 'deep.json');
    writeFileSync(deep, `{"systems":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`);
    const d = failure(() => loadSettings(deep));
    expect(d.code).toBe('FORMAT_INVALID');
    expect(d.message).toContain(deep);
    expect(d.message).toMatch(/deeper than 32 levels/);
    const big = join(dir.path, 'big.json');
    writeFileSync(big, Buffer.alloc(JSON_LIMITS.settingsBytes + 1, 0x20));
    expect(failure(() => loadSettings(big)).message).toMatch(/over the 4 MiB/);
  });
});

describe('runbook YAML limits', () => {
  it('an alias bomb is RUNBOOK_INVALID, not INTERNAL', () => {
    const bomb = [
      'a: &a [x,x,x,x,x,x,x,x,x]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      '',
    ].join('\n');
    const f = failure(() => parseRunbook(bomb, 'bomb.yaml'));
    expect(f.code).toBe('RUNBOOK_INVALID');
    expect(f.message).toMatch(/^bomb\.yaml: too many aliases/);
  });

  it('100,000 nested flow lists are refused before the parser recurses (it ran out of memory)', () => {
    const f = failure(() => parseRunbook(`a: ${'['.repeat(100_000)}${']'.repeat(100_000)}`));
    expect(f).toEqual({
      code: 'RUNBOOK_INVALID',
      message: `runbook: lists or maps in [ ] or { } nest deeper than ${RUNBOOK_LIMITS.flowDepth} levels.`,
    });
  });

  it('brackets in quoted strings, comments and after an apostrophe in plain text do not count; an apostrophe cannot hide nesting', () => {
    const fine = `id: x\ntitle: "[[[[" # ${'['.repeat(100)}\nnote: '${'{'.repeat(100)}'\n`;
    expect(failure(() => parseRunbook(fine)).message).not.toMatch(/nest deeper/);
    const hidden = `title: Operator's ${'['.repeat(1000)}\n`;
    expect(failure(() => parseRunbook(hidden)).message).toMatch(/nest deeper than 64 levels/);
  });

  it('size and indentation are bounded', () => {
    expect(failure(() => parseRunbook(`a: "${'x'.repeat(RUNBOOK_LIMITS.bytes)}"`)).message).toMatch(
      /over the 1 MiB a runbook may have/,
    );
    expect(failure(() => parseRunbook(`a:\n${' '.repeat(300)}b: 1\n`)).message).toMatch(
      /line 2 is indented more than 256 columns/,
    );
  });
});
