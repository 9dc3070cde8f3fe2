import { useCallback, useEffect, useState } from 'react';
import type { WireError } from '../../../shared/errors';
import type { Result } from '../../../shared/result';

export type Loadable<T> = { state: 'loading' } | { state: 'ready'; value: T } | { state: 'error'; error: WireError };

/** Load a contract call's Result into component state, with a reload function; loads again when `deps` change. */
export function useResult<T>(load: () => Promise<Result<T>>, deps: readonly unknown[] = []): [Loadable<T>, () => void] {
  const [value, setValue] = useState<Loadable<T>>({ state: 'loading' });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    let live = true;
    load().then(
      (r) => {
        if (!live) return;
        setValue(r.ok ? { state: 'ready', value: r.value } : { state: 'error', error: r.error });
      },
      (e: unknown) => {
        if (live)
          setValue({
            state: 'error',
            error: { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) },
          });
      },
    );
    return () => {
      live = false;
    };
    // useResult takes its callers' dependencies, as useEffect does: `deps` are the ones of `load`.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [tick, ...deps]);
  return [value, reload];
}
