import { BasePage } from './base';

/** The Runbooks screen: the library, the start form (pre-filled from elsewhere), the blank checklist. */
export class RunbooksPage extends BasePage {
  async show(): Promise<void> {
    await this.go('runbooks');
    await this.page.getByTestId('library').waitFor();
  }

  async fill(input: string, value: string): Promise<void> {
    const field = this.page.getByTestId(`input-${input}`);
    await field.focus();
    await field.fill(value);
  }

  async start(): Promise<void> {
    await this.page.getByTestId('start-run').focus();
    await this.page.keyboard.press('Enter');
    await this.page.getByTestId('walkthrough').waitFor({ timeout: 20_000 });
  }

  /** Start with the keyboard when the engine refuses: resolves with the error's text (the walk-through never opens). */
  async startRefused(): Promise<string> {
    await this.page.getByTestId('start-run').focus();
    await this.page.keyboard.press('Enter');
    await this.page.getByTestId('start-error').waitFor({ timeout: 20_000 });
    return (await this.page.getByTestId('start-error').textContent()) ?? '';
  }

  async printChecklist(runbook: string): Promise<void> {
    await this.page.getByTestId(`checklist-${runbook}`).click();
    await this.page.getByTestId('checklist-frame').waitFor();
  }
}
