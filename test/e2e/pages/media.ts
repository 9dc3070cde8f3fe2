import type { Locator } from 'playwright-core';
import { BasePage } from './base';

/** The Media screen: scan, remove, initialise, edit S3, retention. */
export class MediaPage extends BasePage {
  async show(): Promise<void> {
    await this.open('media');
    await this.testId('medium-location').waitFor();
  }

  /** Type a location and press Scan; resolves when the job settled (or an error showed beside the field). */
  /** The settled scan job that is not the one shown before (a new scan replaces the old job on screen). */
  private async settled(before: string | null): Promise<'succeeded' | 'failed' | 'refused'> {
    const job = `[data-testid="scan-job"]${before ? `:not([data-job-id="${before}"])` : ''}`;
    const done = this.page.locator(
      `${job} [data-status="succeeded"], ${job} [data-status="failed"], [data-testid="location-error"]`,
    );
    await done.first().waitFor({ timeout: 30_000 });
    if (await this.testId('location-error').count()) return 'refused';
    return (await this.page.locator(`${job} [data-testid="job-scan"]`).getAttribute('data-status')) === 'succeeded'
      ? 'succeeded'
      : 'failed';
  }

  private async currentJob(): Promise<string | null> {
    return (await this.testId('scan-job').count()) ? this.testId('scan-job').getAttribute('data-job-id') : null;
  }

  /** Type a location and press Scan; resolves when the new job settled (or an error showed beside the field). */
  async scan(location: string): Promise<'succeeded' | 'failed' | 'refused'> {
    const before = await this.currentJob();
    await this.testId('medium-location').fill(location);
    await this.testId('scan').click();
    return this.settled(before);
  }

  /** Wait for a scan started by another control (Save and scan, Initialise) to settle. */
  async scanStartedBy(click: () => Promise<void>): Promise<'succeeded' | 'failed' | 'refused'> {
    const before = await this.currentJob();
    await click();
    return this.settled(before);
  }

  row(name: string): Locator {
    return this.page.locator(`[data-testid="medium-row"][data-medium="${name}"]`);
  }

  async names(): Promise<string[]> {
    const rows = this.page.locator('[data-testid="medium-row"]');
    const out: string[] = [];
    for (let i = 0; i < (await rows.count()); i++) out.push((await rows.nth(i).getAttribute('data-medium')) ?? '');
    return out;
  }

  async rescan(name: string): Promise<'succeeded' | 'failed' | 'refused'> {
    return this.scanStartedBy(() =>
      this.row(name)
        .getByRole('button', { name: `Rescan ${name}` })
        .click(),
    );
  }

  /** Opens the confirmation only (the state to check with axe); confirmRemove finishes it. */
  async askRemove(name: string): Promise<Locator> {
    await this.testId(`remove-${name}`).click();
    const panel = this.testId(`remove-${name}-confirm`);
    await panel.waitFor();
    return panel;
  }

  async confirmRemove(name: string): Promise<string> {
    await this.testId(`remove-${name}-yes`).click();
    await this.testId('medium-removed').waitFor();
    return (await this.testId('medium-removed').textContent()) ?? '';
  }

  async editS3(name: string): Promise<void> {
    await this.row(name)
      .getByRole('button', { name: `Edit the settings and keys of ${name}` })
      .click();
    await this.page.locator('[data-testid="s3-form"] h2', { hasText: 'Edit ' }).waitFor();
  }

  async retention(name: string, keepLast: number): Promise<void> {
    await this.row(name)
      .getByRole('button', { name: `Retention on ${name}` })
      .click();
    await this.testId('prune').waitFor();
    for (const k of ['keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly'])
      await this.testId(`prune-${k}`).fill(k === 'keepLast' ? String(keepLast) : '0');
  }

  async prunePreview(): Promise<{ keep: number; remove: number }> {
    await this.testId('prune-preview').click();
    await this.page.locator('[data-testid="prune-result"][data-applied="false"]').waitFor({ timeout: 30_000 });
    return {
      keep: await this.page.locator('[data-testid="prune-row"][data-keep="true"]').count(),
      remove: await this.page.locator('[data-testid="prune-row"][data-keep="false"]').count(),
    };
  }

  async pruneApply(): Promise<string> {
    await this.testId('prune-apply').click();
    await this.testId('prune-apply-confirm').waitFor();
    await this.testId('prune-apply-yes').click();
    await this.page.locator('[data-testid="prune-result"][data-applied="true"]').waitFor({ timeout: 30_000 });
    return (await this.page.locator('[data-testid="prune-result"] h3').textContent()) ?? '';
  }
}
