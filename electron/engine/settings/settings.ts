import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AzureMediumSettings, S3MediumSettings } from '../../../shared/domain/settings';
import { S3_CREDENTIAL_REF, S3_LOCATION, S3_LOCATION_WHAT } from '../../../shared/domain/s3-location';
import {
  AZURE_ACCOUNT,
  AZURE_CREDENTIAL_REF,
  AZURE_LOCATION,
  AZURE_LOCATION_WHAT,
} from '../../../shared/domain/azure-location';
import { LifeboatError, mapError } from '../errors';
import { writeFileAtomicSync } from '../fs/atomic-write';
import { field as at, Invalid, JSON_LIMITS, parseBoundedJson, plainObject as obj, type Obj } from '../format/check';

export const TIERS = ['critical', 'important', 'standard'] as const;
export type Tier = (typeof TIERS)[number];

/** Objectives per tier, from the seeds: critical 1h/5m, important 4h/1h, standard 24h/4h. */
export interface TierObjectives {
  rtoMinutes: number;
  rpoMinutes: number;
}

/**
 * A validation query run after a test restore: one value is read and compared. `expect` is a
 * comparison (`> 0`, `>= 1000`, `= 42`, `!= 0`) or an exact text.
 */
export interface Validation {
  sql: string;
  expect: string;
}

/**
 * The ransomware indicator's thresholds (docs/trends.md): a set is suspicious when, against the
 * median of the previous sets of its series (same kind, full or incremental):
 *  - its incompressible share is at least `incompressibleShare` and rose by `incompressibleJump` or more;
 *  - or `stoppedShare` of its plaintext (and `sizeMinBytes`) stopped compressing beyond what it grew;
 *  - its stored size is `sizeFactor` times as large or more, and at least `sizeMinBytes` larger;
 *  - (files) the share of its files that changed is at least `changedShare` and twice the usual one,
 *    in a tree of `changedMinFiles` files or more.
 * `history` is how many earlier sets (not suspicious ones) make the baseline. `accepted` lists set
 * ids the operator has checked and accepts as the system's new normal: never suspicious, and the
 * sets after one are judged against it and what follows it only.
 */
export interface IndicatorThresholds {
  incompressibleShare: number;
  incompressibleJump: number;
  stoppedShare: number;
  sizeFactor: number;
  sizeMinBytes: number;
  changedShare: number;
  changedMinFiles: number;
  history: number;
  accepted?: string[];
}

export const DEFAULT_INDICATOR: IndicatorThresholds = {
  incompressibleShare: 0.5,
  incompressibleJump: 0.3,
  stoppedShare: 0.2,
  sizeFactor: 2,
  sizeMinBytes: 1024 * 1024,
  changedShare: 0.5,
  changedMinFiles: 10,
  history: 10,
};

export interface SystemSettings {
  tier?: Tier;
  validations: Validation[];
  /** Overrides of the indicator's thresholds for this system (the rest are DEFAULT_INDICATOR's). */
  indicator?: Partial<IndicatorThresholds>;
}

/** A system's indicator thresholds: its overrides on the defaults. */
export function indicatorThresholds(settings: Settings, system: string): IndicatorThresholds {
  return { ...DEFAULT_INDICATOR, ...settings.systems[system]?.indicator };
}

export interface Settings {
  version: 1;
  operatorName: string;
  /** Directory holding pg_dump/pg_restore/...; empty means PATH and the usual install dirs. */
  pgBinDir: string;
  tiers: Record<Tier, TierObjectives>;
  /** Per system: tier and validation queries for restore tests and drills. */
  systems: Record<string, SystemSettings>;
  /** Saved PostgreSQL targets: the URL (never a password) of each `pg:<id>` keychain entry. */
  pgTargets: Record<string, { url: string; label: string }>;
  /** The access key id of each `s3:<id>` keychain entry (the entry holds the secret access key). */
  s3Keys: Record<string, { accessKeyId: string; label: string }>;
  /** How each s3:// medium is reached: endpoint, region, keychain reference. */
  s3Media: S3MediumSettings[];
  /** The storage account of each `azure:<id>` keychain entry (empty when the entry is a connection string). */
  azureKeys: Record<string, { account: string; label: string }>;
  /** How each azure:// medium is reached: endpoint, keychain reference. */
  azureMedia: AzureMediumSettings[];
}

const DEFAULT_TIERS: Record<Tier, TierObjectives> = {
  critical: { rtoMinutes: 60, rpoMinutes: 5 },
  important: { rtoMinutes: 240, rpoMinutes: 60 },
  standard: { rtoMinutes: 1440, rpoMinutes: 240 },
};

// Checked by hand rather than with a schema library: every command reads this file at start,
// and loading one cost more than the rest of a catalog rescan's start-up. Fields this version
// does not know are dropped (a newer Lifeboat's settings still load); wrong types are errors.
function str(v: unknown, path: string, rule: { re?: RegExp; what?: string; max?: number } = {}): string {
  if (typeof v !== 'string') throw new Invalid(path, 'expected a string');
  if (rule.max !== undefined && v.length > rule.max) throw new Invalid(path, `at most ${rule.max} characters`);
  if (rule.re && !rule.re.test(v)) throw new Invalid(path, `expected ${rule.what ?? rule.re.source}`);
  return v;
}

/** `o[key]` checked by `check`, or `fallback` when absent. */
function opt<T>(o: Obj, key: string, path: string, fallback: T, check: (v: unknown, path: string) => T): T {
  return o[key] === undefined ? fallback : check(o[key], at(path, key));
}

function list<T>(v: unknown, path: string, item: (v: unknown, path: string) => T): T[] {
  if (!Array.isArray(v)) throw new Invalid(path, 'expected a list');
  return v.map((x, i) => item(x, at(path, String(i))));
}

function recordOf<T>(v: unknown, path: string, item: (v: unknown, path: string) => T): Record<string, T> {
  const o = obj(v, path);
  const out: Record<string, T> = {};
  for (const [k, x] of Object.entries(o)) out[k] = item(x, at(path, k));
  return out;
}

function minutes(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new Invalid(path, 'expected a number > 0');
  return v;
}

function objectives(v: unknown, path: string): TierObjectives {
  const o = obj(v, path);
  return {
    rtoMinutes: minutes(o.rtoMinutes, at(path, 'rtoMinutes')),
    rpoMinutes: minutes(o.rpoMinutes, at(path, 'rpoMinutes')),
  };
}

/** Shares are 0..1, factors above 1, counts whole numbers; unknown keys are dropped. */
function indicator(v: unknown, path: string): Partial<IndicatorThresholds> {
  const o = obj(v, path);
  const out: Partial<IndicatorThresholds> = {};
  // A jump of 0, a factor of 1 or a changed share of 0 would flag about every other set: refused
  // (`above` is an exclusive minimum).
  type Numeric = Exclude<keyof IndicatorThresholds, 'accepted'>;
  const rules: Record<Numeric, { min: number; max: number; int: boolean; above?: boolean; what: string }> = {
    incompressibleShare: { min: 0, max: 1, int: false, what: 'a share from 0 to 1' },
    incompressibleJump: { min: 0, max: 1, int: false, above: true, what: 'a share above 0, up to 1' },
    stoppedShare: { min: 0, max: 1, int: false, above: true, what: 'a share above 0, up to 1' },
    sizeFactor: { min: 1, max: 1e6, int: false, above: true, what: 'a factor above 1' },
    sizeMinBytes: { min: 0, max: Number.MAX_SAFE_INTEGER, int: true, what: 'a whole number of bytes' },
    changedShare: { min: 0, max: 1, int: false, above: true, what: 'a share above 0, up to 1' },
    changedMinFiles: { min: 0, max: Number.MAX_SAFE_INTEGER, int: true, what: 'a whole number of files' },
    history: { min: 1, max: 1000, int: true, what: 'a whole number of sets from 1 to 1000' },
  };
  for (const [k, r] of Object.entries(rules) as Array<[Numeric, (typeof rules)['history']]>) {
    const x = o[k];
    if (x === undefined) continue;
    if (
      typeof x !== 'number' ||
      !Number.isFinite(x) ||
      x < r.min ||
      (r.above && x === r.min) ||
      x > r.max ||
      (r.int && !Number.isInteger(x))
    )
      throw new Invalid(at(path, k), `expected ${r.what}`);
    out[k] = x;
  }
  if (o.accepted !== undefined)
    out.accepted = list(o.accepted, at(path, 'accepted'), (v, p) => str(v, p, { max: 200, what: 'a set id' }));
  return out;
}

const nonEmpty = { re: /./s, what: 'a non-empty text' };

function system(v: unknown, path: string): SystemSettings {
  const o = obj(v, path);
  const out: SystemSettings = {
    validations: opt(o, 'validations', path, [], (l, p) =>
      list(l, p, (x, q) => {
        const val = obj(x, q);
        return { sql: str(val.sql, at(q, 'sql'), nonEmpty), expect: str(val.expect, at(q, 'expect'), nonEmpty) };
      }),
    ),
  };
  if (o.indicator !== undefined) out.indicator = indicator(o.indicator, at(path, 'indicator'));
  if (o.tier !== undefined) {
    const tier = str(o.tier, at(path, 'tier'));
    if (!(TIERS as readonly string[]).includes(tier))
      throw new Invalid(at(path, 'tier'), `expected one of ${TIERS.join(', ')}`);
    out.tier = tier as Tier;
  }
  return out;
}

function s3Medium(v: unknown, path: string): S3MediumSettings {
  const o = obj(v, path);
  return {
    location: str(o.location, at(path, 'location'), { re: S3_LOCATION, what: S3_LOCATION_WHAT }),
    endpoint: opt(o, 'endpoint', path, '', (x, p) => str(x, p, { max: 2000 })),
    region: opt(o, 'region', path, '', (x, p) => str(x, p, { max: 100 })),
    credential: opt(o, 'credential', path, '', (x, p) =>
      str(x, p, { re: S3_CREDENTIAL_REF, what: 'an s3:<name> keychain reference' }),
    ),
  };
}

function azureMedium(v: unknown, path: string): AzureMediumSettings {
  const o = obj(v, path);
  return {
    location: str(o.location, at(path, 'location'), { re: AZURE_LOCATION, what: AZURE_LOCATION_WHAT }),
    endpoint: opt(o, 'endpoint', path, '', (x, p) => str(x, p, { max: 2000 })),
    credential: opt(o, 'credential', path, '', (x, p) =>
      str(x, p, { re: AZURE_CREDENTIAL_REF, what: 'an azure:<name> keychain reference' }),
    ),
  };
}

/** Settings from parsed JSON, with defaults for what is absent; throws `Invalid` naming the field. */
export function parseSettings(json: unknown): Settings {
  const o = obj(json, '');
  if (o.version !== undefined && o.version !== 1) throw new Invalid('version', 'expected 1');
  return {
    version: 1,
    operatorName: opt(o, 'operatorName', '', '', str),
    pgBinDir: opt(o, 'pgBinDir', '', '', str),
    tiers: opt(o, 'tiers', '', { ...DEFAULT_TIERS }, (v, p) => {
      const t = obj(v, p);
      return {
        critical: objectives(t.critical, at(p, 'critical')),
        important: objectives(t.important, at(p, 'important')),
        standard: objectives(t.standard, at(p, 'standard')),
      };
    }),
    systems: opt(o, 'systems', '', {}, (v, p) => recordOf(v, p, system)),
    pgTargets: opt(o, 'pgTargets', '', {}, (v, p) =>
      recordOf(v, p, (x, q) => {
        const t = obj(x, q);
        return { url: str(t.url, at(q, 'url')), label: opt(t, 'label', q, '', str) };
      }),
    ),
    s3Keys: opt(o, 's3Keys', '', {}, (v, p) =>
      recordOf(v, p, (x, q) => {
        const k = obj(x, q);
        return { accessKeyId: str(k.accessKeyId, at(q, 'accessKeyId')), label: opt(k, 'label', q, '', str) };
      }),
    ),
    s3Media: opt(o, 's3Media', '', [], (v, p) => list(v, p, s3Medium)),
    azureKeys: opt(o, 'azureKeys', '', {}, (v, p) =>
      recordOf(v, p, (x, q) => {
        const k = obj(x, q);
        return {
          account: opt(k, 'account', q, '', (y, r) =>
            str(y, r, { re: new RegExp(`${AZURE_ACCOUNT.source}|^$`), what: 'a storage account name' }),
          ),
          label: opt(k, 'label', q, '', str),
        };
      }),
    ),
    azureMedia: opt(o, 'azureMedia', '', [], (v, p) => list(v, p, azureMedium)),
  };
}

/** The settings of a fresh data dir. */
export function defaultSettings(): Settings {
  return parseSettings({});
}

export function loadSettings(path: string): Settings {
  let raw: Buffer;
  try {
    // Bounded (JSON_LIMITS): checked on the size before reading, on the nesting before parsing.
    const size = statSync(path).size;
    if (size > JSON_LIMITS.settingsBytes) {
      throw new LifeboatError(
        'FORMAT_INVALID',
        `The settings file is ${size} bytes, over the ${JSON_LIMITS.settingsBytes >> 20} MiB a settings file may have: ${path}`,
        {
          hint: 'Fix or delete it; defaults are used when it is absent.',
        },
      );
    }
    raw = readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return defaultSettings();
    throw e;
  }
  let json: unknown;
  try {
    json = parseBoundedJson(raw, 'the settings file', {
      maxBytes: JSON_LIMITS.settingsBytes,
      maxDepth: JSON_LIMITS.maxDepth,
    });
  } catch (e) {
    throw new LifeboatError('FORMAT_INVALID', `${mapError(e).message.replace(/\.$/, '')}: ${path}`, {
      hint: 'Fix or delete it; defaults are used when it is absent.',
    });
  }
  try {
    return parseSettings(json);
  } catch (e) {
    if (!(e instanceof Invalid)) throw e;
    throw new LifeboatError('FORMAT_INVALID', `The settings file is invalid at ${e.at || '(root)'}: ${e.message}`, {
      hint: `Fix or delete ${path}.`,
    });
  }
}

/** Written atomically: a crash leaves the old file or the new one, never half of one. */
export function saveSettings(path: string, settings: Settings): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomicSync(path, `${JSON.stringify(parseSettings(settings), null, 2)}\n`);
}
