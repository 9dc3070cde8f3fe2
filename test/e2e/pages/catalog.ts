import { BasePage } from './base';

/** The Catalog screen: sets, a set's detail and its actions, the file search. */
export class CatalogPage extends BasePage {
  async show(): Promise<void> {
    await this.go('catalog');
    await this.page.getByTestId('sets-table').waitFor();
  }

  /** Keyboard only: Tab into the grid's one focusable row, arrows to the set, Enter to open it. */
  async openSetByKeyboard(key: string): Promise<void> {
    const rows = this.page.getByTestId('set-row');
    await rows.first().waitFor();
    const n = await rows.count();
    const keys: string[] = [];
    for (let i = 0; i < n; i++) keys.push((await rows.nth(i).locator('[role="gridcell"]').first().textContent()) ?? '');
    const at = keys.indexOf(key);
    if (at < 0) throw new Error(`no row ${key} among ${n}`);
    await rows.nth(0).focus();
    for (let i = 0; i < at; i++) await this.page.keyboard.press('ArrowDown');
    await this.page.keyboard.press('Enter');
    await this.page.getByTestId('set-detail').waitFor();
  }

  /** Keyboard only: type a pattern, Enter, then activate "Restore this file/folder" on the hit with Enter. */
  async findAndRestore(pattern: string, path: string, fromSystem: string): Promise<void> {
    await this.page.getByTestId('find-pattern').focus();
    await this.page.keyboard.type(pattern);
    await this.page.keyboard.press('Enter');
    await this.page.getByTestId('find-count').waitFor();
    const hit = this.page
      .getByTestId('find-hit')
      .filter({ hasText: path })
      .filter({ hasText: ` — ${fromSystem}/` })
      .first();
    await hit.getByTestId('restore-hit').focus();
    await this.page.keyboard.press('Enter');
    await this.page.getByTestId('start-form').waitFor();
  }

  /** The Catalog's system view: the system chosen in the filter, its trend card shown. */
  async showSystem(system: string): Promise<void> {
    await this.page.getByTestId('filter-system').selectOption(system);
    await this.page.getByTestId(`trend-${system}`).waitFor();
  }

  /** The rows of the sets table marked suspicious: their keys. */
  async suspiciousRows(): Promise<string[]> {
    const rows = this.page.getByTestId('set-row').filter({ has: this.page.getByTestId('suspicious-badge') });
    const keys: string[] = [];
    for (let i = 0; i < (await rows.count()); i++)
      keys.push((await rows.nth(i).locator('[role="gridcell"]').first().textContent()) ?? '');
    return keys;
  }
}
