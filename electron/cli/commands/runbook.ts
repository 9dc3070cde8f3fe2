import type { Command } from 'commander';
import type { CliIo } from '../output';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerRunbook(program: Command, io: CliIo): void {
  program
    .command('runbooks')
    .description("the runbook library: built-ins and the operator's folder (<data dir>/runbooks)")
    .option('--json', 'print one machine-readable result')
    .action(async (opts: { json?: boolean }) => {
      const { runbooksCommand } = await import('./runbook-run');
      await runbooksCommand(io, opts);
    });

  const runbook = program.command('runbook').description('work with runbook files');
  runbook
    .command('checklist <runbook>')
    .description(
      'a printable blank checklist of a runbook (id or .yaml file), to fill in by hand before or during a run',
    )
    .option('--html <file>', 'write it as HTML (print stylesheet) to this file instead of plain text on stdout')
    .action(async (id: string, opts: { html?: string }) => {
      const { checklistCommand } = await import('./runbook-run');
      await checklistCommand(io, id, opts);
    });
  runbook
    .command('check <file>')
    .description('validate a runbook file: every problem with its line and field')
    .option('--json', 'print one machine-readable result')
    .action(async (file: string, opts: { json?: boolean }) => {
      const { checkCommand } = await import('./runbook-run');
      await checkCommand(io, file, opts);
    });

  program
    .command('run [runbook]')
    .description('run a runbook (id or .yaml file): manual steps are confirmed in the terminal, actions run here')
    .option('--input <key=value>', 'an input of the runbook (repeat)', collect)
    .option('--drill', 'a drill: restores go only into scratch targets Lifeboat creates and removes')
    .option('--yes', 'answer manual steps and confirmations automatically (drills only)')
    .option('--operator <name>', 'who runs it (default: the name in settings, else the OS user)')
    .option('--identity <file>', 'age identity to decrypt sets (repeat); give it again on --resume', collect)
    .option('--resume <run id>', 'continue a run from where it stopped (after a crash, Ctrl-C or a wait)')
    .option(
      '--skip <step>',
      'with --resume: skip this step (needs --reason; a live run or a sign-off also --second-person)',
    )
    .option('--second-person <name>', 'with --skip: the second person approving the skip (not the operator; journaled)')
    .option(
      '--allow-unsigned',
      'let this run restore sets not signed by a pinned key (a journaled override; the built-in restore runbooks pass it on)',
    )
    .option('--cancel <run id>', "end a run for good (needs --reason); a drill's scratch targets are removed")
    .option('--reason <text>', 'why a step is skipped or a run cancelled (journaled)')
    .option('--json', 'print one machine-readable result at the end')
    .action(async (id: string | undefined, opts: RunOptions) => {
      const { runCommand } = await import('./runbook-run');
      await runCommand(io, id, opts);
    });

  program
    .command('runs')
    .description('runs of runbooks, newest first (open ones can be resumed)')
    .option('--json', 'print one machine-readable result')
    .action(async (opts: { json?: boolean }) => {
      const { runsCommand } = await import('./runbook-run');
      await runsCommand(io, opts);
    });

  const journal = program.command('journal').description('the hash-chained journal of runs');
  journal
    .command('verify <run-id>')
    .description("recompute the hash chain of a run's journal: any edit, deletion or reordering is reported")
    .option('--json', 'print one machine-readable result')
    .action(async (runId: string, opts: { json?: boolean }) => {
      const { journalVerifyCommand } = await import('./runbook-run');
      await journalVerifyCommand(io, runId, opts);
    });

  program
    .command('report <run-id>')
    .description("write a run's recovery report: self-contained, printable HTML")
    .requiredOption('--out <file.html>', 'where to write it')
    .action(async (runId: string, opts: { out: string }) => {
      const { reportCommand } = await import('./runbook-run');
      await reportCommand(io, runId, opts);
    });
}

export interface RunOptions {
  input?: string[];
  drill?: boolean;
  yes?: boolean;
  operator?: string;
  identity?: string[];
  resume?: string;
  skip?: string;
  secondPerson?: string;
  allowUnsigned?: boolean;
  cancel?: string;
  reason?: string;
  json?: boolean;
}
