import { BasePage } from './base';

/** Settings: per-system tier and validations, maintenance (journals, rebuild), About. */
export class SettingsPage extends BasePage {
  async show(): Promise<void> {
    await this.open('settings');
    await this.testId('about').waitFor();
  }

  async verifyJournals(): Promise<{ heading: string; rows: Array<{ ok: boolean; text: string }> }> {
    await this.testId('journal-verify').click();
    await this.testId('journal-result').waitFor();
    const rows: Array<{ ok: boolean; text: string }> = [];
    const found = this.page.locator('[data-testid="journal-row"]');
    for (let i = 0; i < (await found.count()); i++) {
      rows.push({ ok: (await found.nth(i).getAttribute('data-ok')) === 'true', text: await found.nth(i).innerText() });
    }
    return { heading: (await this.page.locator('[data-testid="journal-result"] h4').textContent()) ?? '', rows };
  }

  async setSystem(system: string, tier: string, validation: { sql: string; expect: string } | null): Promise<string> {
    await this.testId('system-pick').selectOption(system);
    await this.testId('system-tier').selectOption(tier);
    if (validation) {
      await this.testId('validation-add').click();
      const row = this.page.locator('[data-testid="validation-row"]').last();
      await row.getByRole('textbox').first().fill(validation.sql);
      await row.getByRole('textbox').nth(1).fill(validation.expect);
    }
    await this.testId('system-save').click();
    await this.testId('system-saved').waitFor();
    return (await this.testId('system-saved').textContent()) ?? '';
  }
}
