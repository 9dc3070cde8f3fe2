import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSet } from '../../electron/engine/backup/set-writer';
import { loadSigningKey } from '../../electron/engine/crypto/signing';
import { FolderMedium } from '../../electron/engine/storage/folder-medium';
import { json, lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';

/**
 * No false OK on an incremental chain: a child set whose index says a file is held by its parent,
 * with another hash than the parent's own index records, was verified `ok` at deep level while a
 * restore refused it. Deep verification now checks such entries against the parent's index.
 */

let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let signKey: string;
let parentId: string;

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

interface Report {
  results: Array<{
    key: string;
    verdict: string;
    detail: string | null;
    artifacts: Array<{ path: string; verdict: string; detail: string | null }>;
  }>;
}

/** A child of the parent written by hand: its tar holds only the folder, its index says src/a.txt is in the parent with `claimed` content. */
async function child(claimed: string): Promise<string> {
  const parentIndex = execFileSync('zstd', ['-dc', join(medium, 'sets', 'chain', parentId, 'index.jsonl.zst')], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n');
  const work = join(dir.path, `child-${claimed}`);
  mkdirSync(join(work, 'src'), { recursive: true });
  const tar = execFileSync('tar', ['--format=pax', '-cf', '-', '-C', work, '--no-recursion', 'src']);
  let id = '';
  await writeSet(
    {
      media: [new FolderMedium(medium)],
      system: 'chain',
      kind: 'files',
      tier: null,
      parent: parentId,
      recipients: [],
      signingKey: loadSigningKey(readFileSync(signKey)),
      startedAt: new Date(Date.now() + 2000),
    },
    { signal: new AbortController().signal, step: () => undefined, log: () => undefined },
    async (add, setId) => {
      id = setId;
      const lines = parentIndex.map((l) => {
        const e = JSON.parse(l) as Record<string, unknown>;
        if (e.type === 'dir') return JSON.stringify({ ...e, in: setId });
        return JSON.stringify({ ...e, sha256: sha(claimed), size: Buffer.byteLength(claimed) });
      });
      await add({ name: 'files.tar', role: 'files-tar', source: tar });
      await add({ name: 'index.jsonl', role: 'file-index', source: Buffer.from(lines.join('\n') + '\n') });
      return { source: {}, warnings: [] };
    },
  );
  expect(lifeboat(env, 'scan', medium).status).toBe(0);
  return id;
}

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'medium');
  signKey = join(dir.path, 'sign.pem');
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'usb').status).toBe(0);
  lifeboat(env, 'keys', 'signing-new', '--out', signKey);
  expect(lifeboat(env, 'keys', 'trust', `${signKey}.pub`, '--label', 'servers').status).toBe(0);
  const src = join(dir.path, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'a.txt'), 'x');
  const r = lifeboat(
    env,
    'backup',
    'files',
    '--system',
    'chain',
    '--path',
    src,
    '--to',
    medium,
    '--allow-plaintext',
    '--sign-key',
    signKey,
    '--json',
  );
  expect(r.status, r.stderr).toBe(0);
  parentId = json<{ set_id: string }>(r).set_id;
  expect(readdirSync(join(medium, 'sets', 'chain'))).toEqual([parentId]);
}, 120_000);

afterAll(() => dir?.cleanup());

describe('deep verification of an incremental set', () => {
  it("fails a child whose index gives a parent's file another hash than the parent holds", async () => {
    const id = await child('z');
    const r = lifeboat(env, 'verify', `chain/${id}`, '--level', 'deep', '--json');
    expect(r.status, r.stdout + r.stderr).toBe(1);
    const set = json<Report>(r).results[0]!;
    expect(set.verdict).toBe('corrupted');
    expect(set.artifacts.find((a) => a.path.startsWith('index'))!.detail).toMatch(
      /says src\/a\.txt is held by .*but .*own index records 1 bytes/,
    );
  });

  it('passes a child whose unchanged file agrees with the parent, and says it checked it', async () => {
    const id = await child('x');
    const r = lifeboat(env, 'verify', `chain/${id}`, '--level', 'deep', '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(json<Report>(r).results[0]!.artifacts.find((a) => a.path.startsWith('index'))!.detail).toMatch(
      /1 unchanged file checked against the older sets' indexes/,
    );
  });
});
