import { Writable } from 'node:stream';

/**
 * One stream written to several destinations (a folder and S3 in one backup, so both copies
 * are byte-identical), with back-pressure from the slowest one.
 */
export function fanOut(targets: Writable[]): Writable {
  // Failures reach us through write/end callbacks; the listeners keep a destroyed target
  // from turning into an uncaught 'error' event.
  for (const t of targets) t.on('error', () => undefined);
  const writeTo = (t: Writable, chunk: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      if (t.destroyed) return reject(t.errored ?? new Error('destination closed'));
      const ok = t.write(chunk, (e) => (e ? reject(e) : undefined));
      if (ok) resolve();
      else {
        const onDrain = (): void => {
          t.off('error', onError);
          resolve();
        };
        const onError = (e: Error): void => {
          t.off('drain', onDrain);
          reject(e);
        };
        t.once('drain', onDrain);
        t.once('error', onError);
      }
    });
  const endOf = (t: Writable): Promise<void> =>
    new Promise((resolve, reject) => {
      t.once('error', reject);
      t.end(() => resolve());
    });
  return new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _enc, callback) {
      Promise.all(targets.map((t) => writeTo(t, chunk))).then(() => callback(), callback);
    },
    final(callback) {
      Promise.all(targets.map(endOf)).then(() => callback(), callback);
    },
    destroy(error, callback) {
      for (const t of targets) if (!t.destroyed) t.destroy(error ?? undefined);
      callback(error);
    },
  });
}
