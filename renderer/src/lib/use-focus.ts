import { useEffect, useRef } from 'react';

/**
 * Focus follows the operator's action: after a click that brings new content (a result, a dialog, the next step), the
 * content's heading takes the focus, so a keyboard or screen-reader user lands on it instead of on the page body.
 *
 *   const heading = useFocusOnChange<HTMLHeadingElement>(result?.id);
 *   <h2 ref={heading} tabIndex={-1}>Result</h2>
 *
 * The element is focused each time `key` changes to a value other than null/undefined (also when it mounts with one:
 * a dialog that opens). Keep `key` null while nothing new is shown, so opening a screen leaves the focus alone.
 * Give the element tabIndex={-1}.
 */
export function useFocusOnChange<T extends HTMLElement>(key: unknown): React.RefObject<T | null> {
  const ref = useRef<T | null>(null);
  useEffect(() => {
    if (key === null || key === undefined) return;
    ref.current?.focus();
  }, [key]);
  return ref;
}

/** Focus an element by id after React has drawn it (for content that appears in another component). */
export function focusSoon(id: string): void {
  requestAnimationFrame(() => document.getElementById(id)?.focus());
}
