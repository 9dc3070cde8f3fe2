import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { ExcludeMatcher } from '../../electron/engine/backup/glob';
import { tarStream, walkTrees } from '../../electron/engine/backup/tree';
import { tempDir } from '../helpers/temp';

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
      const tar = await buffer(tarStream(walked.entries, results));
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
      writeFileSync(join(dir.path, 'x.tar'), await buffer(tarStream(walked.entries, results)));
      expect(execFileSync('tar', ['-xOf', join(dir.path, 'x.tar'), 'data/log.txt'], { encoding: 'utf8' })).toBe('short');
      expect(results.warnings[0]).toMatch(/grew while being read/);
    } finally {
      dir.cleanup();
    }
  });
});
