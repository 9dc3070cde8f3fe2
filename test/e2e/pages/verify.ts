import type { Locator } from 'playwright-core';
import type { VerifyLevel } from '../../../shared/domain/verify';
import { BasePage } from './base';

/** The Verify screen: sets at a level with the keychain's identities, a WAL archive, the running or last job. */
export class VerifyPage extends BasePage {
  async visit(): Promise<void> {
    await this.open('verify');
  }

  get job(): Locator {
    return this.page.getByTestId('job-verify');
  }

  get results(): Locator {
    return this.page.getByTestId('verify-results');
  }

  async keysOffered(): Promise<number> {
    await this.page.getByTestId('verify-keys').waitFor();
    return Number(await this.page.getByTestId('verify-keys').getAttribute('data-keys'));
  }

  async start(target: string, level: VerifyLevel): Promise<void> {
    await this.page.getByTestId('verify-target').fill(target);
    await this.page.getByTestId('verify-level').selectOption(level);
    await this.page.getByTestId('verify-start').click();
    await this.job.waitFor();
  }

  /** The id of the job the screen shows (from the engine's list: the screen shows its newest verify job). */
  async jobStatus(): Promise<string | null> {
    return this.job.getAttribute('data-status');
  }

  async waitStatus(status: 'running' | 'succeeded' | 'failed' | 'cancelled', timeout = 60_000): Promise<void> {
    await this.page.locator(`[data-testid="job-verify"][data-status="${status}"]`).waitFor({ timeout });
  }

  async cancel(): Promise<void> {
    await this.job.getByTestId('job-cancel').click();
  }

  async headline(): Promise<{ text: string; bad: boolean }> {
    const h = this.page.getByTestId('verify-headline');
    return { text: (await h.textContent()) ?? '', bad: ((await h.getAttribute('class')) ?? '').includes('bad') };
  }

  /** Check the WAL archive of a system (the form offers only systems whose WAL the catalog has seen). */
  async checkWal(system: string): Promise<void> {
    await this.page.getByTestId('wal-system').selectOption(system);
    await this.page.getByTestId('wal-start').click();
    await this.page.getByTestId('job-verify-wal').waitFor();
  }

  async walFinished(timeout = 60_000): Promise<{ text: string; bad: boolean }> {
    await this.page.locator('[data-testid="job-verify-wal"][data-status="succeeded"]').waitFor({ timeout });
    const h = this.page.getByTestId('wal-headline');
    return { text: (await h.textContent()) ?? '', bad: ((await h.getAttribute('class')) ?? '').includes('bad') };
  }

  async error(): Promise<{ code: string | null; text: string }> {
    const e = this.job.getByTestId('error');
    return { code: await e.getAttribute('data-code'), text: (await e.textContent()) ?? '' };
  }
}
