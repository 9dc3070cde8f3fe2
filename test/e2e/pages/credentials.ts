import type { Locator } from 'playwright-core';
import { BasePage } from './base';

/** The Credentials screen: keychain entries by reference, keys made here, escrow exports, pinned keys. */
export class CredentialsPage extends BasePage {
  async visit(): Promise<void> {
    await this.open('credentials');
  }

  row(account: string): Locator {
    return this.page.locator(`[data-testid="cred-row"][data-account="${account}"]`);
  }

  async saveAgeIdentity(name: string, identityFileText: string): Promise<void> {
    await this.page.getByTestId('cred-kind').selectOption('age');
    await this.page.getByTestId('cred-id').fill(name);
    await this.page.getByTestId('cred-secret').fill(identityFileText);
    await this.page.getByTestId('cred-save').click();
    await this.row(`age:${name}`).waitFor();
  }

  async recipientOf(account: string): Promise<string> {
    return ((await this.row(account).getByTestId('cred-recipient').textContent()) ?? '').trim();
  }

  async createAgeIdentity(name: string): Promise<string> {
    await this.page.getByTestId('age-new-name').fill(name);
    await this.page.getByTestId('age-new-create').click();
    await this.page.getByTestId('age-new-result').waitFor();
    return ((await this.page.getByTestId('age-new-recipient').textContent()) ?? '').trim();
  }

  /** Export from the result of a key just created (its own export form). */
  async exportCreated(kind: 'age' | 'signing', path: string): Promise<string> {
    const scope = this.page.getByTestId(kind === 'age' ? 'age-new-result' : 'signing-new-result');
    await scope.getByTestId('key-export-path').fill(path);
    await scope.getByTestId('key-export-start').click();
    await scope.getByTestId('key-export-done').waitFor();
    return (await scope.getByTestId('key-export-done').textContent()) ?? '';
  }

  async createSigningKey(name: string): Promise<string> {
    await this.page.getByTestId('signing-new-name').fill(name);
    await this.page.getByTestId('signing-new-create').click();
    await this.page.getByTestId('signing-new-result').waitFor();
    return ((await this.page.getByTestId('signing-new-keyid').textContent()) ?? '').trim();
  }

  pinned(): Locator {
    return this.page.getByTestId('pinned-key');
  }

  /** Press Unpin on a pinned key; the confirmation appears (returns its text) and nothing is unpinned yet. */
  async askUnpin(index: number): Promise<string> {
    await this.pinned().nth(index).getByTestId('unpin').click();
    const confirm = this.page.getByTestId('unpin-confirm');
    await confirm.waitFor();
    return (await confirm.textContent()) ?? '';
  }

  async confirmUnpin(): Promise<void> {
    await this.page.getByTestId('unpin-yes').click();
  }
}
