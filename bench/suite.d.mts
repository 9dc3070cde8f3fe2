/** Types of bench/suite.mjs for the tests. */
export interface SuitePart {
  name: string;
  minutes: number;
}
export const SUITE_BUDGET_MIN: number;
export const PART_SHARES_MIN: Record<string, number>;
export function budgetCheck(
  parts: SuitePart[],
  totalMin: number,
  budgetMin?: number,
  shares?: Record<string, number>,
): { over: boolean; overParts: Array<SuitePart & { share: number }>; verdict: string };
export function suiteSection(o: {
  parts: SuitePart[];
  totalMin: number;
  startedAt: Date;
  load: { start: number[]; end: number[] };
  cpus: number;
  budgetMin?: number;
  shares?: Record<string, number>;
}): string;
