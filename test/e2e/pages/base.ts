import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import type { ScreenId } from '../../../shared/domain/screens';

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  targets: string[];
}

/** What every page object shares: navigation, and axe on the state the page is in now. */
export class BasePage {
  constructor(readonly page: Page) {}

  async goto(screen: ScreenId): Promise<void> {
    await this.page.getByTestId(`nav-${screen}`).click();
    await this.page.getByTestId(`screen-${screen}`).waitFor();
  }

  /** Serious and critical axe violations of the page as it is (a dialog open, an error shown, a job running). */
  async axe(state: string): Promise<string[]> {
    // Injected through the DevTools protocol (the page's CSP forbids inline scripts, rightly).
    await this.page.evaluate(AXE_SOURCE);
    const violations = await this.page.evaluate(async () => {
      const g = globalThis as unknown as { document: unknown; axe: { run: (ctx: unknown, o: object) => Promise<{ violations: Array<{ id: string; impact: string | null; nodes: Array<{ target: unknown; html?: string }> }> }> } };
      const r = await g.axe.run(g.document, { resultTypes: ['violations'] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.slice(0, 3).map((n) => `${JSON.stringify(n.target)} ${String(n.html ?? '').slice(0, 160)}`) }));
    });
    return (violations as AxeViolation[]).filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${state}: ${v.id} (${v.impact}) at ${v.targets.join(', ')}`);
  }
}
