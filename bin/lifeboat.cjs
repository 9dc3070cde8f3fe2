#!/usr/bin/env node
'use strict';
// The `lifeboat` command under plain Node: runs the CLI built by `npm run build`.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const cli = join(__dirname, '..', 'out', 'main', 'cli.js');
if (!existsSync(cli)) {
  process.stderr.write('lifeboat: the CLI is not built yet. Run `npm run build` (or `npm ci`, which builds it).\n');
  process.exit(2);
}
require(cli)
  .runCli(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
