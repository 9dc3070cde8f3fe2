import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { extractTar } from '../../electron/engine/restore/extract';
import { tempDir } from '../helpers/temp';

describe('extractTar', () => {
  it('a source failing while a buffered chunk of many entries is parsed: nothing is written once it settled', async () => {
    const t = tempDir('extract-cancel');
    const dir = t.path;
    mkdirSync(join(dir, 'src'));
    for (let i = 0; i < 400; i++) writeFileSync(join(dir, 'src', `f${i}.dat`), `row ${i}\n`);
    execFileSync('tar', ['-cf', join(dir, 'a.tar'), '-C', dir, 'src']);
    const tar = readFileSync(join(dir, 'a.tar'));
    // One chunk holding every entry, then the gate fails (a hash mismatch) while it is being parsed.
    const source = new Readable({ read() {} });
    source.push(tar.subarray(0, tar.length - 1024));
    setTimeout(() => source.destroy(new Error('corrupted')), 5);
    const dest = join(dir, 'out');
    mkdirSync(dest);
    await expect(extractTar(source, [], dest, { accept: () => true })).rejects.toThrow();
    const count = (): number => readdirSync(join(dest, 'src')).length;
    const atSettle = count();
    await sleep(300);
    expect(count()).toBe(atSettle);
    t.cleanup();
  });
});
