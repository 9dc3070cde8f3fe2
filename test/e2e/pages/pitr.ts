import { BasePage } from './base';

/** The PITR planner: a system, a time (typed in local time: the keyboard path), the plan, Start. */
export class PitrPage extends BasePage {
  async show(system: string): Promise<void> {
    await this.go('pitr');
    await this.page.getByTestId('pitr-system').selectOption(system);
    await this.page.getByTestId('pitr-window').first().waitFor({ timeout: 30_000 });
  }

  /** A datetime-local value in the browser's zone for an ISO time. */
  async chooseTime(iso: string): Promise<void> {
    const local = await this.page.evaluate((t) => {
      const d = new Date(t);
      const p = (n: number): string => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    }, iso);
    await this.page.getByTestId('pitr-time').fill(local);
    await this.page.getByTestId('pitr-target').waitFor({ timeout: 30_000 });
  }
}
