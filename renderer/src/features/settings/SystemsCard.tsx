import { useState } from 'react';
import type { SettingsView } from '../../../../shared/domain/settings';
import type { WireError } from '../../../../shared/errors';
import type { Result } from '../../../../shared/result';
import { ErrorBox } from '../../components/ErrorBox';
import { getApi } from '../../lib/api';
import { useFocusOnChange } from '../../lib/use-focus';
import { useResult } from '../../lib/use-result';

type Tier = 'critical' | 'important' | 'standard';
type Draft = { tier: Tier | ''; validations: Array<{ sql: string; expect: string }> };

/** Per system: its tier (which objectives apply) and the validation queries a test restore or a drill runs. */
export function SystemsCard({
  view,
  onSaved,
}: {
  view: SettingsView;
  onSaved: (r: Result<SettingsView>) => void;
}): React.JSX.Element {
  const api = getApi();
  const [known] = useResult(() => api.getRecoverability({}));
  const names = [
    ...new Set([...(known.state === 'ready' ? known.value.map((r) => r.system) : []), ...Object.keys(view.systems)]),
  ].sort();
  const [system, setSystem] = useState('');
  const [draft, setDraft] = useState<Draft>({ tier: '', validations: [] });
  const [error, setError] = useState<WireError | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const status = useFocusOnChange<HTMLParagraphElement>(saved);
  // State adjusted while rendering (react.dev, "adjusting some state when a prop changes"), not in effects.
  // The first known system is picked once; it stays picked when more names arrive later.
  if (!system && names.length) setSystem(names[0]!);
  // The draft is reset only when another system is picked: a save reloads `view` and must not reset what was typed.
  const [draftOf, setDraftOf] = useState<string | null>(null);
  if (draftOf !== system) {
    setDraftOf(system);
    const s = view.systems[system];
    setDraft({ tier: s?.tier ?? '', validations: s?.validations ?? [] });
    setSaved(null);
    setError(null);
  }
  if (names.length === 0) {
    return (
      <article className="card wide" aria-labelledby="systems-settings-title">
        <h2 id="systems-settings-title">Systems</h2>
        <p className="muted">No system is known yet: scan a medium first.</p>
      </article>
    );
  }
  const setValidation = (i: number, field: 'sql' | 'expect', value: string): void =>
    setDraft({ ...draft, validations: draft.validations.map((v, j) => (j === i ? { ...v, [field]: value } : v)) });
  const save = async (): Promise<void> => {
    setError(null);
    setSaved(null);
    const r = await api.saveSystemSettings({ system, tier: draft.tier || null, validations: draft.validations });
    if (!r.ok) return setError(r.error);
    onSaved(r);
    setSaved(
      `Saved: ${system} is ${draft.tier ? `tier ${draft.tier}` : 'without a tier'}, with ${draft.validations.length} validation quer${draft.validations.length === 1 ? 'y' : 'ies'}.`,
    );
  };
  return (
    <article className="card wide" aria-labelledby="systems-settings-title" data-testid="systems-settings">
      <h2 id="systems-settings-title">Systems: tier and validation queries</h2>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <div className="row">
          <label>
            System
            <select value={system} onChange={(e) => setSystem(e.target.value)} data-testid="system-pick">
              {names.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <label>
            Tier (its objectives apply everywhere: Overview, drills, reports)
            <select
              value={draft.tier}
              onChange={(e) => setDraft({ ...draft, tier: e.target.value as Draft['tier'] })}
              data-testid="system-tier"
            >
              <option value="">none (the tier its sets were made with, else the runbook’s)</option>
              {(['critical', 'important', 'standard'] as const).map((t) => (
                <option key={t} value={t}>
                  {t} (RTO {view.tiers[t].rtoMinutes} min, RPO {view.tiers[t].rpoMinutes} min)
                </option>
              ))}
            </select>
          </label>
        </div>
        <fieldset>
          <legend>
            Validation queries after a test restore (one value each, compared: “&gt; 0”, “= 42”, or an exact text)
          </legend>
          {draft.validations.length === 0 && (
            <p className="muted">None: a restored database must then simply hold tables.</p>
          )}
          {draft.validations.map((v, i) => (
            <div className="row" key={i} data-testid="validation-row">
              <label className="grow">
                Query {i + 1}
                <input
                  type="text"
                  required
                  value={v.sql}
                  onChange={(e) => setValidation(i, 'sql', e.target.value)}
                  placeholder="SELECT count(*) FROM orders"
                />
              </label>
              <label>
                Expect (query {i + 1})
                <input
                  type="text"
                  required
                  value={v.expect}
                  onChange={(e) => setValidation(i, 'expect', e.target.value)}
                  placeholder="> 0"
                />
              </label>
              <button
                type="button"
                className="secondary"
                onClick={() => setDraft({ ...draft, validations: draft.validations.filter((_, j) => j !== i) })}
              >
                Remove query {i + 1}
              </button>
            </div>
          ))}
          <button
            type="button"
            className="secondary"
            data-testid="validation-add"
            onClick={() => setDraft({ ...draft, validations: [...draft.validations, { sql: '', expect: '' }] })}
          >
            Add a validation query
          </button>
        </fieldset>
        <div className="row">
          <button type="submit" className="primary" data-testid="system-save">
            Save {system}
          </button>
        </div>
        {error && <ErrorBox error={error} />}
        {saved && (
          <p ref={status} tabIndex={-1} role="status" className="hint" data-testid="system-saved">
            {saved}
          </p>
        )}
      </form>
    </article>
  );
}
