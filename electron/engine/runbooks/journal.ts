import { createHash } from 'node:crypto';
import type { Catalog } from '../catalog/catalog';
import { insertJournalRow, journalRows } from '../catalog/runbook-store';
import { canonicalJson } from '../format/canonical-json';

/**
 * The run journal: append-only events, each carrying the hash of the one before it, so an
 * edited, deleted or reordered row breaks the chain. The run row keeps the head (count and
 * hash), written in the same transaction, so a row cut from the end shows too.
 */
export const GENESIS = '0'.repeat(64);

export interface JournalEvent {
  seq: number;
  at: string;
  actor: string;
  type: string;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export function eventHash(runId: string, e: Omit<JournalEvent, 'hash'>): string {
  const body = canonicalJson({
    run_id: runId,
    seq: e.seq,
    at: e.at,
    actor: e.actor,
    type: e.type,
    data: e.data,
    prev_hash: e.prevHash,
  });
  return createHash('sha256').update(body).digest('hex');
}

/** A digest of an output or a secret-free value, for evidence without copying it whole. */
export function digestOf(value: unknown): string {
  return createHash('sha256')
    .update(canonicalJson(value ?? null))
    .digest('hex');
}

export interface JournalHead {
  seq: number;
  hash: string;
}

/** Append one event; call inside the transaction that also records the state it describes. */
export function appendEvent(
  catalog: Catalog,
  runId: string,
  head: JournalHead,
  actor: string,
  type: string,
  data: Record<string, unknown>,
  at = new Date(),
): JournalHead {
  const e = { seq: head.seq + 1, at: at.toISOString(), actor, type, data, prevHash: head.hash };
  const hash = eventHash(runId, e);
  insertJournalRow(catalog, runId, { ...e, data: JSON.stringify(data), hash });
  return { seq: e.seq, hash };
}

export function readJournal(catalog: Catalog, runId: string): JournalEvent[] {
  const rows = journalRows(catalog, runId);
  return rows.map((r) => {
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(r.data) as Record<string, unknown>;
    } catch {
      data = { unparseable: r.data };
    }
    return { ...r, data };
  });
}

export interface JournalCheck {
  ok: boolean;
  events: number;
  headHash: string;
  problems: string[];
}

/** Recompute the chain; report every break in words an auditor can act on. */
export function verifyJournal(catalog: Catalog, runId: string, recordedHead: JournalHead | null): JournalCheck {
  const events = readJournal(catalog, runId);
  const problems: string[] = [];
  let prev = GENESIS;
  let expectedSeq = 1;
  for (const e of events) {
    if (e.seq !== expectedSeq)
      problems.push(
        `event ${expectedSeq}${e.seq > expectedSeq ? `${e.seq - 1 > expectedSeq ? `–${e.seq - 1}` : ''} is missing (deleted)` : ' is out of order'}`,
      );
    if (e.prevHash !== prev)
      problems.push(
        `event ${e.seq} (${e.type}) does not follow the event before it (a row was deleted, inserted or reordered)`,
      );
    const recomputed = eventHash(runId, e);
    if (recomputed !== e.hash)
      problems.push(`event ${e.seq} (${e.type}) was edited: its content does not match its hash`);
    prev = e.hash;
    expectedSeq = e.seq + 1;
  }
  const last = events[events.length - 1];
  if (recordedHead) {
    if (!last || last.seq < recordedHead.seq)
      problems.push(
        `the journal ends at event ${last?.seq ?? 0} but the run recorded ${recordedHead.seq} events (events were deleted from the end)`,
      );
    else if (last.seq === recordedHead.seq && last.hash !== recordedHead.hash)
      problems.push('the last event is not the one the run recorded as its head');
    else if (last.seq > recordedHead.seq)
      problems.push(
        `the journal has ${last.seq - recordedHead.seq} event(s) after the head the run recorded (rows were added)`,
      );
  }
  return { ok: problems.length === 0, events: events.length, headHash: last?.hash ?? GENESIS, problems };
}
