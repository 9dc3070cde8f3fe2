import type { Locator } from 'playwright-core';
import { BasePage } from './base';

/** The Jobs panel, reachable from every screen. */
export class JobsPanelPage extends BasePage {
  get toggle(): Locator {
    return this.page.getByTestId('jobs-toggle');
  }

  get panel(): Locator {
    return this.page.getByTestId('jobs-panel');
  }

  async expand(): Promise<void> {
    if ((await this.toggle.getAttribute('aria-expanded')) !== 'true') await this.toggle.click();
    await this.panel.waitFor();
  }

  async close(): Promise<void> {
    if ((await this.toggle.getAttribute('aria-expanded')) === 'true') await this.page.getByTestId('jobs-close').click();
  }

  row(jobId: string): Locator {
    return this.page.locator(`[data-testid="jobs-row"][data-job-id="${jobId}"]`);
  }

  async state(jobId: string): Promise<string | null> {
    return this.row(jobId).getAttribute('data-state');
  }

  async headline(jobId: string): Promise<string> {
    return (await this.row(jobId).getByTestId('jobs-headline').textContent()) ?? '';
  }

  async openJob(jobId: string): Promise<void> {
    await this.row(jobId).getByTestId('jobs-open').click();
  }
}
