import { useId, useRef, useState } from 'react';
import { useFocusOnChange } from '../lib/use-focus';

/**
 * A destructive or heavy action behind a confirmation said in words: the first click opens a short panel saying what
 * will happen (and what will not), focused, with the real button and a way back. Nothing happens on the first click.
 */
export function ConfirmButton(p: {
  /** The button's text (unique per screen: "Remove usb-1", not "Remove"). */
  label: string;
  /** The unique name for assistive technology ("Unpin servers-2026") where a short `label` repeats on the screen. */
  accessibleName?: string;
  /** What will happen, and what will not. */
  message: React.ReactNode;
  /** The confirming button's text ("Yes, remove usb-1 from the catalog"). */
  confirmLabel: string;
  onConfirm: () => void | Promise<void>;
  danger?: boolean;
  disabled?: boolean;
  /** Why the button is disabled (shown beside it). */
  disabledWhy?: string;
  testId?: string;
}): React.JSX.Element {
  const [open, setOpen] = useState(false);
  const id = useId();
  const heading = useFocusOnChange<HTMLParagraphElement>(open ? id : null);
  const why = p.disabled && p.disabledWhy ? `${id}-why` : undefined;
  const name = p.accessibleName ?? p.label;
  const button = useRef<HTMLButtonElement>(null);
  return (
    <span className="confirm">
      <button
        ref={button}
        type="button"
        className={p.danger ? 'danger' : 'secondary'}
        aria-label={p.accessibleName}
        onClick={() => setOpen(true)}
        disabled={p.disabled || open}
        aria-describedby={why}
        aria-expanded={open}
        data-testid={p.testId}
      >
        {p.label}
      </button>
      {why && (
        <span id={why} className="muted small">
          {' '}
          {p.disabledWhy}
        </span>
      )}
      {open && (
        <span
          className="confirm-panel"
          role="group"
          aria-label={`Confirm: ${name}`}
          data-testid={p.testId ? `${p.testId}-confirm` : undefined}
        >
          <p ref={heading} tabIndex={-1} className="confirm-text">
            {p.message}
          </p>
          <span className="row">
            <button
              type="button"
              className={p.danger ? 'danger' : 'primary'}
              data-testid={p.testId ? `${p.testId}-yes` : undefined}
              onClick={() => {
                setOpen(false);
                void p.onConfirm();
              }}
            >
              {p.confirmLabel}
            </button>
            <button
              type="button"
              className="secondary"
              aria-label={`Cancel: ${name}`}
              onClick={() => {
                setOpen(false);
                // Back to the button (enabled again once the panel is gone), so a keyboard user keeps their place.
                requestAnimationFrame(() => button.current?.focus());
              }}
            >
              Cancel
            </button>
          </span>
        </span>
      )}
    </span>
  );
}
