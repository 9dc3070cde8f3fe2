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
export function useJob(initial: JobSnapshot | null, onFinished?: (s: JobSnapshot) => void): { job: JobSnapshot | null; log: JobLogLine[]; track: (s: JobSnapshot) => void } {
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
      if (e.type === 'log' && e.log) setLog((l) => [...l.slice(-200), { level: e.log!.level, message: e.log!.message, at: e.at }]);
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
