import type { Locator } from 'playwright-core';
import { BasePage } from './base';

/** The Overview: "are we recoverable?" per system. */
export class OverviewPage extends BasePage {
  async show(): Promise<void> {
    await this.open('overview');
    await this.testId('systems').waitFor();
  }

  system(name: string): Locator {
    return this.testId(`system-${name}`);
  }

  async state(
    name: string,
  ): Promise<{ rpo: string | null; rto: string | null; next: string | null; nextText: string; lastDrill: string }> {
    const card = this.system(name);
    await card.waitFor();
    return {
      rpo: await card.getAttribute('data-rpo'),
      rto: await card.getAttribute('data-rto'),
      next: await card.getByTestId(`next-${name}`).getAttribute('data-action'),
      nextText: (await card.getByTestId('next-text').textContent()) ?? '',
      lastDrill: (await card.getByTestId('last-drill').textContent()) ?? '',
    };
  }

  /** A system's trend charts (size, backup time, compression, share that does not compress): each chart's words. */
  async trendLabels(name: string): Promise<Record<string, string>> {
    const card = this.system(name);
    const out: Record<string, string> = {};
    for (const k of ['size', 'time', 'ratio', 'share'])
      out[k] = (await card.getByTestId(`trend-${k}-${name}`).getAttribute('aria-label')) ?? '';
    return out;
  }

  /** The suspicious badge of a system's trend ('' when there is none). */
  async suspicious(name: string): Promise<string> {
    const badge = this.system(name).getByTestId(`suspicious-${name}`);
    return (await badge.count()) ? ((await badge.textContent()) ?? '') : '';
  }
}
