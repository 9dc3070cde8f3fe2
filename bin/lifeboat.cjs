#!/usr/bin/env node
'use strict';
// The `lifeboat` command under plain Node: runs the CLI built by `npm run build`.
const { existsSync, readFileSync, statSync, unlinkSync } = require('node:fs');
const { basename, join } = require('node:path');

const argv = process.argv.slice(2);

// `wal-push --async --spool <dir>` is PostgreSQL's archive_command, run once per WAL segment:
// when the background archiver already pushed this very file, acknowledge it before loading
// anything else. The marker holds the file's device:inode:size:mtime (electron/engine/pitr/wal-async.ts).
if (argv[0] === 'wal-push' && argv.includes('--async') && argv.indexOf('--spool') > 0) {
  const wal = argv[1];
  const marker = join(argv[argv.indexOf('--spool') + 1] || '.', 'done', basename(wal || '.'));
  try {
    const s = statSync(wal, { bigint: true });
    if (readFileSync(marker, 'utf8').trim() === `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs / 1000000000n}`) {
      unlinkSync(marker);
      process.exit(0);
    }
  } catch {
    // no marker (or no file): the CLI below decides
  }
}

const cli = join(__dirname, '..', 'out', 'main', 'cli.js');
if (!existsSync(cli)) {
  process.stderr.write('lifeboat: the CLI is not built yet. Run `npm run build` (or `npm ci`, which builds it).\n');
  process.exit(2);
}
require(cli)
  .runCli(argv)
  .then((code) => {
    process.exitCode = code;
    // A check that gave up on a silent medium (--timeout) has said its UNKNOWN: a request still being retried
    // must not keep the process (and cron, or the monitoring system) waiting for minutes.
    if (argv[0] === 'check')
      require('node:timers')
        .setTimeout(() => process.exit(code), 1000)
        .unref();
  });
