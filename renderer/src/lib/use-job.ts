import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { JobSnapshot } from '../../../shared/domain/jobs';
import { getApi } from './api';

export interface JobLogLine {
  level: string;
  message: string;
  at: string;
}

/**
 * Follow one job: its live snapshot (from the event stream, re-fetched once so a reloaded
 * window catches up) and its log lines. `onFinished` runs once when it settles.
 */
export function useJob(
  initial: JobSnapshot | null,
  onFinished?: (s: JobSnapshot) => void,
): { job: JobSnapshot | null; log: JobLogLine[]; track: (s: JobSnapshot) => void } {
  const [job, setJob] = useState<JobSnapshot | null>(initial);
  const [log, setLog] = useState<JobLogLine[]>([]);
  const finishedRef = useRef(onFinished);
  // The latest callback, for events that arrive later (refs are written after render, not during it).
  useLayoutEffect(() => {
    finishedRef.current = onFinished;
  });
  const idRef = useRef<string | null>(initial?.id ?? null);
  useEffect(() => {
    const api = getApi();
    const off = api.onJobEvent((e) => {
      if (e.jobId !== idRef.current) return;
      setJob(e.snapshot);
      if (e.type === 'log' && e.log)
        setLog((l) => [...l.slice(-200), { level: e.log!.level, message: e.log!.message, at: e.at }]);
      if (e.type === 'finished') finishedRef.current?.(e.snapshot);
    });
    return off;
  }, []);
  const track = useCallback((s: JobSnapshot): void => {
    idRef.current = s.id;
    setJob(s);
    setLog([]);
    // The job may have finished before the first event arrived: ask once.
    void getApi()
      .getJob({ id: s.id })
      .then((r) => {
        if (!r.ok || idRef.current !== s.id) return;
        setJob(r.value);
        if (r.value.status !== 'running') finishedRef.current?.(r.value);
      });
  }, []);
  return { job, log, track };
}

/**
 * A screen's job that survives a reload or a trip to another screen: the job named in the hash (`job=<id>`, opened from
 * the Jobs panel), else the running job of the screen's kinds (asked from the engine), else the last one this screen
 * started in this window session (so its result stays viewable). `track` remembers a newly started job.
 */
export function useScreenJob(
  kinds: readonly string[],
  storageKey: string,
  onFinished?: (s: JobSnapshot) => void,
): { job: JobSnapshot | null; log: JobLogLine[]; track: (s: JobSnapshot) => void; attached: boolean } {
  const { job, log, track } = useJob(null, onFinished);
  const [attached, setAttached] = useState(false);
  const kindsKey = kinds.join(',');
  const remember = useCallback(
    (s: JobSnapshot): void => {
      sessionStorage.setItem(storageKey, s.id);
      // A job opened from the Jobs panel (job=<id> in the hash) gives way to the one just started.
      const params = new URLSearchParams(location.hash.slice(1));
      if (params.has('job') && params.get('job') !== s.id) {
        params.delete('job');
        location.hash = params.toString();
      }
      track(s);
    },
    [storageKey, track],
  );
  const requested = useHashJob();
  useEffect(() => {
    let live = true;
    const api = getApi();
    const wanted = kindsKey.split(',');
    void (async () => {
      const fromHash = requested ? await api.getJob({ id: requested }) : null;
      if (fromHash?.ok && wanted.includes(fromHash.value.kind)) {
        if (live) {
          remember(fromHash.value);
          setAttached(true);
        }
        return;
      }
      const listed = await api.listJobs({});
      const running = listed.ok
        ? listed.value.find((j) => j.status === 'running' && wanted.includes(j.kind))
        : undefined;
      const stored = sessionStorage.getItem(storageKey);
      const last = running ?? (listed.ok && stored ? listed.value.find((j) => j.id === stored) : undefined);
      if (last && live) {
        track(last);
        setAttached(true);
      }
    })();
    return () => {
      live = false;
    };
  }, [kindsKey, storageKey, requested, remember, track]);
  return { job, log, track: remember, attached };
}

/** The `job` hash parameter, following the hash. */
function useHashJob(): string | null {
  const read = (): string | null => new URLSearchParams(location.hash.slice(1)).get('job');
  const [value, setValue] = useState<string | null>(read);
  useEffect(() => {
    const onHash = (): void => setValue(read());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  return value;
}

export type JobState = 'running' | 'passed' | 'findings' | 'error' | 'cancelled';

/** What a job's badge says: a job that ran and found failures is `findings` in the failure style, never green. */
export function jobState(job: JobSnapshot): { state: JobState; text: string; tone: 'green' | 'amber' | 'red' } {
  if (job.status === 'running') return { state: 'running', text: 'running', tone: 'amber' };
  const outcome =
    job.outcome ?? (job.status === 'succeeded' ? 'passed' : job.status === 'cancelled' ? 'cancelled' : 'error');
  switch (outcome) {
    case 'passed':
      return { state: 'passed', text: 'passed', tone: 'green' };
    case 'findings':
      return { state: 'findings', text: 'failures found', tone: 'red' };
    case 'cancelled':
      return { state: 'cancelled', text: 'cancelled', tone: 'amber' };
    case 'error':
      return { state: 'error', text: 'error', tone: 'red' };
  }
}
