import type { RunStatus } from '../../../shared/domain/runs';
import type { Catalog } from './catalog';

/**
 * The runs of runbooks and their journal in the catalog: every statement the runner, its journal, forecast and
 * clocks send to SQLite. A run's state (the runbook it started with, every step's state, the journal head) is one
 * JSON document the runner owns; this module stores it and reads it back without knowing its shape (`S`).
 */

interface RunRow {
  id: string;
  runbook_id: string;
  title: string;
  drill: number;
  status: RunStatus;
  operator: string | null;
  incident_at: string | null;
  started_at: string;
  finished_at: string | null;
  inputs_json: string;
  state_json: string;
}

/** A run as stored: `operator` and `incidentAt` are null in rows written before they were recorded. */
export interface StoredRun<S = unknown> {
  id: string;
  runbookId: string;
  title: string;
  drill: boolean;
  status: RunStatus;
  operator: string | null;
  incidentAt: string | null;
  startedAt: string;
  finishedAt: string | null;
  inputs: Record<string, string>;
  state: S;
}

function fromRow<S>(r: RunRow): StoredRun<S> {
  return {
    id: r.id,
    runbookId: r.runbook_id,
    title: r.title,
    drill: r.drill === 1,
    status: r.status,
    operator: r.operator,
    incidentAt: r.incident_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    inputs: JSON.parse(r.inputs_json) as Record<string, string>,
    state: JSON.parse(r.state_json) as S,
  };
}

/** Record a new run (not finished yet). */
export function insertRun(catalog: Catalog, run: Omit<StoredRun, 'finishedAt'>): void {
  catalog
    .stmt(
      'INSERT INTO runs (id, runbook_id, title, drill, status, operator, incident_at, started_at, finished_at, inputs_json, state_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)',
    )
    .run(
      run.id,
      run.runbookId,
      run.title,
      run.drill ? 1 : 0,
      run.status,
      run.operator,
      run.incidentAt,
      run.startedAt,
      JSON.stringify(run.inputs),
      JSON.stringify(run.state),
    );
}

/** Write a run's status, end and state (call inside the transaction that journals the change). */
export function saveRun(catalog: Catalog, run: Pick<StoredRun, 'id' | 'status' | 'finishedAt' | 'state'>): void {
  catalog
    .stmt('UPDATE runs SET status = ?, finished_at = ?, state_json = ? WHERE id = ?')
    .run(run.status, run.finishedAt, JSON.stringify(run.state), run.id);
}

export function findRun<S>(catalog: Catalog, runId: string): StoredRun<S> | null {
  const row = catalog.stmt('SELECT * FROM runs WHERE id = ?').get(runId) as RunRow | undefined;
  return row ? fromRow<S>(row) : null;
}

/** Every run, newest first. */
export function listRuns<S>(catalog: Catalog): Array<StoredRun<S>> {
  return (catalog.stmt('SELECT * FROM runs ORDER BY started_at DESC').all() as RunRow[]).map((r) => fromRow<S>(r));
}

/** The states of the newest drills that succeeded (the forecast reads the restore rates they measured). */
export function succeededDrillStates<S>(catalog: Catalog, limit = 10): Array<{ id: string; state: S }> {
  const rows = catalog
    .stmt("SELECT id, state_json FROM runs WHERE drill = 1 AND status = 'succeeded' ORDER BY started_at DESC LIMIT ?")
    .all(limit) as Array<{ id: string; state_json: string }>;
  return rows.map((r) => ({ id: r.id, state: JSON.parse(r.state_json) as S }));
}

/** The states of the newest runs, any status (the forecast reads how long their finished steps took). */
export function recentRunStates<S>(catalog: Catalog, limit = 30): Array<{ id: string; state: S }> {
  const rows = catalog.stmt('SELECT id, state_json FROM runs ORDER BY started_at DESC LIMIT ?').all(limit) as Array<{
    id: string;
    state_json: string;
  }>;
  return rows.map((r) => ({ id: r.id, state: JSON.parse(r.state_json) as S }));
}

// ---- the journal ---------------------------------------------------------------------------

/** One journal row; `data` is the event's JSON text as written. */
export interface JournalRow {
  seq: number;
  at: string;
  actor: string;
  type: string;
  data: string;
  prevHash: string;
  hash: string;
}

/** Append one journal row (the hash chain is the runner's journal module's). */
export function insertJournalRow(catalog: Catalog, runId: string, e: JournalRow): void {
  catalog
    .stmt(
      'INSERT INTO journal (run_id, seq, at, actor, type, data_json, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    )
    .run(runId, e.seq, e.at, e.actor, e.type, e.data, e.prevHash, e.hash);
}

/** A run's journal rows in order. */
export function journalRows(catalog: Catalog, runId: string): JournalRow[] {
  return catalog
    .stmt(
      'SELECT seq, at, actor, type, data_json AS data, prev_hash AS prevHash, hash FROM journal WHERE run_id = ? ORDER BY seq',
    )
    .all(runId) as JournalRow[];
}

// ---- what runs read of sets and verifications ----------------------------------------------

/** Whether the catalog has any set of this system. */
export function systemHasSets(catalog: Catalog, system: string): boolean {
  return catalog.stmt('SELECT 1 FROM sets WHERE system = ? LIMIT 1').get(system) !== undefined;
}

/** The system and time of a set by its key, or null. */
export function setSystemAndTime(catalog: Catalog, key: string): { system: string; createdAt: string } | null {
  return (
    (catalog.stmt('SELECT system, created_at AS createdAt FROM sets WHERE key = ?').get(key) as
      { system: string; createdAt: string } | undefined) ?? null
  );
}

export interface SetSize {
  key: string;
  bytes: number;
}

/** The newest set of a system and kind, made before `before` when given. */
export function newestSetSize(catalog: Catalog, system: string, kind: string, before: string | null): SetSize | null {
  return (
    (catalog
      .stmt(
        `SELECT key, bytes FROM sets WHERE system = ? AND kind = ? AND (? IS NULL OR created_at < ?) ORDER BY created_at DESC LIMIT 1`,
      )
      .get(system, kind, before, before) as SetSize | undefined) ?? null
  );
}

/** A set's size by its key or set id. */
export function setSize(catalog: Catalog, keyOrId: string): SetSize | null {
  return (
    (catalog.stmt('SELECT key, bytes FROM sets WHERE key = ? OR set_id = ?').get(keyOrId, keyOrId) as
      SetSize | undefined) ?? null
  );
}

/**
 * Read speeds (bytes per second) measured by the newest verifications that read something: on the media holding
 * `setKey`, or on any medium when it is null.
 */
export function verificationReadSpeeds(catalog: Catalog, setKey: string | null, limit = 50): number[] {
  const rows =
    setKey === null
      ? catalog
          .stmt(
            'SELECT bytes_per_sec AS r FROM verifications WHERE bytes_per_sec > 0 AND bytes > 0 ORDER BY started_at DESC LIMIT ?',
          )
          .all(limit)
      : catalog
          .stmt(
            `SELECT v.bytes_per_sec AS r FROM verifications v JOIN presence p ON p.medium_id = v.medium_id AND p.set_key = ? WHERE v.bytes_per_sec > 0 AND v.bytes > 0 ORDER BY v.started_at DESC LIMIT ?`,
          )
          .all(setKey, limit);
  return (rows as Array<{ r: number }>).map((x) => x.r);
}

/** Several writes of one run change (its state and its journal events) as one SQLite transaction. */
export function inRunTransaction<T>(catalog: Catalog, fn: () => T): T {
  return catalog.inTransaction(fn);
}
