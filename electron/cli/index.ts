import { Command, CommanderError } from 'commander';
import { exitCodeFor } from '../../shared/errors';
import { LIFEBOAT_VERSION } from '../engine/version';
import { printError, processIo, type CliIo } from './output';

/**
 * The `lifeboat` command. Exit codes: 0 success, 1 the operation failed, 2 bad usage or
 * environment. Commands import their engine code lazily, so `wal-push` style calls stay lean.
 */
export function buildProgram(io: CliIo): Command {
  const program = new Command();
  program
    .name('lifeboat')
    .description('Offline disaster-recovery console: make, catalog, verify and restore backups.')
    .version(LIFEBOAT_VERSION, '-V, --version', 'print the version')
    .showHelpAfterError('(run `lifeboat --help` for the commands)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();
  return program;
}

export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  const program = buildProgram(io);
  // Registration modules are light (commander only); each action imports its engine code.
  const [{ registerInfo }, { registerMedium }, { registerKeys }, { registerBackup }, { registerPrune }, { registerCatalog }, { registerVerify }, { registerRunbook }, { registerPitr }, { registerDemo }] = await Promise.all([
    import('./commands/info'),
    import('./commands/medium'),
    import('./commands/keys'),
    import('./commands/backup'),
    import('./commands/prune'),
    import('./commands/catalog'),
    import('./commands/verify'),
    import('./commands/runbook'),
    import('./commands/pitr'),
    import('./commands/demo'),
  ]);
  registerMedium(program, io);
  registerKeys(program, io);
  registerBackup(program, io);
  registerPrune(program, io);
  registerCatalog(program, io);
  registerVerify(program, io);
  registerRunbook(program, io);
  registerPitr(program, io);
  registerDemo(program, io);
  registerInfo(program, io);
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return e.exitCode === 0 ? 0 : 2;
    }
    const { toWireError } = await import('../engine/errors');
    const error = toWireError(e);
    printError(io, error, json);
    return exitCodeFor(error.code);
  }
}

if (require.main === module) {
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
