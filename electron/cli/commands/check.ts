import type { Command } from 'commander';
import type { CliIo } from '../output';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export interface CheckOptions {
  system?: string[];
  from?: string[];
  maxAge?: string;
  verifiedWithin?: string;
  replica?: string;
  maxLag?: string;
  credential?: string;
  json?: boolean;
  metricsFile?: string;
  notifyConfig?: string;
  timeout?: string;
}

/**
 * `lifeboat check`: a monitoring plugin (Nagios, Icinga, Zabbix, cron). Exit 0 OK, 1 WARNING, 2 CRITICAL,
 * 3 UNKNOWN — bad usage included, as the plugin conventions say (docs/monitoring.md).
 */
export function registerCheck(program: Command, io: CliIo): void {
  program
    .command('check')
    .description(
      "monitoring check (Nagios/Icinga conventions): each system's newest backup against its tier's RPO; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
    )
    .option('--system <name>', 'check this system (repeat; default every system known)', collect)
    .option(
      '--from <dir | s3://bucket/prefix | azure://container/prefix>',
      'read the sets and WAL straight from this medium, no catalog (repeat for several)',
      collect,
    )
    .option(
      '--max-age <duration>',
      "WARNING past this age (default the tier's RPO), CRITICAL past twice it: 90m, 36h, 2d",
    )
    .option(
      '--verified-within <duration>',
      'also WARNING when the newest verified set is older than this, CRITICAL past twice it or with none (catalog only)',
    )
    .option(
      '--replica <postgres url>',
      'check a streaming standby instead: replay lag and the last replayed transaction',
    )
    .option(
      '--max-lag <duration>',
      "with --replica: WARNING past this lag (default the --system's RPO), CRITICAL past twice it",
    )
    .option('--credential <ref>', "with --replica: the standby's password from the keychain entry pg:<id>")
    .option('--metrics-file <file>', 'also update this Prometheus text file (docs/monitoring.md)')
    .option('--notify-config <file>', 'send a notification when the check is not OK (docs/notifications.md)')
    .option(
      '--timeout <duration>',
      "give up UNKNOWN after this long (a medium or server not answering); under the monitoring system's own check timeout",
      '50s',
    )
    .option('--json', 'print the result as JSON (same exit codes)')
    .action(async (opts: CheckOptions) => {
      const { checkCommand } = await import('./check-run');
      await checkCommand(io, opts);
    });
}
