import { hostname } from 'node:os';
import type { WireError } from '../../shared/errors';
import { KeytarCredentialStore } from '../engine/credentials/credential-store';
import type { CliIo } from './output';

/**
 * What a command learnt that its notification should say: the set it wrote, a one-line outcome.
 * Commands fill it in as they report; the notification reads it once the command has ended.
 */
export const runFacts: { setId?: string; summary?: string; failed?: boolean; suspicious?: string[] } = {};

/** The commands that notify, by their words on the command line (`backup pg` is two). */
function commandOf(argv: string[]): string | null {
  const [first, second] = argv;
  if (first === 'backup' && second && !second.startsWith('-')) return `backup ${second}`;
  if (first === 'wal-push' || first === 'wal-archiver' || first === 'verify' || first === 'check') return first;
  return null;
}

/** The values of a repeatable option, as `--name V` or `--name=V`. */
function optionValues(argv: string[], name: string): string[] {
  const out: string[] = [];
  argv.forEach((a, i) => {
    if (a === name && i + 1 < argv.length) out.push(argv[i + 1]!);
    else if (a.startsWith(`${name}=`)) out.push(a.slice(name.length + 1));
  });
  return out;
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export interface CliNotice {
  /** Send what the command's end calls for; never throws and never changes `exitCode`. */
  finish(exitCode: number, error: WireError | null): Promise<void>;
}

/**
 * The notification side of a command run as cron would: the config is found and checked, and its
 * secrets resolved, before the command starts (a broken config stops it with exit 2, nothing run).
 * Returns null when the command does not notify or no config applies.
 */
export async function prepareNotice(
  argv: string[],
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CliNotice | null> {
  const command = commandOf(argv);
  if (!command || argv.includes('--help') || argv.includes('-h')) return null;
  const [{ findNotifyConfig }, { resolveDataDir }] = await Promise.all([
    import('../engine/notify/find'),
    import('../engine/settings/paths'),
  ]);
  const source = findNotifyConfig(optionValues(argv, '--notify-config').at(-1), env, resolveDataDir());
  if (!source) return null;
  // Only now the parser and the senders (yaml, zod): a command without a config never loads them.
  const { loadNotifyConfig, Notifier } = await import('../engine/notify');
  const config = loadNotifyConfig(source);
  const notifier = await Notifier.prepare(config, {
    env,
    keychain: () => new KeytarCredentialStore(),
    retryDelayMs: Number(env.LIFEBOAT_NOTIFY_RETRY_MS ?? '') || undefined,
  });
  const startedAt = new Date().toISOString();
  const system =
    optionValues(argv, '--system').at(-1) ??
    (command === 'verify' ? (optionValues(argv, '--wal').at(-1) ?? null) : null);
  const media = [...optionValues(argv, '--to'), ...optionValues(argv, '--from')];
  if (command === 'verify' && argv[1] && !argv[1].startsWith('-')) media.push(argv[1]);
  return {
    async finish(exitCode, error) {
      const failed = exitCode !== 0 || Boolean(runFacts.failed);
      // A check that is OK is no news; nor is a WAL segment archived (wal-push and wal-archiver tell failures only).
      const kind =
        command === 'check'
          ? failed
            ? 'check-not-ok'
            : null
          : failed
            ? 'failure'
            : runFacts.suspicious
              ? 'suspicious'
              : command === 'wal-push' || command === 'wal-archiver'
                ? null
                : 'success';
      if (!kind || !notifier.wants(kind)) return;
      const summary =
        (runFacts.suspicious
          ? `The ransomware indicator flagged the new set: ${runFacts.suspicious.join('; ')}. `
          : '') +
        (runFacts.summary ??
          (error
            ? `${error.code}: ${error.message}`
            : exitCode === 0
              ? `lifeboat ${command} succeeded.`
              : `lifeboat ${command} ended with exit code ${exitCode}.`));
      const deliveries = await notifier.notify({
        kind,
        command,
        system,
        setId: runFacts.setId ?? null,
        host: hostname(),
        media,
        error: error ? { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) } : null,
        summary,
        rerun: ['lifeboat', ...argv].map(shellQuote).join(' '),
        exitCode,
        startedAt,
        finishedAt: new Date().toISOString(),
      });
      for (const d of deliveries.filter((x) => !x.ok))
        io.stderr.write(
          `lifeboat: warning: the ${kind} notification to ${d.channel} could not be sent (tried ${d.attempts} times): ${d.error ?? 'unknown error'}\n`,
        );
    },
  };
}
