import type { Command } from 'commander';
import type * as Handlers from '../../engine/api/handlers';
import type * as CliEngine from '../engine';
import { printJson, ProgressLine, type CliIo } from '../output';

async function load(): Promise<{
  createHandlers: typeof Handlers.createHandlers;
  openCliEngine: typeof CliEngine.openCliEngine;
}> {
  const [{ createHandlers }, { openCliEngine }] = await Promise.all([
    import('../../engine/api/handlers'),
    import('../engine'),
  ]);
  return { createHandlers, openCliEngine };
}

export function registerInfo(program: Command, io: CliIo): void {
  program
    .command('info')
    .description('show the version, data directory, catalog counts and keychain status')
    .option('--json', 'print one machine-readable result')
    .action(async (opts: { json?: boolean }) => {
      const { createHandlers, openCliEngine } = await load();
      const engine = openCliEngine();
      try {
        const h = createHandlers(engine);
        const [info, overview] = await Promise.all([h.getAppInfo({}), h.getOverview({})]);
        if (opts.json) {
          printJson(io, { ...info, frontDoor: 'cli', ...overview });
          return;
        }
        const c = overview.catalog;
        io.stdout.write(
          [
            `Lifeboat ${info.version}`,
            `data directory   ${info.dataDir}`,
            `catalog          ${info.catalogPath} (schema ${overview.catalogSchemaVersion})`,
            `                 ${c.media} media, ${c.systems} systems, ${c.sets} sets, ${c.verifications} verifications, ${c.runs} runs`,
            `keychain         ${overview.keychain.state} — ${overview.keychain.backend}`,
            ...(overview.keychain.hint ? [`                 ${overview.keychain.hint}`] : []),
            '',
          ].join('\n'),
        );
      } finally {
        await engine.close();
      }
    });

  program
    .command('doctor')
    .description('check the catalog integrity, the keychain and the external tools Lifeboat drives')
    .option('--json', 'print one machine-readable result')
    .action(async (opts: { json?: boolean }) => {
      const { createHandlers, openCliEngine } = await load();
      const engine = openCliEngine();
      const progress = new ProgressLine(io);
      const unsubscribe = engine.jobs.subscribe((e) => progress.update(e.snapshot));
      try {
        const started = await createHandlers(engine).startSelfCheck({});
        const final = await engine.jobs.wait(started.id);
        progress.done();
        if (opts.json) {
          printJson(io, final.result);
        } else {
          const r = final.result as {
            catalogIntegrity: string;
            keychain: { state: string; backend: string; hint: string | null };
            tools: Array<{
              name: string;
              version: string | null;
              path: string | null;
              only: string | null;
              problem: string | null;
            }>;
            postgres?: Array<{ name: string; major: number; path: string }>;
          };
          io.stdout.write(`catalog integrity  ${r.catalogIntegrity}\n`);
          io.stdout.write(
            `keychain           ${r.keychain.state} (${r.keychain.backend})${r.keychain.hint ? `\n                   ${r.keychain.hint}` : ''}\n`,
          );
          for (const t of r.tools) {
            // A tool only some set kinds need is "not installed" when absent, not a missing part of Lifeboat.
            const absent = t.only && !t.path ? `not installed — needed only for ${t.only}` : null;
            const found = `${t.version ?? ''}  ${t.path ?? ''}${t.only ? `  (only for ${t.only})` : ''}`;
            io.stdout.write(`${t.name.padEnd(18)} ${absent ?? (t.problem ? `MISSING — ${t.problem}` : found)}\n`);
          }
          // Every PostgreSQL version found: a dump is read by a pg_restore at least as new as its pg_dump.
          const restores = (r.postgres ?? []).filter((t) => t.name === 'pg_restore');
          io.stdout.write(
            `PostgreSQL tools   ${(r.postgres ?? []).map((t) => `${t.name} ${t.major} (${t.path})`).join(', ') || 'none found'}\n`,
          );
          if (restores.length)
            io.stdout.write(
              `                   dumps by pg_dump <= ${restores[0]!.major} can be checked and restored here\n`,
            );
        }
        if (final.status !== 'succeeded') process.exitCode = 1;
      } finally {
        unsubscribe();
        await engine.close();
      }
    });
}
