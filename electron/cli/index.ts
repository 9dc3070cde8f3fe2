import { Command, CommanderError } from 'commander';
import { exitCodeFor, type WireError } from '../../shared/errors';
import { LIFEBOAT_VERSION } from '../engine/version';
import type { CliNotice } from './notify';
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

/**
 * A reader that stops early (`lifeboat sets | head -1`) closes the pipe: the next write fails with
 * EPIPE, which Node would raise as an uncaught error with a stack trace. Like `git log | head`, the
 * CLI stays quiet instead: what no one reads is dropped, and the command runs to its end (a backup
 * or verification is never cut half-way because its listing went unread), exiting with its own code.
 */
export function quietOnClosedPipe(io: CliIo): void {
  for (const stream of [io.stdout, io.stderr]) {
    if (typeof stream.on !== 'function' || stream.listenerCount('error') > 0) continue;
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') return;
      // Any other failure of the terminal itself: nowhere left to report it, so the exit code says it.
      process.exitCode = 1;
    });
  }
}

/**
 * A password written into a URL on the command line (`--db postgres://u:secret@h/db`) can be read
 * by every user of the machine in `ps` for the whole run: it still works, but the operator is told
 * once, on stderr, and never shown the password. (Engine code is not loaded for this: argv only.)
 */
export function warnPasswordInArgv(argv: string[], io: CliIo): void {
  const leaky = argv.some((arg) => {
    const value =
      arg.startsWith('-') && arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : arg.replace(/^[\w.-]+=/, '');
    if (!/^(postgres(ql)?|redis|mysql|mariadb)[:/]/i.test(value)) return false;
    try {
      const u = new URL(value);
      return u.password !== '' || u.searchParams.has('password');
    } catch {
      return /[^\s/@:]+:[^\s@]*@/.test(value);
    }
  });
  if (leaky) {
    io.stderr.write(
      'lifeboat: warning: a password in a URL on the command line is visible to every user of this machine (ps) while the command runs.\n',
    );
    io.stderr.write(
      '  Leave it out of the URL and use PGPASSWORD, ~/.pgpass, REDISCLI_AUTH (Redis), MYSQL_PWD (MySQL) or a keychain credential (--credential) instead.\n',
    );
  }
}

export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  quietOnClosedPipe(io);
  warnPasswordInArgv(argv, io);
  const program = buildProgram(io);
  // Registration modules are light (commander only); each action imports its engine code.
  const [
    { registerInfo },
    { registerMedium },
    { registerKeys },
    { registerBackup },
    { registerPrune },
    { registerCatalog },
    { registerVerify },
    { registerRunbook },
    { registerPitr },
    { registerDemo },
    { registerCheck },
    { registerNotify },
  ] = await Promise.all([
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
    import('./commands/check'),
    import('./commands/notify'),
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
  registerCheck(program, io);
  registerNotify(program, io);
  registerInfo(program, io);
  const json = argv.includes('--json');
  let notice: CliNotice | null = null;
  let code: number;
  let failure: WireError | null = null;
  try {
    // A notification config that is broken stops the command here, before it starts (exit 2).
    const { prepareNotice } = await import('./notify');
    notice = await prepareNotice(argv, io);
    await program.parseAsync(argv, { from: 'user' });
    code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit through here with code 0. `check` is a monitoring plugin: bad usage is UNKNOWN (3).
      if (e.exitCode !== 0 && argv[0] === 'check') {
        io.stdout.write('LIFEBOAT UNKNOWN - bad usage (run `lifeboat check --help`)\n');
        code = 3;
      } else code = e.exitCode === 0 ? 0 : 2;
      if (code !== 0) failure = { code: 'BAD_INPUT', message: e.message.replace(/^error: /, '') };
    } else {
      const { toWireError } = await import('../engine/errors');
      failure = toWireError(e);
      printError(io, failure, json);
      code = exitCodeFor(failure.code);
      // `check` never ends CRITICAL (2) for its own trouble (a broken notification config): that is UNKNOWN (3).
      if (argv[0] === 'check') {
        if (!json) io.stdout.write(`LIFEBOAT UNKNOWN - ${failure.message.split('\n')[0]}\n`);
        code = 3;
      }
    }
  }
  // Sent after the command's own output; a notification that cannot be sent is a warning on stderr, never the exit code.
  if (notice)
    await notice
      .finish(code, failure)
      .catch(() => io.stderr.write('lifeboat: warning: the notification was not sent.\n'));
  return code;
}

if (require.main === module) {
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
