import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { registerCatalog } from '../../electron/cli/commands/catalog';
import { registerMedium } from '../../electron/cli/commands/medium';
import { processIo } from '../../electron/cli/output';

const calls = vi.hoisted(() => [] as Array<{ set: string; opts: Record<string, unknown> }>);
vi.mock('../../electron/cli/commands/medium-run', () => ({
  restoreRequestCommand: async (_io: unknown, set: string, opts: Record<string, unknown>) => {
    calls.push({ set, opts });
  },
}));

// `media` has its own --json (the list of media): commander gives a --json after
// `media restore-request <set>` to the parent unless the subcommand reads it from there too.
describe('restore-request --json under either group', () => {
  it.each([
    ['medium', 'restore-request', 'a/1', '--days', '3', '--json'],
    ['media', 'restore-request', 'a/1', '--days', '3', '--json'],
    ['media', 'restore-request', '--json', 'a/1', '--days', '3'],
  ])('%s %s … --json', async (...args) => {
    const program = new Command().exitOverride();
    registerCatalog(program, processIo);
    registerMedium(program, processIo);
    calls.length = 0;
    await program.parseAsync(args, { from: 'user' });
    expect(calls).toEqual([{ set: 'a/1', opts: expect.objectContaining({ days: 3, json: true }) }]);
  });
});
