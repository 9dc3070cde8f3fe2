import { readFileSync } from 'node:fs';
import type { Locator, Page } from 'playwright-core';
import type { ScreenId } from '../../../shared/domain/screens';

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** What every screen's page object shares: navigation, the focused element, and axe on the current state. */
export class BasePage {
  constructor(readonly page: Page) {}

  async open(screen: ScreenId): Promise<void> {
    await this.page.getByTestId(`nav-${screen}`).click();
    await this.page.getByTestId(`screen-${screen}`).waitFor();
  }

  /** Navigate to a screen (U2's page objects call it go: their own open() takes screen-specific arguments). */
  async go(screen: ScreenId): Promise<void> {
    await this.page.getByTestId(`nav-${screen}`).click();
    await this.page.getByTestId(`screen-${screen}`).waitFor();
  }

  /** The data-testid (or tag and text) of the focused element: focus must follow each action, never drop to the body. */
  async focused(): Promise<string> {
    return this.page.evaluate(() => {
      type El = { getAttribute(n: string): string | null; tagName: string; textContent: string | null };
      const doc = (globalThis as unknown as { document: { activeElement: El | null; body: El } }).document;
      const el = doc.activeElement;
      if (!el || el === doc.body) return 'body';
      return (
        el.getAttribute('data-testid') ?? `${el.tagName.toLowerCase()}:${(el.textContent ?? '').trim().slice(0, 60)}`
      );
    });
  }

  testId(id: string): Locator {
    return this.page.getByTestId(id);
  }

  /** The text of the element that has the focus (focus must follow an action to its new content). */
  async focusedText(): Promise<string> {
    // Runs in the page: the DOM's types are not in this (Node) project's lib, hence the narrow shape.
    return this.page.evaluate(() => {
      const g = globalThis as unknown as { document: { activeElement: { innerText?: string } | null } };
      return g.document.activeElement?.innerText ?? '';
    });
  }

  /** Serious or critical axe-core violations on the page as it is now ('state' names it in the findings). */
  async axe(state: string): Promise<string[]> {
    // Injected through the DevTools protocol (the page's CSP forbids inline scripts, rightly).
    await this.page.evaluate(AXE_SOURCE);
    const violations = await this.page.evaluate(async () => {
      const g = globalThis as unknown as {
        document: unknown;
        axe: {
          run: (
            ctx: unknown,
            o: object,
          ) => Promise<{
            violations: Array<{ id: string; impact: string | null; nodes: Array<{ target: unknown; html?: string }> }>;
          }>;
        };
      };
      const r = await g.axe.run(g.document, { resultTypes: ['violations'] });
      return r.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        targets: v.nodes.slice(0, 3).map((n) => `${JSON.stringify(n.target)} ${String(n.html ?? '').slice(0, 160)}`),
      }));
    });
    return violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${state}: ${v.id} (${v.impact}) at ${v.targets.join(', ')}`);
  }
}
