/**
 * Run as its own Node process (bundled by the test): streams a generated file index of N entries
 * into an IndexStore and prints the peak RSS the kernel saw (VmHWM), so the bound is measured on
 * a plain process, not on a test runner's worker with its own allocations.
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { IndexStore } from '../../electron/engine/restore/index-store';

const count = Number(process.argv[2]);
const file = process.argv[3]!;

async function* lines(): AsyncGenerator<Buffer> {
  let batch: string[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 1000 === 0)
      batch.push(JSON.stringify({ path: `d${i / 1000}`, type: 'dir', size: 0, mtime_ms: 1, mode: 0o755, in: 'set-a' }));
    batch.push(
      JSON.stringify({
        path: `d${Math.floor(i / 1000)}/file-${i}.dat`,
        type: 'file',
        size: 10,
        mtime_ms: 1,
        mode: 0o644,
        sha256: 'a'.repeat(64),
        in: 'set-a',
      }),
    );
    if (batch.length >= 5000) {
      yield Buffer.from(batch.join('\n') + '\n');
      batch = [];
    }
  }
  yield Buffer.from(batch.join('\n') + '\n');
}

const started = Date.now();
void IndexStore.load(Readable.from(lines()), [], file).then((store) => {
  const files = store.totals().files;
  const found = store.get(Buffer.from(`d${Math.floor((count - 1) / 1000)}/file-${count - 1}.dat`))?.size ?? null;
  store.close();
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
  process.stdout.write(JSON.stringify({ files, found, peakRss: hwm, seconds: (Date.now() - started) / 1000 }));
});
