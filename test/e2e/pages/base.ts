import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';

/** What every page object shares: the page, the screen it is on, axe, and where the focus is. */
export class BasePage {
  constructor(readonly page: Page) {}

  async go(screen: string): Promise<void> {
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
      return el.getAttribute('data-testid') ?? `${el.tagName.toLowerCase()}:${(el.textContent ?? '').trim().slice(0, 60)}`;
    });
  }

  /** axe-core on the page as it stands: serious and critical violations, in words (empty when none). */
  async axe(state: string): Promise<string[]> {
    const source = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
    await this.page.evaluate(source);
    const violations = await this.page.evaluate(async () => {
      const g = globalThis as unknown as {
        document: unknown;
        axe: { run: (ctx: unknown, o: object) => Promise<{ violations: Array<{ id: string; impact: string | null; nodes: Array<{ target: unknown; html?: string }> }> }> };
      };
      const r = await g.axe.run(g.document, { resultTypes: ['violations'] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, where: v.nodes.slice(0, 2).map((n) => `${JSON.stringify(n.target)} ${String(n.html ?? '').slice(0, 120)}`) }));
    });
    return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${state}: ${v.id} (${v.impact}) at ${v.where.join(', ')}`);
  }
}
