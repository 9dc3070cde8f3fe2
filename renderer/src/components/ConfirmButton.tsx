import { useEffect, useRef, useState } from 'react';

/**
 * A destructive click asks first, next to the button: what it means, then "yes" or "keep". Focus moves to the question
 * and back to the button when it is kept, so a keyboard user never loses their place.
 */
export function ConfirmButton({
  label,
  accessibleName,
  question,
  confirmLabel,
  onConfirm,
  testId,
  disabled,
}: {
  label: string;
  /** Unique name for assistive technology ("Remove age:laptop"), when `label` alone repeats on the screen. */
  accessibleName?: string;
  question: React.ReactNode;
  confirmLabel: string;
  onConfirm: () => Promise<void> | void;
  testId?: string;
  disabled?: boolean;
}): React.JSX.Element {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) box.current?.focus();
  }, [asking]);
  if (!asking) {
    return (
      <button
        ref={button}
        type="button"
        className="danger"
        aria-label={accessibleName}
        data-testid={testId}
        disabled={disabled}
        onClick={() => setAsking(true)}
      >
        {label}
      </button>
    );
  }
  return (
    <div
      ref={box}
      className="confirm"
      role="group"
      aria-label={`Confirm: ${accessibleName ?? label}`}
      tabIndex={-1}
      data-testid={testId ? `${testId}-confirm` : undefined}
    >
      <p>{question}</p>
      <div className="actions">
        <button
          type="button"
          className="danger"
          disabled={busy}
          data-testid={testId ? `${testId}-yes` : undefined}
          onClick={() => {
            setBusy(true);
            void Promise.resolve(onConfirm()).finally(() => {
              setBusy(false);
              setAsking(false);
            });
          }}
        >
          {confirmLabel}
        </button>
        <button
          type="button"
          className="secondary"
          onClick={() => {
            setAsking(false);
            setTimeout(() => button.current?.focus(), 0);
          }}
        >
          Keep it
        </button>
      </div>
    </div>
  );
}
