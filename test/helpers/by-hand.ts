import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyedMedium } from './keyed-medium';
import { shellBlocks } from './tree-state';

/**
 * The `sh` blocks of docs/restore-by-hand.md's `sections`, run verbatim by `bash -euo pipefail`
 * with section 0's variables set for `set` (system/set id) of a keyed medium. Throws when the doc
 * holds another number of blocks than `blocks` (a heading renamed by mistake would drop some).
 */
export function runByHand(o: {
  km: KeyedMedium;
  sections: RegExp;
  blocks: number;
  set: string;
  work: string;
  env?: Record<string, string>;
  timeout?: number;
}): SpawnSyncReturns<string> {
  const blocks = shellBlocks(readFileSync(join(__dirname, '../../docs/restore-by-hand.md'), 'utf8'), o.sections);
  if (blocks.length !== o.blocks)
    throw new Error(`docs/restore-by-hand.md: ${blocks.length} sh blocks in ${o.sections}, expected ${o.blocks}`);
  const [system, setId] = o.set.split('/');
  return spawnSync('bash', ['-euo', 'pipefail', '-c', blocks.join('\n')], {
    env: {
      ...process.env,
      IDENTITY: o.km.identity,
      SIGNER_PUB: `${o.km.signKey}.pub`,
      MEDIUM: o.km.medium,
      SYSTEM: system,
      SET: setId,
      WORK: o.work,
      ...o.env,
    },
    encoding: 'utf8',
    timeout: o.timeout ?? 60_000,
  });
}
