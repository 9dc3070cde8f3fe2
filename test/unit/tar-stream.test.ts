import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExcludeMatcher } from '../../electron/engine/backup/glob';
import { tarSource, walkTrees, type WalkedEntry } from '../../electron/engine/backup/tree';
import { BlockWriter } from '../../electron/engine/pipeline/threaded-encoder';
import { tempDir } from '../helpers/temp';

type Results = { hashes: Map<string, string>; warnings: string[]; skipped: Set<string> };

/** The tar the backup would store: blocks copied out as the encoder thread would take them. */
async function tarBytes(entries: WalkedEntry[], results: Results): Promise<Buffer> {
  const parts: Buffer[] = [];
  const w: BlockWriter = new BlockWriter((buf, len) => {
    parts.push(Buffer.from(Buffer.from(buf, 0, len)));
    w.returned(buf);
  });
  await tarSource(entries, results)(w);
  w.flush();
  return Buffer.concat(parts);
}

describe('tar of a tree that changes during the backup', () => {
  it('leaves out a file that vanished after the scan, and says so', async () => {
    const dir = tempDir();
    try {
      const root = join(dir.path, 'data');
      mkdirSync(root);
      writeFileSync(join(root, 'stays.txt'), 'stays');
      writeFileSync(join(root, 'goes.txt'), 'goes');
      const walked = await walkTrees([root], new ExcludeMatcher([]));
      rmSync(join(root, 'goes.txt'));
      const results = { hashes: new Map<string, string>(), warnings: [] as string[], skipped: new Set<string>() };
      const tar = await tarBytes(walked.entries, results);
      writeFileSync(join(dir.path, 'x.tar'), tar);
      const listing = execFileSync('tar', ['-tf', join(dir.path, 'x.tar')], { encoding: 'utf8' });
      expect(listing.split('\n').filter(Boolean)).toEqual(['data/', 'data/stays.txt']);
      expect(results.warnings).toEqual(['data/goes.txt: vanished during the backup']);
      expect(results.skipped.has('data/goes.txt')).toBe(true);
    } finally {
      dir.cleanup();
    }
  });

  it('cuts a file that grew to the size in its header and reports it', async () => {
    const dir = tempDir();
    try {
      const root = join(dir.path, 'data');
      mkdirSync(root);
      writeFileSync(join(root, 'log.txt'), 'short');
      const walked = await walkTrees([root], new ExcludeMatcher([]));
      writeFileSync(join(root, 'log.txt'), 'short and now longer');
      const results = { hashes: new Map<string, string>(), warnings: [] as string[], skipped: new Set<string>() };
      writeFileSync(join(dir.path, 'x.tar'), await tarBytes(walked.entries, results));
      expect(execFileSync('tar', ['-xOf', join(dir.path, 'x.tar'), 'data/log.txt'], { encoding: 'utf8' })).toBe(
        'short',
      );
      expect(results.warnings[0]).toMatch(/grew while being read/);
    } finally {
      dir.cleanup();
    }
  });
});

describe('tar written into the encoder blocks', () => {
  it('spans files over several 1 MiB blocks and hashes each file as read', async () => {
    const dir = tempDir();
    try {
      const root = join(dir.path, 'data');
      mkdirSync(root);
      const big = Buffer.alloc(3 * 1024 * 1024 + 777);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
      writeFileSync(join(root, 'big.bin'), big);
      writeFileSync(join(root, 'small.txt'), 'small');
      const walked = await walkTrees([root], new ExcludeMatcher([]));
      const results: Results = { hashes: new Map(), warnings: [], skipped: new Set() };
      writeFileSync(join(dir.path, 'x.tar'), await tarBytes(walked.entries, results));
      const out = join(dir.path, 'out');
      mkdirSync(out);
      execFileSync('tar', ['-xf', join(dir.path, 'x.tar'), '-C', out]);
      expect(readFileSync(join(out, 'data', 'big.bin')).equals(big)).toBe(true);
      expect(results.hashes.get('data/big.bin')).toBe(createHash('sha256').update(big).digest('hex'));
      expect(results.hashes.get('data/small.txt')).toBe(createHash('sha256').update('small').digest('hex'));
      expect(results.warnings).toEqual([]);
    } finally {
      dir.cleanup();
    }
  });

  it('pads a file that shrank to the size in its header and reports it', async () => {
    const dir = tempDir();
    try {
      const root = join(dir.path, 'data');
      mkdirSync(root);
      writeFileSync(join(root, 'log.txt'), 'a longer first version');
      const walked = await walkTrees([root], new ExcludeMatcher([]));
      writeFileSync(join(root, 'log.txt'), 'short');
      const results: Results = { hashes: new Map(), warnings: [], skipped: new Set() };
      writeFileSync(join(dir.path, 'x.tar'), await tarBytes(walked.entries, results));
      const stored = execFileSync('tar', ['-xOf', join(dir.path, 'x.tar'), 'data/log.txt']);
      expect(stored.length).toBe('a longer first version'.length);
      expect(stored.subarray(0, 5).toString()).toBe('short');
      expect(results.warnings[0]).toMatch(/shrank while being read/);
    } finally {
      dir.cleanup();
    }
  });
});
