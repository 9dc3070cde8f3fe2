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

// `restore pg-pitr` holds little JavaScript but streams many short-lived buffers for minutes: V8's
// young generation, grown to its default 16 MiB semi-spaces, was ~30 MiB of its peak RSS for
// nothing (goal < 150 MiB, BENCHMARKS.md). Kept at its initial 1 MiB: more, cheap, scavenges. Set
// before the CLI is loaded (V8 does not shrink a young generation that has grown); at run time only
// the growth factor takes effect, the size limit is said for clarity.
if (argv[0] === 'restore' && argv[1] === 'pg-pitr') {
  const v8 = require('node:v8');
  v8.setFlagsFromString('--max-semi-space-size=1');
  v8.setFlagsFromString('--semi-space-growth-factor=1');
}

// `scan` reads a manifest per set, and a fleet's bucket holds 100,000 sets and more: each batch's
// parsed manifests live just long enough to be promoted, and V8 let the garbage grow its heap by
// 60-90 MiB before collecting it (peak goal < 150 MiB, BENCHMARKS.md "Catalog"). Optimizing for
// size makes V8 grow its heap in smaller steps and collect sooner; the young generation is kept
// at its initial 1 MiB as above. At 10,000 sets: 95 MiB peak instead of 123 MiB, the same CPU time.
if (argv[0] === 'scan') {
  const v8 = require('node:v8');
  v8.setFlagsFromString('--optimize-for-size');
  v8.setFlagsFromString('--max-semi-space-size=1');
  v8.setFlagsFromString('--semi-space-growth-factor=1');
}

// The collector, for the decoder's main-thread side (electron/engine/pipeline/threaded-decoder.ts)
// in the commands that decode sets: the blocks it hands on die young outside the V8 heap, and V8
// lets tens of MiB of them pile up before it collects a heap this small. It scavenges every few
// blocks instead (BENCHMARKS.md, peak RSS). Not for the others: a new context costs a few ms, and
// wal-push runs once per WAL segment.
if (['restore', 'verify', 'run'].includes(argv[0])) {
  require('node:v8').setFlagsFromString('--expose-gc');
  globalThis.gc = require('node:vm').runInNewContext('gc');
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
