import { BasePage } from './base';

/** A run's walk-through: the current step, its answer form, skip, the summary when it ends. */
export class WalkthroughPage extends BasePage {
  async waitForStep(step: string, timeout = 60_000): Promise<void> {
    await this.page
      .locator(`[data-testid="current-step"][data-step="${step}"] [data-testid="need-form"]`)
      .waitFor({ timeout });
  }

  async status(): Promise<string | null> {
    return this.page.getByTestId('walkthrough').getAttribute('data-status');
  }

  async waitForStatus(status: string, timeout = 60_000): Promise<void> {
    await this.page.locator(`[data-testid="walkthrough"][data-status="${status}"]`).waitFor({ timeout });
  }

  /** Keyboard only: Space on each checklist box. */
  async tick(...items: number[]): Promise<void> {
    for (const i of items) {
      const box = this.page.getByTestId(`tick-${i}`);
      await box.focus();
      await this.page.keyboard.press('Space');
      for (let k = 0; k < 100 && !(await box.isChecked()); k++) await this.page.waitForTimeout(50);
    }
  }

  async ticked(): Promise<boolean[]> {
    const boxes = this.page.locator('[data-testid^="tick-"]');
    const out: boolean[] = [];
    for (let i = 0; i < (await boxes.count()); i++) out.push(await boxes.nth(i).isChecked());
    return out;
  }

  async typeInto(testid: string, text: string): Promise<void> {
    await this.page.getByTestId(testid).focus();
    await this.page.keyboard.type(text);
  }

  async complete(): Promise<void> {
    await this.page.getByTestId('complete-step').focus();
    await this.page.keyboard.press('Enter');
  }

  async skip(reason: string, secondPerson: string | null): Promise<void> {
    await this.page.getByTestId('skip').click();
    await this.page.getByTestId('skip-reason').fill(reason);
    if (secondPerson !== null) await this.page.getByTestId('skip-second-person').fill(secondPerson);
    await this.page.getByTestId('skip-confirm').click();
  }
}
