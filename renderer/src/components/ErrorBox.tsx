import type { WireError } from '../../../shared/errors';

/** An error in the operator's words: what happened, and what to do next when known. */
export function ErrorBox({ error }: { error: WireError }): React.JSX.Element {
  return (
    <div className="error" role="alert" data-testid="error" data-code={error.code}>
      <strong>{error.message}</strong>
      {error.hint && <p>{error.hint}</p>}
    </div>
  );
}
